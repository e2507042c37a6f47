"""The multi-instance check (issue 8), all on 127.0.0.1 without containers.

Real PostgreSQL and Redis, two `hq serve` processes on different ports, a balancer in
front (nginx when installed, else deploy/smoke/balancer.py), and the regional client
`hq agent` connected through the balancer. It shows that:
- the agent gets tasks issued through either instance (one of them is the other instance);
- killing one instance drops only its clients, which reconnect through the balancer to the
  survivor and miss nothing;
- an import through one instance is visible on the other at once;
- `hq db upgrade` run while both instances serve does not break them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from tests.conftest import PEPPER, need_redis
from tests.helpers import case, jsonl
from tests.tasking.conftest import ISSUE, free_port, seed, wait_until

REPO = Path(__file__).resolve().parents[2]
HQ = [sys.executable, "-m", "hq.cli"]

NEXT_MIGRATION = '''"""A next release's expand-only migration (test fixture)."""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("next_release_probe", sa.Column("id", sa.Integer(), primary_key=True))
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("next_release_note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("next_release_note")
    op.drop_table("next_release_probe")
'''

UPGRADE_WITH = """
import os
from alembic import command
from hq.db import alembic_config
cfg = alembic_config(os.environ["HQ_DATABASE_URL"])
cfg.set_main_option("script_location", {scripts!r})
command.upgrade(cfg, "head")
"""


class Stack:
    def __init__(self, db_url: str, redis_url: str, tmp: Path) -> None:
        self.env = {**os.environ, "HQ_DATABASE_URL": db_url, "HQ_REDIS_URL": redis_url,
                    "HQ_TOKEN_PEPPER": PEPPER, "HQ_REDIS_PREFIX": f"smoke-{uuid.uuid4().hex[:8]}",
                    "HQ_WS_HEARTBEAT_INTERVAL": "1", "HQ_WS_HEARTBEAT_TIMEOUT": "2", "HQ_LOG_LEVEL": "WARNING"}
        self.tmp = tmp
        self.ports = [free_port(), free_port()]
        self.apps: dict[int, subprocess.Popen[bytes]] = {}
        self.lb_port = free_port()
        self.lb: subprocess.Popen[bytes] | None = None
        self.balancer = "nginx" if shutil.which("nginx") else "tcp"

    def start_app(self, port: int) -> None:
        log = (self.tmp / f"app-{port}.log").open("ab")
        self.apps[port] = subprocess.Popen(HQ + ["serve", "--port", str(port)], env=self.env, stdout=log,
                                           stderr=subprocess.STDOUT)

    def start_balancer(self) -> None:
        if self.balancer == "nginx":
            prefix = self.tmp / "nginx"
            prefix.mkdir(exist_ok=True)
            conf = (REPO / "deploy" / "smoke" / "nginx.conf.template").read_text().format(
                prefix=prefix, port_a=self.ports[0], port_b=self.ports[1], listen=self.lb_port)
            (prefix / "nginx.conf").write_text(conf)
            self.lb = subprocess.Popen(["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                                        "-g", "daemon off;"], stderr=subprocess.DEVNULL)
        else:
            self.lb = subprocess.Popen([sys.executable, str(REPO / "deploy" / "smoke" / "balancer.py"),
                                        str(self.lb_port), *map(str, self.ports)])

    async def ready(self, port: int) -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as c:
                return (await c.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    async def gql(self, port: int, query: str, token: str, variables: dict | None = None) -> dict:
        async with httpx.AsyncClient(timeout=30) as c:
            r = await c.post(f"http://127.0.0.1:{port}/graphql", json={"query": query, "variables": variables or {}},
                             headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert "errors" not in body, body
        return body["data"]

    async def issue(self, port: int, token: str, text: str) -> int:
        data = await self.gql(port, ISSUE, token, {"input": {
            "kind": "find_and_bring", "targetUnits": ["kz-23-k"], "text": text,
            "caseRegistrationNumber": "221561030000457"}})
        return int(data["issueTask"][0]["id"])

    def stop(self) -> None:
        for proc in [*self.apps.values(), self.lb]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def received(path: Path) -> list[int]:
    if not path.exists():
        return []
    ids = []
    for line in path.read_text().splitlines():
        event = json.loads(line)
        if event.get("kind") == "task_issued":
            ids.append(int(event["task"]["id"]))
    return ids


async def test_two_instances_behind_a_balancer(pg_url: str, tmp_path: Path) -> None:
    redis_url = need_redis()
    tokens = await seed(pg_url)
    stack = Stack(pg_url, redis_url, tmp_path)
    agent: subprocess.Popen[bytes] | None = None
    try:
        for port in stack.ports:
            stack.start_app(port)
        for port in stack.ports:
            await wait_until(lambda p=port: stack.ready(p), 60, f"instance on {port}")
        stack.start_balancer()
        await wait_until(lambda: stack.ready(stack.lb_port), 30, f"{stack.balancer} balancer")

        events = tmp_path / "agent.jsonl"
        agent = subprocess.Popen(
            HQ + ["agent", "--url", f"ws://127.0.0.1:{stack.lb_port}/graphql", "--token", tokens.officer_atyrau,
                  "--unit", "kz-23-k", "--state-file", str(tmp_path / "agent-state.json"), "--jsonl", str(events),
                  "--silence", "5"],
            env=stack.env, stdout=(tmp_path / "agent.log").open("wb"), stderr=subprocess.STDOUT)

        # A task issued through each instance reaches the agent, whichever one it is on.
        first = [await stack.issue(stack.ports[0], tokens.analyst, "via A"),
                 await stack.issue(stack.ports[1], tokens.analyst, "via B")]
        await wait_until(lambda: set(first) <= set(received(events)), 30, "both tasks at the agent")

        # Kill one instance: its clients reconnect through the balancer and miss nothing.
        stack.apps[stack.ports[0]].send_signal(signal.SIGKILL)
        stack.apps[stack.ports[0]].wait()
        survivor = stack.ports[1]
        later = [await stack.issue(survivor, tokens.analyst, f"while A is down {i}") for i in range(3)]
        await wait_until(lambda: set(later) <= set(received(events)), 60, "tasks after the kill")
        got = received(events)
        assert len(got) == len(set(got)), "no task delivered twice"
        assert set(got) == set(first) | set(later)

        # Restart A; an import through A is visible through B at once.
        stack.start_app(stack.ports[0])
        await wait_until(lambda: stack.ready(stack.ports[0]), 60, "instance A again")
        lines = jsonl(case("750000000000001", "KZ-75", ("card", "4042 4386 0987 8024")))
        data = await stack.gql(stack.ports[0], "mutation($j:String!){importCases(jsonl:$j){imported}}",
                               tokens.analyst, {"j": lines})
        assert data["importCases"]["imported"] == 1
        seen = await stack.gql(stack.ports[1], "query{case(registrationNumber:\"750000000000001\"){regionCode}}",
                               tokens.analyst)
        assert seen["case"] == {"regionCode": "KZ-75"}

        # `hq db upgrade` while both serve: they keep serving and delivering. The code's
        # migrations are already applied, so also apply a NEXT, expand-only migration (a new
        # table and a nullable column, as the rolling-upgrade rules in deploy/README.md ask)
        # under the running instances, the way a newer release would.
        res = subprocess.run(HQ + ["db", "upgrade"], env=stack.env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        scripts = tmp_path / "migrations"
        shutil.copytree(REPO / "hq" / "migrations", scripts, ignore=shutil.ignore_patterns("__pycache__"))
        head = subprocess.run([sys.executable, "-c", "from hq.db import head_revision; print(head_revision('x'))"],
                              capture_output=True, text=True, check=True).stdout.strip()
        (scripts / "versions" / "9999_next_release.py").write_text(NEXT_MIGRATION.format(head=head))
        res = subprocess.run([sys.executable, "-c", UPGRADE_WITH.format(scripts=str(scripts))], env=stack.env,
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        more = jsonl(case("750000000000002", "KZ-75", ("card", "4042 4386 0987 8024")))
        data = await stack.gql(stack.ports[1], "mutation($j:String!){importCases(jsonl:$j){imported}}",
                               tokens.analyst, {"j": more})
        assert data["importCases"]["imported"] == 1
        for port in stack.ports:
            assert await stack.ready(port)
        last = await stack.issue(stack.ports[0], tokens.analyst, "after the upgrade")
        await wait_until(lambda: last in received(events), 30, "task after the upgrade")
        assert agent.poll() is None, "the agent kept running"
    finally:
        if agent is not None and agent.poll() is None:
            agent.terminate()
            agent.wait(10)
        stack.stop()
