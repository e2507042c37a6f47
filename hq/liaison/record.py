"""Read side: a request with its versions, answer parts and history, and its JSON record.

Why one loader for every view: the staff view, the liaison view and the exported record
are built from the same rows, so what a liaison sees is a strict subset (no batch, no
multi-episode case, no other organisation, nothing from the case but its number) decided
here once, and the export's hashes are the ones stored at sealing and saving time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hq.liaison.integrity import sha256_of
from hq.liaison.models import AnswerPart, LiaisonRequest, RequestHistory, RequestVersion
from hq.tasking.clock import as_utc

RECORD_FORMAT = "hq.liaison.request-record/1"


@dataclass(slots=True)
class Bundle:
    request: LiaisonRequest
    versions: list[RequestVersion] = field(default_factory=list)
    parts: list[AnswerPart] = field(default_factory=list)
    history: list[RequestHistory] = field(default_factory=list)

    @property
    def current(self) -> RequestVersion:
        return next(v for v in self.versions if v.version == self.request.version)


async def load(session: AsyncSession, requests: list[LiaisonRequest]) -> list[Bundle]:
    """Bundles for these requests, in the same order, with three queries in all."""
    bundles = {r.id: Bundle(r) for r in requests}
    if not bundles:
        return []
    ids = list(bundles)
    for v in (await session.execute(select(RequestVersion).where(RequestVersion.request_id.in_(ids))
                                    .order_by(RequestVersion.version))).scalars():
        bundles[v.request_id].versions.append(v)
    for p in (await session.execute(select(AnswerPart).where(AnswerPart.request_id.in_(ids))
                                    .order_by(AnswerPart.seq))).scalars():
        bundles[p.request_id].parts.append(p)
    for h in (await session.execute(select(RequestHistory).where(RequestHistory.request_id.in_(ids))
                                    .order_by(RequestHistory.id))).scalars():
        bundles[h.request_id].history.append(h)
    return [bundles[r.id] for r in requests]


def iso(value: dt.datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat() if value is not None else None


def identifier_values(b: Bundle, *, full: bool) -> list[dict[str, str]]:
    """The identifiers asked about; `full` (the addressed organisation only) shows card numbers."""
    v = b.current
    out = []
    for i, ident in enumerate(v.content.get("identifiers", [])):
        value = (v.secret or {}).get(str(i)) if full else None
        out.append({"kind": ident["kind"], "value": value or ident["display"]})
    return out


def answer_complete(b: Bundle) -> bool:
    return any(p.complete for p in b.parts)


def export(b: Bundle, *, exported_by: str, now: dt.datetime, for_liaison: bool) -> dict[str, Any]:
    """One JSON document for the case file; every version and answer part carries the
    SHA-256 of its canonical JSON, and `record_sha256` covers the whole record. The
    addressed organisation's copy leaves out the case registration number."""
    r = b.request
    body = {
        "request": {
            "id": r.id, "organisation": r.org_id, "kind": r.kind, "state": r.state,
            "case_registration_number": r.case_number, "sender_unit": r.sender_unit_id, "urgent": r.urgent,
            "created_at": iso(r.created_at), "sent_at": iso(r.sent_at), "due_at": iso(r.due_at),
            "received_at": iso(r.received_at), "answered_at": iso(r.answered_at), "refused_at": iso(r.refused_at),
            "refusal_reason": r.refusal_reason, "overdue_at": iso(r.overdue_at),
            "hold_expires_at": iso(r.hold_expires_at),
        },
        "versions": [{"version": v.version, "sealed": v.sha256 is not None, "sha256": v.sha256,
                      "sealed_at": iso(v.sealed_at), "content": v.content} for v in b.versions],
        "answers": [{"seq": p.seq, "sha256": p.sha256, "complete": p.complete, "content": p.content}
                    for p in b.parts],
        "history": [{"at": iso(h.at), "actor": h.actor, "action": h.action, "details": h.details}
                    for h in b.history],
    }
    if for_liaison:
        del body["request"]["case_registration_number"]
    return {"format": RECORD_FORMAT, **body, "record_sha256": sha256_of(body),
            "exported_at": now.isoformat(), "exported_by": exported_by}
