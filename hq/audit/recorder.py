"""Appending to the audit log: the one function every audited action goes through.

`record_read(ctx, object_type, object_id, fields)` is for resolvers that return personal
or bank-secret data (victim details, liaison answers, card and account holders). It is
fail-closed: if the entry cannot be written the read raises SERVICE_UNAVAILABLE and the
data is not returned. Mutations are recorded by `hq.audit.extension` after they run.

Appends are serialised by updating the single `audit_head` row first, inside the same
transaction as the insert: the chain cannot fork, on SQLite or PostgreSQL, across processes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hq.api.errors import ApiError
from hq.audit.chain import entry_hash
from hq.audit.models import AuditEntry, AuditHead, AuditRef
from hq.models import utcnow

log = logging.getLogger(__name__)
MAX_OBJECTS = 20_000  # ids kept per entry (a 5 MB import holds fewer cases than this)


class AuditUnavailable(ApiError):
    code = "SERVICE_UNAVAILABLE"


def _objects(objects: Iterable[tuple[str, Any]]) -> tuple[list[list[str]], int]:
    seen: dict[tuple[str, str], None] = {}
    total = 0
    for kind, oid in objects:
        key = (str(kind)[:48], str(oid)[:200])
        if key not in seen:
            total += 1
            if len(seen) < MAX_OBJECTS:
                seen[key] = None
    return [list(k) for k in seen], total


async def append(
    sessions: async_sessionmaker[AsyncSession],
    *,
    kind: str,
    operation: str,
    outcome: str,
    caller: Any,
    client: str | None,
    request_id: str | None,
    objects: Iterable[tuple[str, Any]] = (),
    fields: Sequence[str] = (),
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one chained entry and return its sequence number."""
    objs, total = _objects(objects)
    detail = dict(detail or {})
    if total > len(objs):
        detail["objects_total"] = total
    async with sessions.begin() as s:
        seq, prev = (await s.execute(
            update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
            .returning(AuditHead.seq, AuditHead.hash)
        )).one()
        values: dict[str, Any] = {
            "seq": seq, "at": utcnow(), "kind": kind, "operation": operation[:200], "outcome": outcome,
            "principal_id": getattr(caller, "principal_id", None),
            "role": getattr(getattr(caller, "role", None), "value", None),
            "unit_id": getattr(caller, "unit_id", None), "org_id": getattr(caller, "org_id", None),
            "client": (client or "")[:64] or None, "request_id": (request_id or "")[:64] or None,
            "objects": objs, "fields": sorted(set(fields)), "detail": detail,
        }
        digest = entry_hash(prev, values)
        entry_id = (await s.execute(
            insert(AuditEntry).values(**values, prev_hash=prev, hash=digest).returning(AuditEntry.id)
        )).scalar_one()
        if objs:
            await s.execute(insert(AuditRef), [
                {"entry_id": entry_id, "object_type": t, "object_id": i} for t, i in objs])
        await s.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
    return int(seq)


async def record_read(ctx: Any, object_type: str, object_id: str | int, fields: Sequence[str],
                      *, operation: str | None = None) -> None:
    """Record that `ctx`'s caller was shown `fields` of personal data of one object.

    Call it before returning the data; it raises AuditUnavailable (SERVICE_UNAVAILABLE) when
    the entry cannot be written, so unaudited personal data never leaves the server.
    """
    await record_reads(ctx, [(object_type, object_id)], fields, operation=operation)


async def record_reads(ctx: Any, objects: Sequence[tuple[str, str | int]], fields: Sequence[str],
                       *, operation: str | None = None) -> None:
    """The same for several objects read together (one entry naming them all)."""
    if not objects:
        return
    try:
        await append(
            ctx.sessions, kind="read", operation=operation or f"read {objects[0][0]}", outcome="ok",
            caller=ctx.caller_or_none, client=getattr(ctx, "client", None),
            request_id=getattr(ctx, "request_id", None), objects=objects, fields=fields,
        )
    except Exception:
        log.exception("audit: could not record a read of %s (request %s)", objects[0][0],
                      getattr(ctx, "request_id", "?"))
        raise AuditUnavailable("the audit log cannot be written, so personal data is not returned; retry later",
                               reason="audit_unavailable") from None
