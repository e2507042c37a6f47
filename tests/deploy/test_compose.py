"""Static checks of deploy/: Compose, nginx, Dockerfile, Kubernetes manifests, systemd units.

Docker, Kubernetes and systemd do not run on CI, so these tests parse the files and assert
what a multi-instance deployment must have: the services and their start order, health
checks on /readyz (readiness) and /healthz (liveness), websocket proxying on /graphql, no
secrets in committed files, a non-root multi-stage image. They also tie the files to the
code (commands, routes, settings, packages), so a rename on either side fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from hq.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SYSTEMD = DEPLOY / "systemd"

# Settings the deploy files may name before the code has them (another issue adds them).
PENDING_SETTINGS = {"HQ_CONSOLE_ENABLED"}
# Compose interpolation variables: read by `docker compose`, never by the app.
COMPOSE_VARIABLES = {"HQ_IMAGE_TAG", "HQ_HTTP_PORT"}

SECRET_NAME = re.compile(r"PASSWORD|PEPPER|SECRET|TOKEN", re.I)
URL_WITH_PASSWORD = re.compile(r"postgres(?:ql)?(?:\+\w+)?://[^:/@\s]+:[^@\s]+@")
PLACEHOLDER = "CHANGE-ME"


# --- helpers --------------------------------------------------------------------------------

def load_compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose["services"].items() if re.fullmatch(r"app\d+", name)}


def healthcheck_text(svc: dict[str, Any]) -> str:
    test = svc.get("healthcheck", {}).get("test", "")
    return " ".join(test) if isinstance(test, list) else str(test)


def env_of(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def env_files_of(svc: dict[str, Any]) -> list[str]:
    files = svc.get("env_file") or []
    if isinstance(files, str):
        files = [files]
    return [f["path"] if isinstance(f, dict) else f for f in files]


def read_env_file(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def strip_nginx_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def nginx_block(conf: str, header: str) -> str:
    """The body of the first `header { ... }` block (brace-matched)."""
    m = re.search(re.escape(header) + r"\s*\{", conf)
    assert m, f"no `{header} {{` block"
    depth, i = 1, m.end()
    while depth:
        depth += {"{": 1, "}": -1}.get(conf[i], 0)
        i += 1
    return conf[m.end(): i - 1]


def seconds(value: str) -> int:
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", value)
    assert m, value
    n, unit = int(m.group(1)), m.group(2) or "s"
    return {"ms": n // 1000, "s": n, "m": n * 60, "h": n * 3600}[unit]


def check_websocket_proxy(conf_path: Path) -> str:
    """Assert nginx proxies websocket upgrades on /graphql; return the upstream body."""
    conf = strip_nginx_comments(conf_path.read_text(encoding="utf-8"))
    mapping = nginx_block(conf, "map $http_upgrade $connection_upgrade")
    assert re.search(r"default\s+upgrade\s*;", mapping)
    assert re.search(r"''\s+''\s*;", mapping) or re.search(r"''\s+close\s*;", mapping)

    loc = nginx_block(conf, "location /graphql")
    assert re.search(r"proxy_http_version\s+1\.1\s*;", loc)
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade\s*;", loc)
    assert re.search(r"proxy_set_header\s+Connection\s+\$connection_upgrade\s*;", loc)
    timeout = re.search(r"proxy_read_timeout\s+(\S+)\s*;", loc)
    assert timeout and seconds(timeout.group(1)) >= 3600, "idle subscriptions need a long read timeout"
    send = re.search(r"proxy_send_timeout\s+(\S+)\s*;", loc)
    assert send and seconds(send.group(1)) >= 3600
    # proxy_set_header in a location replaces ALL inherited ones: Host/X-Forwarded-* must be repeated
    for header in ("Host", "X-Forwarded-For", "X-Forwarded-Proto"):
        assert re.search(rf"proxy_set_header\s+{header}\s", loc), header

    upstream_name = re.search(r"proxy_pass\s+http://([\w.-]+)\s*;", loc)
    assert upstream_name
    assert re.search(r"client_max_body_size\s+\d+[kmg]?\s*;", conf, re.I)
    assert re.search(r"proxy_connect_timeout\s+\S+\s*;", conf)
    return nginx_block(conf, f"upstream {upstream_name.group(1)}")


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """systemd unit: section -> [(key, value)], keeping repeated keys (ExecStart=...)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        assert current, f"{path.name}: key outside a section: {line}"
        key, _, value = line.partition("=")
        sections[current].append((key.strip(), value.strip()))
    return sections


def unit_values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def load_k8s() -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                assert "kind" in doc and "apiVersion" in doc, path.name
                doc["__file__"] = path.name
                by_kind.setdefault(doc["kind"], []).append(doc)
    return by_kind


def one(by_kind: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, Any]:
    docs = by_kind.get(kind, [])
    assert len(docs) == 1, f"expected exactly one {kind}, found {len(docs)}"
    return docs[0]


# --- Compose ----------------------------------------------------------------------------------

def test_compose_has_the_services_of_a_multi_instance_deployment() -> None:
    services = load_compose()["services"]
    for name in ("postgres", "redis", "migrate", "nginx"):
        assert name in services, name
    apps = app_services(load_compose())
    assert {"app1", "app2"} <= set(apps) and len(apps) >= 2


def test_postgres_and_redis_are_healthchecked_and_postgres_keeps_its_data() -> None:
    compose = load_compose()
    pg, redis = compose["services"]["postgres"], compose["services"]["redis"]
    assert str(pg["image"]).startswith("postgres:16")
    assert "pg_isready" in healthcheck_text(pg)
    volume = next(v for v in pg["volumes"] if v.endswith(":/var/lib/postgresql/data"))
    assert volume.split(":", 1)[0] in compose["volumes"], "PostgreSQL data must live in a named volume"
    assert str(redis["image"]).startswith("redis:7")
    assert "ping" in healthcheck_text(redis)


def test_migrate_is_one_shot_and_apps_wait_for_it() -> None:
    compose = load_compose()
    services = compose["services"]
    migrate = services["migrate"]
    command = " ".join(migrate["command"]) if isinstance(migrate["command"], list) else migrate["command"]
    assert re.search(r"hq db upgrade\s*&&\s*hq directory load", command)
    assert str(migrate.get("restart", "no")) == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"

    images = set()
    for name, svc in app_services(compose).items():
        deps = svc["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
        assert "/readyz" in healthcheck_text(svc), f"{name}: healthcheck must hit /readyz"
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile", name
        assert (DEPLOY / svc["build"]["context"]).resolve() == ROOT, f"{name}: build context is the repo root"
        assert env_of(svc).get("HQ_REDIS_URL", "").startswith("redis://"), f"{name}: instances need Redis fan-out"
        assert svc.get("restart") in {"always", "unless-stopped", "on-failure"}, name
        images.add(svc["image"])
    assert images == {migrate["image"]}, "migrate and every app instance run the same image"


def test_nginx_fronts_every_app_instance() -> None:
    compose = load_compose()
    nginx = compose["services"]["nginx"]
    assert nginx.get("ports"), "nginx publishes the only port"
    assert any(v.startswith("./nginx/nginx.conf:") for v in nginx["volumes"])
    apps = app_services(compose)
    for name in apps:
        assert nginx["depends_on"][name]["condition"] == "service_healthy", name
        assert "ports" not in apps[name], f"{name} must be reached through nginx only"
    for name in ("postgres", "redis"):
        assert "ports" not in compose["services"][name], f"{name} must not be published"


def test_compose_holds_no_plaintext_secrets() -> None:
    compose = load_compose()
    raw = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    assert not URL_WITH_PASSWORD.search(raw), "database URL with a password in compose.yaml"
    for key in ("HQ_TOKEN_PEPPER", "POSTGRES_PASSWORD", "HQ_DATABASE_URL"):
        assert not re.search(rf"{key}\s*[:=]", raw), f"{key} must come from an env file"
    for name, svc in compose["services"].items():
        for key, value in env_of(svc).items():
            assert not (SECRET_NAME.search(key) and value), f"{name}: {key} set inline"
    # the services that need secrets take them from git-ignored env files
    for name in ["postgres", "migrate", *app_services(compose)]:
        files = env_files_of(compose["services"][name])
        assert files, f"{name}: no env_file"
        for f in files:
            assert f.endswith(".env"), f
            assert (DEPLOY / (f + ".example")).is_file(), f"{f}.example must be committed"
    assert "hq.env" in env_files_of(compose["services"]["app1"])[0]


def test_env_files_are_ignored_and_examples_hold_placeholders() -> None:
    ignored = (DEPLOY / ".gitignore").read_text(encoding="utf-8").split()
    assert "hq.env" in ignored and "postgres.env" in ignored
    hq = read_env_file(DEPLOY / "hq.env.example")
    pg = read_env_file(DEPLOY / "postgres.env.example")
    assert PLACEHOLDER in hq["HQ_TOKEN_PEPPER"] and len(hq["HQ_TOKEN_PEPPER"]) >= 16
    assert PLACEHOLDER in pg["POSTGRES_PASSWORD"]
    assert hq["HQ_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert pg["POSTGRES_PASSWORD"] in hq["HQ_DATABASE_URL"], "the two templates must agree"
    assert hq["HQ_CONSOLE_ENABLED"] == "false"


def test_deploy_files_only_name_real_settings() -> None:
    known = {f"HQ_{name.upper()}" for name in Settings.model_fields} | PENDING_SETTINGS
    named: set[str] = set()
    named |= set(read_env_file(DEPLOY / "hq.env.example"))
    for svc in load_compose()["services"].values():
        named |= set(env_of(svc))
    by_kind = load_k8s()
    named |= set(one(by_kind, "ConfigMap")["data"]) | set(one(by_kind, "Secret")["stringData"])
    for unit in ("hq@.service", "hq-migrate.service"):
        for value in unit_values(parse_unit(SYSTEMD / unit), "Service", "Environment"):
            named.add(value.split("=", 1)[0])
    unknown = {n for n in named if n.startswith("HQ_")} - known - COMPOSE_VARIABLES
    assert not unknown, f"settings not in hq.settings.Settings: {sorted(unknown)}"


# --- nginx ------------------------------------------------------------------------------------

def test_nginx_balances_all_apps_and_proxies_websockets() -> None:
    upstream = check_websocket_proxy(DEPLOY / "nginx" / "nginx.conf")
    servers = re.findall(r"server\s+([\w.-]+):(\d+)", upstream)
    for name in app_services(load_compose()):
        assert (name, "8000") in servers, f"{name} missing from the nginx upstream"
    assert len(servers) >= 2


def test_systemd_nginx_site_proxies_websockets_to_the_instances() -> None:
    upstream = check_websocket_proxy(SYSTEMD / "nginx-hq.conf")
    ports = re.findall(r"server\s+127\.0\.0\.1:(\d+)", upstream)
    assert len(ports) >= 2 and len(set(ports)) == len(ports)


# --- Dockerfile -------------------------------------------------------------------------------

def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    logical: list[str] = []
    buf = ""
    for line in text.splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        buf += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            logical.append(buf.strip())
            buf = ""
    return [(ins.split(None, 1)[0].upper(), ins.split(None, 1)[1] if " " in ins else "") for ins in logical]


def test_dockerfile_is_multi_stage_slim_and_non_root() -> None:
    ins = dockerfile_instructions()
    args = dict(a.split("=", 1) for k, a in ins if k == "ARG" and "=" in a)
    froms = [a for k, a in ins if k == "FROM"]
    assert len(froms) >= 2, "multi-stage"
    base, _, stage = froms[-1].partition(" AS ")
    base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), base.strip())
    assert base == "python:3.11-slim"
    assert any(k == "COPY" and a.startswith("--from=") for k, a in ins), "final stage copies the built venv"
    assert any(k == "RUN" and re.search(r"pip install \.(\s|$)", a) for k, a in ins)

    final = ins[max(i for i, (k, _) in enumerate(ins) if k == "FROM"):]
    users = [a.strip() for k, a in final if k == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}, "final stage must run as non-root"
    assert any(k == "EXPOSE" and "8000" in a.split() for k, a in final)
    health = [a for k, a in final if k == "HEALTHCHECK"]
    assert health and re.search(r"/(readyz|healthz)", health[0])
    cmd = [a for k, a in final if k == "CMD"][-1]
    assert "hq" in cmd and "serve" in cmd and "0.0.0.0" in cmd


def test_dockerfile_has_no_secrets_and_copies_every_package() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert not URL_WITH_PASSWORD.search(text)
    for k, a in dockerfile_instructions():
        if k in {"ENV", "ARG"}:
            assert not SECRET_NAME.search(a), f"{k} {a}: secrets belong in the runtime environment"
            assert "DATABASE_URL" not in a
        if k in {"COPY", "ADD"}:
            assert ".env" not in a, f"{k} {a}"
    copied = {src.rstrip("/") for k, a in dockerfile_instructions() if k == "COPY" and not a.startswith("--from")
              for src in a.split()[:-1]}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in copied, f"package {pattern} is not copied into the image"
    assert {"pyproject.toml", pyproject["project"]["readme"]} <= copied
    for src in copied:
        assert (ROOT / src).exists(), src


def test_dockerignore_keeps_secrets_and_venv_out_without_hiding_sources() -> None:
    lines = [ln.strip() for ln in (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
             if ln.strip() and not ln.startswith("#")]
    for needed in ("**/.venv", "**/.git", "**/.env", "**/*.env"):
        assert needed in lines, needed
    for src in ("hq", "realtime", "regions", "pyproject.toml", "README.md"):
        assert not any(ln.rstrip("/") in {src, f"**/{src}", f"/{src}"} for ln in lines), src


# --- Kubernetes -------------------------------------------------------------------------------

def test_k8s_manifests_parse_and_cover_every_kind() -> None:
    by_kind = load_k8s()
    for kind in ("Deployment", "Service", "Ingress", "Job", "PodDisruptionBudget",
                 "HorizontalPodAutoscaler", "ConfigMap", "Secret"):
        assert by_kind.get(kind), f"no {kind} in deploy/k8s"


def pod_labels(deploy: dict[str, Any]) -> dict[str, str]:
    return deploy["spec"]["template"]["metadata"]["labels"]


def test_deployment_probes_resources_and_security() -> None:
    deploy = one(load_k8s(), "Deployment")
    spec = deploy["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        port = container[probe]["httpGet"]["port"]
        assert port in ports or port in ports.values()
    assert 8000 in ports.values()
    res = container["resources"]
    assert res["requests"]["cpu"] and res["requests"]["memory"] and res["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    csc = container["securityContext"]
    assert csc["allowPrivilegeEscalation"] is False and csc["readOnlyRootFilesystem"] is True
    assert "ALL" in csc["capabilities"]["drop"]
    refs = {("cm" if "configMapRef" in e else "secret"): (e.get("configMapRef") or e.get("secretRef"))["name"]
            for e in container["envFrom"]}
    by_kind = load_k8s()
    assert refs["cm"] == one(by_kind, "ConfigMap")["metadata"]["name"]
    assert refs["secret"] == one(by_kind, "Secret")["metadata"]["name"]
    assert "hq" in container.get("command", []) and "serve" in container.get("command", [])


def test_service_ingress_pdb_hpa_point_at_the_deployment() -> None:
    by_kind = load_k8s()
    deploy, svc = one(by_kind, "Deployment"), one(by_kind, "Service")
    labels = pod_labels(deploy)
    assert svc["spec"]["selector"].items() <= labels.items()
    port_names = {p["name"] for p in deploy["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert all(p["targetPort"] in port_names for p in svc["spec"]["ports"])

    ingress = one(by_kind, "Ingress")
    ann = ingress["metadata"]["annotations"]
    assert int(ann["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(ann["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    assert "nginx.ingress.kubernetes.io/proxy-body-size" in ann
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert any(p["path"] == "/graphql" for p in paths)
    assert all(p["backend"]["service"]["name"] == svc["metadata"]["name"] for p in paths)

    pdb = one(by_kind, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert "maxUnavailable" in pdb["spec"] or "minAvailable" in pdb["spec"]

    hpa = one(by_kind, "HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deploy["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] >= hpa["spec"]["minReplicas"]


def test_migration_job_runs_the_same_image_before_the_rollout() -> None:
    by_kind = load_k8s()
    job, deploy = one(by_kind, "Job"), one(by_kind, "Deployment")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    command = " ".join(container["command"])
    assert "hq db upgrade" in command
    assert pod["restartPolicy"] in {"Never", "OnFailure"}
    assert container["image"] == deploy["spec"]["template"]["spec"]["containers"][0]["image"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert job["spec"].get("parallelism", 1) == 1, "two migrations must never run at once"


def test_k8s_secret_is_an_example_and_config_holds_no_secret() -> None:
    by_kind = load_k8s()
    secret = one(by_kind, "Secret")
    assert secret["__file__"].endswith(".example.yaml")
    assert "data" not in secret
    for key, value in secret["stringData"].items():
        assert PLACEHOLDER in value, f"{key} must be a placeholder"
    config = one(by_kind, "ConfigMap")["data"]
    assert config["HQ_CONSOLE_ENABLED"] == "false"
    assert not [k for k in config if SECRET_NAME.search(k) or k == "HQ_DATABASE_URL"]
    for path in K8S.glob("*.yaml"):
        assert not URL_WITH_PASSWORD.search(path.read_text(encoding="utf-8").replace(PLACEHOLDER, "")) \
            or path.name == "secret.example.yaml", path.name


def test_kustomization_lists_existing_files_but_not_the_secret_example_or_job() -> None:
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    for res in kust["resources"]:
        assert (K8S / res).is_file(), res
    assert "secret.example.yaml" not in kust["resources"]
    assert "migrate-job.yaml" not in kust["resources"]


# --- systemd ----------------------------------------------------------------------------------

def test_systemd_instance_unit() -> None:
    unit = parse_unit(SYSTEMD / "hq@.service")
    svc = "Service"
    assert unit_values(unit, svc, "EnvironmentFile") == ["/etc/hq/hq.env"]
    assert unit_values(unit, svc, "Restart") == ["on-failure"]
    (execstart,) = unit_values(unit, svc, "ExecStart")
    assert re.search(r"/hq serve\b", execstart) and "%i" in execstart
    assert unit_values(unit, svc, "User") and unit_values(unit, svc, "User") != ["root"]
    assert unit_values(unit, svc, "NoNewPrivileges") == ["yes"]
    assert unit_values(unit, svc, "ProtectSystem") == ["strict"]
    assert unit_values(unit, svc, "ReadWritePaths")
    assert "hq-migrate.service" in " ".join(unit_values(unit, "Unit", "Requires"))
    assert "hq-migrate.service" in " ".join(unit_values(unit, "Unit", "After"))
    assert unit_values(unit, "Install", "WantedBy")


def test_systemd_migration_unit() -> None:
    unit = parse_unit(SYSTEMD / "hq-migrate.service")
    assert unit_values(unit, "Service", "Type") == ["oneshot"]
    assert unit_values(unit, "Service", "EnvironmentFile") == ["/etc/hq/hq.env"]
    commands = unit_values(unit, "Service", "ExecStart")
    assert any(c.endswith("hq db upgrade") for c in commands)
    assert unit_values(unit, "Service", "NoNewPrivileges") == ["yes"]


# --- the files match the code -------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["db", "upgrade"], ["directory", "load"], ["serve", "--host", "0.0.0.0"]])
def test_commands_used_by_deploy_exist(argv: list[str]) -> None:
    from hq.cli import build_parser

    args = build_parser().parse_args(argv)
    assert callable(args.func)


def test_probe_paths_exist_in_the_app() -> None:
    from hq.app import create_app
    from hq.settings import load_settings

    app = create_app(load_settings(), check_db_schema=False)
    paths = {getattr(r, "path", None) for r in app.routes}
    assert {"/healthz", "/readyz"} <= paths  # /graphql is covered by the API tests


def test_readme_covers_the_operating_questions() -> None:
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    headings = [ln.lower() for ln in text.splitlines() if ln.startswith("#")]
    for words in ("sizing", "postgresql settings", "redis", "backup", "rolling upgrade",
                  "console", "scale notes"):
        assert any(words in h for h in headings), f"README has no section on {words}"
    for needle in ("HQ_CONSOLE_ENABLED=false", "connected clients per process at p99 < 50 ms",
                   "bench/graphql", "pg_dump", "pg_restore", "recovery_target_time",
                   "read replica", "hash-partition", "Citus", "sharded pub/sub",
                   "synchronous_commit", "work_mem", "autovacuum", "max_connections"):
        assert needle.lower() in text.lower(), needle
