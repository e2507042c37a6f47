# The two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install bench-linking bench-realtime bench-graphql schema clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]' --config-settings editable_mode=compat
	touch $(STAMP)

install: $(STAMP)

## Run the service with demo data on SQLite and the in-process broker: http://127.0.0.1:8000/graphql
demo: $(STAMP)
	$(BIN)/hq demo

## Run the whole test suite (PostgreSQL and Redis are started or installed if missing)
test: $(STAMP)
	bash .ci/services.sh
	. ./.ci/test-env && $(BIN)/python -m pytest -q -p no:cacheprovider

bench-linking: $(STAMP)
	$(BIN)/python -m bench.linking

bench-realtime: $(STAMP)
	$(BIN)/python -m bench.realtime

bench-graphql: $(STAMP)
	@command -v wrk >/dev/null || apt-get install -y wrk  # the load generator (C)
	$(BIN)/python -m bench.graphql

schema: $(STAMP)
	$(BIN)/hq schema export

clean:
	rm -rf .demo $(VENV)
