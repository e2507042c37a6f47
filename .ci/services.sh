#!/usr/bin/env bash
# Make PostgreSQL and Redis available on 127.0.0.1 for the test suite:
# use them if they run, start them if installed, apt-get install them if missing.
# Writes .ci/test-env with the URLs; the suite FAILS (never skips) if they are unreachable.
set -euo pipefail
cd "$(dirname "$0")/.."

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { for _ in $(seq 1 60); do up "$1" && return 0; sleep 0.5; done; return 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

if ! up 5432; then
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "PostgreSQL not installed: installing"; apt_install postgresql
  fi
  if command -v pg_ctlcluster >/dev/null && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    ver=$(ls /etc/postgresql | sort -n | tail -1)
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  fi
  if ! wait_for 5432; then
    # No cluster: make a private one with trust auth.
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    data=/tmp/hq-ci-pg
    rm -rf "$data"; mkdir -p "$data"; chown postgres "$data" 2>/dev/null || true
    su postgres -c "$pgbin/initdb -D $data -A trust -U postgres" >/dev/null
    su postgres -c "$pgbin/pg_ctl -D $data -o '-k /tmp -h 127.0.0.1 -p 5432' -l $data/log start" >/dev/null
    wait_for 5432
  fi
fi
if ! up 6379; then
  command -v redis-server >/dev/null || { echo "Redis not installed: installing"; apt_install redis-server; }
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  wait_for 6379
fi
up 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
up 6379 || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }

cat > .ci/test-env <<ENV
export HQ_TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
export HQ_TEST_REDIS_URL=redis://127.0.0.1:6379/0
export HQ_REQUIRE_SERVICES=1
ENV
echo "services: PostgreSQL 127.0.0.1:5432, Redis 127.0.0.1:6379"
