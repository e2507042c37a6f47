"""Answers from a liaison: validated per kind, saved as immutable parts, fed into linking.

Why parts: a bank often has the holder at once and the statement days later. Each save is
validated in full before anything is written (a bad value is refused with the path of the
field, e.g. `answer.holders[0].iin`, and earlier parts stay as they were), then stored as
a new hashed part; the answer is the sequence of parts. `complete=true` closes it.

What enters linking (suspect-side mentions on the request's case, through `hq.ingest`):
the holder's IIN, phone and other accounts, the counterparty accounts of OUTGOING
movements (where the money went on) and login IPs. Not incoming counterparties (those
are usually victims) and not the other parties of billed calls (victims again).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hq.auth import Caller
from hq.case_record import MentionRecord
from hq.identifiers import IdentifierError, Normalised, normalise
from hq.liaison import access, deadlines, feed
from hq.liaison.integrity import record, sha256_of
from hq.liaison.models import OPEN_STATES, AnswerPart, LiaisonRequest, RequestState
from hq.liaison.requests import LiaisonError, load_for_update
from hq.tasking.events import Appended
from hq.tasking.linkback import add_mentions
from regions import Directory

SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_ROWS = 5000
ACCOUNT_KINDS = ("card", "iban", "account", "ewallet", "crypto_wallet", "crypto_exchange_account")

SECTIONS: dict[str, tuple[str, ...]] = {
    "subscriber_identification": ("holders", "locations"),
    "call_billing": ("holders", "calls", "locations"),
    "account_holder": ("holders", "movements"),
    "cashout_cctv": ("cashouts", "holders"),
    "ewallet_logs": ("holders", "movements", "ips"),
    "hold_funds": ("hold",),
    "ip_attribution": ("holders", "ips", "locations"),
}
ALL_SECTIONS = ("holders", "movements", "locations", "calls", "ips", "cashouts", "hold")


def _norm(kind: str, value: Any, where: str, pepper: bytes) -> Normalised:
    if not isinstance(value, str) or not value.strip():
        raise LiaisonError(where, "is required")
    try:
        return normalise(kind, value, pepper=pepper)
    except IdentifierError as exc:
        raise LiaisonError(where, str(exc)) from None


def _ident(n: Normalised) -> dict[str, str]:
    return {"kind": n.kind, "key": n.key, "display": n.display}


def _account(raw: Any, where: str, pepper: bytes) -> Normalised:
    if not isinstance(raw, dict):
        raise LiaisonError(where, "must be {kind, value}")
    kind = raw.get("kind")
    if kind not in ACCOUNT_KINDS:
        raise LiaisonError(f"{where}.kind", f"must be one of {', '.join(ACCOUNT_KINDS)}")
    return _norm(kind, raw.get("value"), f"{where}.value", pepper)


def _str(raw: dict[str, Any], name: str, where: str, limit: int = 500) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise LiaisonError(f"{where}.{name}", "must be text")
    value = value.strip()
    if len(value) > limit:
        raise LiaisonError(f"{where}.{name}", f"is longer than {limit} characters")
    return value or None


def _when(raw: dict[str, Any], name: str, where: str, required: bool = False) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise LiaisonError(f"{where}.{name}", "is required")
        return None
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise LiaisonError(f"{where}.{name}", "must be a date-time")


def _amount(raw: dict[str, Any], name: str, where: str) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LiaisonError(f"{where}.{name}", "must be a whole, non-negative number of tenge")
    return value


class _Collector:
    """Validates one answer; collects the normalised content and the suspect-side mentions."""

    def __init__(self, pepper: bytes) -> None:
        self.pepper = pepper
        self.mentions: list[Normalised] = []

    def holders(self, rows: list[dict[str, Any]], w: str) -> list[dict[str, Any]]:
        out = []
        for i, h in enumerate(rows):
            where = f"{w}[{i}]"
            item: dict[str, Any] = {"name": _str(h, "name", where, 200), "address": _str(h, "address", where),
                                    "birth_date": _when(h, "birth_date", where), "iin": None, "phone": None,
                                    "accounts": []}
            if h.get("iin") is not None:
                n = _norm("iin", h["iin"], f"{where}.iin", self.pepper)
                item["iin"] = n.key
                self.mentions.append(n)
            if h.get("phone") is not None:
                n = _norm("phone", h["phone"], f"{where}.phone", self.pepper)
                item["phone"] = _ident(n)
                self.mentions.append(n)
            for j, acc in enumerate(h.get("accounts") or []):
                n = _account(acc, f"{where}.accounts[{j}]", self.pepper)
                item["accounts"].append(_ident(n))
                self.mentions.append(n)
            if not any((item["name"], item["iin"], item["phone"], item["accounts"])):
                raise LiaisonError(where, "give at least the holder's name, IIN, phone or an account")
            out.append(item)
        return out

    def movements(self, rows: list[dict[str, Any]], w: str) -> list[dict[str, Any]]:
        out = []
        for i, m in enumerate(rows):
            where = f"{w}[{i}]"
            direction = m.get("direction")
            if direction not in ("in", "out"):
                raise LiaisonError(f"{where}.direction", "must be in or out")
            amount = _amount(m, "amount_kzt", where)
            if amount is None:
                raise LiaisonError(f"{where}.amount_kzt", "is required")
            item: dict[str, Any] = {"at": _when(m, "at", where, required=True), "direction": direction,
                                    "amount_kzt": amount, "counterparty": None,
                                    "counterparty_name": _str(m, "counterparty_name", where, 200),
                                    "description": _str(m, "description", where)}
            if m.get("counterparty") is not None:
                n = _account(m["counterparty"], f"{where}.counterparty", self.pepper)
                item["counterparty"] = _ident(n)
                if direction == "out":
                    self.mentions.append(n)
            out.append(item)
        return out

    def locations(self, rows: list[dict[str, Any]], w: str) -> list[dict[str, Any]]:
        out = []
        for i, loc in enumerate(rows):
            where = f"{w}[{i}]"
            item = {"at": _when(loc, "at", where), "address": _str(loc, "address", where),
                    "cell_id": _str(loc, "cell_id", where, 64)}
            if not item["address"] and not item["cell_id"]:
                raise LiaisonError(where, "give an address or a cell id")
            out.append(item)
        return out

    def calls(self, rows: list[dict[str, Any]], w: str) -> list[dict[str, Any]]:
        out = []
        for i, c in enumerate(rows):
            where = f"{w}[{i}]"
            if c.get("direction") not in ("in", "out"):
                raise LiaisonError(f"{where}.direction", "must be in or out")
            other = _norm("phone", c.get("other_phone"), f"{where}.other_phone", self.pepper)
            secs = c.get("duration_seconds")
            if secs is not None and (not isinstance(secs, int) or secs < 0):
                raise LiaisonError(f"{where}.duration_seconds", "must be a non-negative whole number")
            out.append({"at": _when(c, "at", where, required=True), "direction": c["direction"],
                        "other_phone": _ident(other), "duration_seconds": secs})
        return out

    def ips(self, rows: list[dict[str, Any]], w: str) -> list[dict[str, Any]]:
        out = []
        for i, row in enumerate(rows):
            where = f"{w}[{i}]"
            n = _norm("ip", row.get("ip"), f"{where}.ip", self.pepper)
            port = row.get("port")
            if port is not None and (not isinstance(port, int) or not 0 <= port <= 65535):
                raise LiaisonError(f"{where}.port", "must be 0 to 65535")
            out.append({"ip": n.key, "at": _when(row, "at", where), "port": port})
            self.mentions.append(n)
        return out

    def cashouts(self, rows: list[dict[str, Any]], w: str) -> list[dict[str, Any]]:
        out = []
        for i, c in enumerate(rows):
            where = f"{w}[{i}]"
            place = _str(c, "place", where)
            if not place:
                raise LiaisonError(f"{where}.place", "is required")
            out.append({"at": _when(c, "at", where, required=True), "place": place,
                        "atm_id": _str(c, "atm_id", where, 64), "amount_kzt": _amount(c, "amount_kzt", where)})
        return out

    def hold(self, h: dict[str, Any], w: str) -> dict[str, Any]:
        acc = _account(h.get("account"), f"{w}.account", self.pepper)
        start = h.get("held_from")
        if not isinstance(start, dt.datetime):
            raise LiaisonError(f"{w}.held_from", "is required")
        start = start if start.tzinfo else start.replace(tzinfo=dt.timezone.utc)
        limit = deadlines.add_business_days(start, deadlines.HOLD_BUSINESS_DAYS)
        until = h.get("held_until") or limit
        until = until if until.tzinfo else until.replace(tzinfo=dt.timezone.utc)
        if until > limit:
            raise LiaisonError(f"{w}.held_until", f"a hold lasts at most {deadlines.HOLD_BUSINESS_DAYS} business "
                                                  f"days: until {limit.isoformat()} at the latest")
        if until <= start:
            raise LiaisonError(f"{w}.held_until", "is not after held_from")
        return {"account": _ident(acc), "amount_kzt": _amount(h, "amount_kzt", w),
                "held_from": start.isoformat(), "held_until": until.isoformat()}


def validate(kind: str, raw: dict[str, Any], pepper: bytes, now: dt.datetime) -> tuple[dict[str, Any], list[Normalised]]:
    """The normalised answer content and its suspect-side identifiers; LiaisonError if bad."""
    allowed = SECTIONS[kind]
    c = _Collector(pepper)
    content: dict[str, Any] = {}
    for section in ALL_SECTIONS:
        value = raw.get(section)
        if value in (None, []):
            continue
        where = f"answer.{section}"
        if section not in allowed:
            raise LiaisonError(where, f"a {kind} answer has no {section}; it may give {', '.join(allowed)}")
        if section == "hold":
            content["hold"] = c.hold(value, where)
            continue
        if len(value) > MAX_ROWS:
            raise LiaisonError(where, f"at most {MAX_ROWS} rows per save; send the rest as another part")
        content[section] = getattr(c, section)(value, where)
    files = []
    for i, f in enumerate(raw.get("files") or []):
        where = f"answer.files[{i}]"
        digest = (f.get("sha256") or "").strip().lower()
        if not SHA256.match(digest):
            raise LiaisonError(f"{where}.sha256", "must be a SHA-256 digest: 64 hexadecimal characters")
        size = f.get("size_bytes")
        if size is not None and (not isinstance(size, int) or size < 0):
            raise LiaisonError(f"{where}.size_bytes", "must be a non-negative whole number")
        files.append({"sha256": digest, "name": _str(f, "name", where, 255), "size_bytes": size,
                      "recorded_at": now.isoformat()})
    if files:
        content["files"] = files
    text = _str(raw, "text", "answer", 10_000)
    if text:
        content["text"] = text
    if raw.get("no_data"):
        if any(k in content for k in ALL_SECTIONS):
            raise LiaisonError("answer.no_data", "cannot say 'no data' and give data in the same answer")
        content["no_data"] = True
    return content, c.mentions


async def save(session: AsyncSession, caller: Caller, request_id: int, raw: dict[str, Any], complete: bool, *,
               pepper: bytes, directory: Directory, now: dt.datetime) -> tuple[LiaisonRequest, AnswerPart, Appended]:
    """Validate, then append one answer part; link its identifiers; complete if asked."""
    access.require_liaison(caller)
    req = await load_for_update(session, caller, request_id)
    if req.state == RequestState.REFUSED.value:
        raise LiaisonError("id", f"request {req.id} was refused", "CONFLICT")
    content, found = validate(req.kind, raw, pepper, now)
    closing = complete and req.answer_parts > 0 and req.state in OPEN_STATES
    if not content and not closing:  # an empty save only closes an answer given in parts
        raise LiaisonError("answer", "the answer is empty: give data, files, text or noData")
    org = directory.organisation(req.org_id)
    note = f"from {org.name} answer to request {req.id}"
    mentions = [MentionRecord(n, "suspect", note) for n in found]
    added = await add_mentions(session, req.case_id, mentions) if mentions else 0
    seq = req.answer_parts + 1
    supplement = req.state == RequestState.ANSWERED.value
    body = {"request_id": req.id, "seq": seq, "request_version": req.version, "complete": complete or supplement,
            "saved_at": now.isoformat(), "saved_by": caller.name, "organisation": req.org_id, **content}
    part = AnswerPart(request_id=req.id, seq=seq, content=body, sha256=sha256_of(body),
                      complete=complete or supplement, mentions_added=added, created_by=caller.principal_id,
                      created_at=now)
    session.add(part)
    req.answer_parts = seq
    if req.received_at is None:
        req.received_at = now
    if req.state == RequestState.SENT.value:
        req.state = RequestState.RECEIVED.value
    if "hold" in content:
        req.hold_expires_at = dt.datetime.fromisoformat(content["hold"]["held_until"])
    change = "answer_supplemented" if supplement else "answer_part"
    if complete and req.state in OPEN_STATES:
        req.state = RequestState.ANSWERED.value
        req.answered_at = now
        change = "answered"
    req.updated_at = now
    record(session, req.id, caller, change, now, seq=seq, sha256=part.sha256, mentions_added=added,
           files=[f["sha256"] for f in content.get("files", [])])
    await session.flush()
    events = [feed.to_org(req, "request_changed", change), *feed.to_sender(req, "request_changed", change)]
    return req, part, await feed.append(session, events, now)
