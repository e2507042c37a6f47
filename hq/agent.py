"""`hq agent`: the regional unit's side of live tasking.

It connects to HQ over graphql-transport-ws (the `websockets` library), follows
`taskFeed(unit, since)` from the cursor kept on disk, prints every event for the person on
duty, acknowledges new tasks over the same socket (which marks them `delivered`), and
optionally runs a command or appends a JSON line per event for the region's own system.

Never miss, never repeat: the cursor (last event id handled) and the acknowledgements not
yet confirmed are written atomically (temp file, fsync, rename) after each event, and
events at or below the cursor are ignored. A crash between printing an event and saving
it can show that one event again on restart (at-least-once at the very edge); nothing is
ever skipped, because the server replays everything after the saved cursor.

Dead connections: the server pings every few seconds; if nothing at all arrives for
`--silence` seconds the agent drops the connection and reconnects, with exponential
backoff (0.5 s doubling to 30 s, with jitter) while the server is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlparse, urlunparse

import websockets
from websockets.exceptions import ConnectionClosed, WebSocketException

SUBPROTOCOL = "graphql-transport-ws"
FEED_QUERY = """
subscription Feed($unit: String!, $since: Int!) {
  taskFeed(unit: $unit, since: $since) {
    id kind unit at change reason
    task {
      id batchId kind state senderUnit targetUnit escalationUnit caseRegistrationNumber
      multiEpisodeCaseId text priority deadline attachments refusalReason issuedAt escalated
      result { text linkedCase identifiers { kind value role } attachments }
    }
  }
}
"""
ACK_MUTATION = "mutation Ack($id: Int!) { acknowledgeTask(id: $id) { id state } }"
KIND_TEXT = {
    "find_and_bring": "find and bring in a person",
    "interview": "interview",
    "seize_device_or_sim": "seize a device or SIM card",
    "obtain_cctv": "obtain CCTV footage",
    "check_prior_crimes": "check a person against earlier crimes",
    "other": "other",
}
FATAL_CLOSE_CODES = {4401: "the token was refused", 4403: "forbidden"}


class AgentFatal(Exception):
    """Stop for good (bad token, forbidden unit): retrying would not help."""


class SilentServer(Exception):
    pass


# --- state on disk -----------------------------------------------------------------------------

@dataclass
class AgentState:
    unit: str
    cursor: int = 0
    pending_acks: list[int] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path, unit: str) -> "AgentState":
        if not path.exists():
            return cls(unit=unit)
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("unit") not in (None, unit):
            raise AgentFatal(f"{path} holds the cursor of unit {data.get('unit')}, not {unit}")
        return cls(unit=unit, cursor=int(data.get("cursor", 0)),
                   pending_acks=[int(i) for i in data.get("pending_acks", [])])

    def save(self, path: Path) -> None:
        """Atomic: a crash leaves either the old file or the new one, never half of one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"unit": self.unit, "cursor": self.cursor, "pending_acks": self.pending_acks})
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # make the rename itself durable
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)


# --- rendering -----------------------------------------------------------------------------------

def ws_url(url: str) -> str:
    """Accept http(s)://host:port[/graphql] or ws(s)://…; return the websocket endpoint."""
    p = urlparse(url if "://" in url else "http://" + url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(p.scheme)
    if scheme is None:
        raise AgentFatal(f"--url must be http(s):// or ws(s)://, got {url!r}")
    path = p.path if p.path not in ("", "/") else "/graphql"
    return urlunparse((scheme, p.netloc, path, "", p.query, ""))


def _when(value: str | None) -> str:
    if not value:
        return "-"
    t = dt.datetime.fromisoformat(value).astimezone()
    return t.strftime("%Y-%m-%d %H:%M")


def _left(deadline: str | None, now: dt.datetime | None = None) -> str:
    if not deadline:
        return ""
    now = now or dt.datetime.now(dt.timezone.utc)
    delta = dt.datetime.fromisoformat(deadline) - now
    secs = int(delta.total_seconds())
    sign, secs = ("overdue by ", -secs) if secs < 0 else ("in ", secs)
    d, rem = divmod(secs, 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    parts = ([f"{d}d"] if d else []) + ([f"{h}h"] if h or d else []) + [f"{m}m"]
    return f" ({sign}{' '.join(parts)})"


def render(ev: dict[str, Any], unit: str) -> str:
    """A few lines a duty officer can read at a glance."""
    t = ev["task"]
    subject = (f"case {t['caseRegistrationNumber']}" if t.get("caseRegistrationNumber")
               else f"multi-episode case {t.get('multiEpisodeCaseId')}")
    head = f"[{_when(ev.get('at'))}] "
    if ev["kind"] == "task_issued" and t["targetUnit"] == unit:
        lines = [
            head + f"NEW TASK #{t['id']}  priority {t['priority'].upper()}"
            + (f"  deadline {_when(t.get('deadline'))}{_left(t.get('deadline'))}" if t.get("deadline") else ""),
            f"  what:  {KIND_TEXT.get(t['kind'], t['kind'])}",
            f"  from:  {t['senderUnit']}    about: {subject}",
        ]
        lines += [f"  | {line}" for line in (t.get("text") or "").splitlines() or [""]]
        if t.get("attachments"):
            lines.append("  attachments (sha256): " + ", ".join(a[:16] + "…" for a in t["attachments"]))
        return "\n".join(lines)
    if ev["kind"] == "task_issued":
        return head + f"sent task #{t['id']} to {t['targetUnit']} ({KIND_TEXT.get(t['kind'], t['kind'])}, {subject})"
    if ev["kind"] == "task_escalated":
        why = "not delivered in time" if ev.get("reason") == "not_delivered" else "past its deadline"
        return head + f"ESCALATED task #{t['id']} ({t['senderUnit']} → {t['targetUnit']}): {why}, state {t['state']}"
    extra = f": {t['refusalReason']}" if t.get("refusalReason") else ""
    return head + f"task #{t['id']} ({t['senderUnit']} → {t['targetUnit']}) is now {t['state']}{extra}"


# --- the agent -----------------------------------------------------------------------------------

class Agent:
    def __init__(self, url: str, token: str, unit: str, state_path: Path, *,
                 exec_cmd: str | None = None, jsonl_path: Path | None = None, out: TextIO = sys.stdout,
                 silence: float = 45.0, max_backoff: float = 30.0, ack: bool = True) -> None:
        self.url = ws_url(url)
        self.token = token
        self.unit = unit
        self.state_path = state_path
        self.state = AgentState.load(state_path, unit)
        self.exec_cmd = exec_cmd
        self.jsonl_path = jsonl_path
        self.out = out
        self.silence = silence
        self.max_backoff = max_backoff
        self.ack = ack
        self.connected = asyncio.Event()

    def log(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    async def run(self, stop: asyncio.Event | None = None) -> int:
        """Connect, follow, reconnect with backoff; return an exit code when told to stop or on a fatal error."""
        stop = stop or asyncio.Event()
        backoff = 0.5
        while not stop.is_set():
            try:
                session = asyncio.create_task(self._session())
                stopper = asyncio.create_task(stop.wait())
                done, _ = await asyncio.wait({session, stopper}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if session not in done:
                    session.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await session
                    return 0
                session.result()
            except AgentFatal as exc:
                self.log(f"hq agent: {exc}")
                return 2
            except (OSError, WebSocketException, SilentServer, asyncio.TimeoutError, TimeoutError) as exc:
                self.log(f"hq agent: connection lost ({exc.__class__.__name__}: {exc}); retrying in ~{backoff:.1f}s")
            if self.connected.is_set():
                backoff = 0.5  # we were connected: start the backoff afresh
            self.connected.clear()
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff * (0.75 + random.random() / 2))
            backoff = min(self.max_backoff, backoff * 2)
        return 0

    async def _recv(self, ws: Any) -> dict[str, Any]:
        try:
            raw = await asyncio.wait_for(ws.recv(), self.silence)
        except (asyncio.TimeoutError, TimeoutError):
            raise SilentServer(f"nothing from the server for {self.silence:.0f}s") from None
        return json.loads(raw)

    async def _session(self) -> None:
        try:
            async with websockets.connect(self.url, subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                                          open_timeout=10, max_size=2**22) as ws:
                await ws.send(json.dumps({"type": "connection_init", "payload": {"token": self.token}}))
                msg = await self._recv(ws)
                if msg.get("type") != "connection_ack":
                    raise AgentFatal(f"server did not acknowledge the connection: {msg}")
                self.connected.set()
                self.log(f"hq agent: connected to {self.url} as unit {self.unit}, resuming after event {self.state.cursor}")
                for task_id in list(self.state.pending_acks):
                    await self._send_ack(ws, task_id)
                await ws.send(json.dumps({"id": "feed", "type": "subscribe", "payload": {
                    "query": FEED_QUERY, "variables": {"unit": self.unit, "since": self.state.cursor}}}))
                while True:
                    await self._handle(ws, await self._recv(ws))
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code in FATAL_CLOSE_CODES:
                raise AgentFatal(f"server closed the connection ({code}): {FATAL_CLOSE_CODES[code]}") from None
            raise

    async def _handle(self, ws: Any, msg: dict[str, Any]) -> None:
        kind, op = msg.get("type"), msg.get("id")
        if kind == "ping":
            await ws.send(json.dumps({"type": "pong"}))
        elif kind == "next" and op == "feed":
            payload = msg.get("payload") or {}
            if payload.get("errors"):
                raise AgentFatal(f"the feed was refused: {payload['errors'][0].get('message')}")
            await self._event(ws, payload["data"]["taskFeed"])
        elif kind == "error" and op == "feed":
            raise AgentFatal(f"the feed was refused: {msg.get('payload')}")
        elif kind == "complete" and op == "feed":
            raise SilentServer("the server ended the feed")
        elif kind == "next" and isinstance(op, str) and op.startswith("ack-"):
            task_id = int(op[4:])
            errors = (msg.get("payload") or {}).get("errors")
            codes = {(e.get("extensions") or {}).get("code") for e in errors or []}
            if not errors or codes & {"FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT"}:
                if task_id in self.state.pending_acks:
                    self.state.pending_acks.remove(task_id)
                    self.state.save(self.state_path)
            if errors:
                self.log(f"hq agent: acknowledging task #{task_id} failed: {errors[0].get('message')}")

    async def _send_ack(self, ws: Any, task_id: int) -> None:
        await ws.send(json.dumps({"id": f"ack-{task_id}", "type": "subscribe",
                                  "payload": {"query": ACK_MUTATION, "variables": {"id": task_id}}}))

    async def _event(self, ws: Any, ev: dict[str, Any]) -> None:
        if ev["id"] <= self.state.cursor:
            return  # seen before: never repeat
        print(render(ev, self.unit), file=self.out, flush=True)
        if self.jsonl_path is not None:
            with self.jsonl_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(ev, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
        if self.exec_cmd:
            await self._run_command(ev)
        t = ev["task"]
        needs_ack = (self.ack and ev["kind"] == "task_issued" and t["targetUnit"] == self.unit
                     and t["state"] == "issued")
        if needs_ack and t["id"] not in self.state.pending_acks:
            self.state.pending_acks.append(t["id"])
        self.state.cursor = ev["id"]
        self.state.save(self.state_path)
        if needs_ack:
            await self._send_ack(ws, t["id"])

    async def _run_command(self, ev: dict[str, Any]) -> None:
        """Run --exec with the event as JSON on stdin and HQ_* variables in the environment."""
        t = ev["task"]
        env = {**os.environ, "HQ_EVENT_ID": str(ev["id"]), "HQ_EVENT_KIND": ev["kind"],
               "HQ_TASK_ID": str(t["id"]), "HQ_TASK_STATE": t["state"], "HQ_TASK_KIND": t["kind"]}
        try:
            proc = await asyncio.create_subprocess_shell(self.exec_cmd or "", stdin=asyncio.subprocess.PIPE, env=env)
            await asyncio.wait_for(proc.communicate(json.dumps(ev, ensure_ascii=False).encode()), 120)
            if proc.returncode:
                self.log(f"hq agent: --exec exited with {proc.returncode} for event {ev['id']}")
        except (OSError, asyncio.TimeoutError, TimeoutError) as exc:
            self.log(f"hq agent: --exec failed for event {ev['id']}: {exc}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", required=True, help="HQ server, e.g. http://hq.example:8000 (or ws://…/graphql)")
    p.add_argument("--token", default=os.environ.get("HQ_AGENT_TOKEN"),
                   help="API token of a regional officer of the unit (or env HQ_AGENT_TOKEN)")
    p.add_argument("--unit", required=True, help="the unit whose tasks to follow, e.g. kz-23-k")
    p.add_argument("--state-file", help="where the cursor is kept (default ./hq-agent-<unit>.json)")
    p.add_argument("--exec", dest="exec_cmd", help="shell command run per event, event JSON on stdin")
    p.add_argument("--jsonl", help="append each event as one JSON line to this file")
    p.add_argument("--silence", type=float, default=45.0, help="seconds without any message before reconnecting")
    p.add_argument("--no-ack", action="store_true", help="print only; do not acknowledge delivery")


def main(args: argparse.Namespace) -> int:
    if not args.token:
        print("error: --token (or HQ_AGENT_TOKEN) is required", file=sys.stderr)
        return 2
    state = Path(args.state_file or f"hq-agent-{args.unit}.json")
    try:
        agent = Agent(args.url, args.token, args.unit, state, exec_cmd=args.exec_cmd,
                      jsonl_path=Path(args.jsonl) if args.jsonl else None, silence=args.silence,
                      ack=not args.no_ack)
    except AgentFatal as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(agent.run())
    except KeyboardInterrupt:
        return 0
