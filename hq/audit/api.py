"""`auditTrail`: who did or saw what, for prosecutors and admins only.

Filter by object (objectType + objectId, e.g. "case" + a registration number) and/or by
principal, within an optional period; newest first, paged by the entry id cursor.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Optional

import strawberry
from sqlalchemy import and_, select

from hq.api.context import Context
from hq.api.errors import BadUserInput, ForbiddenError
from hq.audit.models import AuditEntry as AuditRow
from hq.audit.models import AuditRef
from hq.models import Role


@strawberry.type
class AuditObject:
    type: str
    id: str


@strawberry.type(description="One audit entry: who, what, when, from where, outcome.")
class AuditEntry:
    id: int
    seq: int
    at: dt.datetime
    kind: str = strawberry.field(description="mutation or read")
    operation: str
    outcome: str = strawberry.field(description="ok, error or rejected")
    error_codes: list[str]
    principal_id: Optional[int]
    role: Optional[str]
    unit_id: Optional[str]
    org_id: Optional[str]
    client: Optional[str]
    request_id: Optional[str]
    objects: list[AuditObject]
    fields: list[str] = strawberry.field(description="for reads: the personal-data fields returned")
    hash: str

    @classmethod
    def from_row(cls, r: AuditRow) -> "AuditEntry":
        at = r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.timezone.utc)
        return cls(id=r.id, seq=r.seq, at=at, kind=r.kind, operation=r.operation, outcome=r.outcome,
                   error_codes=list((r.detail or {}).get("codes", [])), principal_id=r.principal_id,
                   role=r.role, unit_id=r.unit_id, org_id=r.org_id, client=r.client, request_id=r.request_id,
                   objects=[AuditObject(type=t, id=i) for t, i in (r.objects or [])][:100],
                   fields=list(r.fields or []), hash=r.hash)


@strawberry.type
class AuditTrail:
    entries: list[AuditEntry]
    has_next_page: bool
    end_cursor: Optional[int] = strawberry.field(description="pass as `before` for the next (older) page")


def _utc(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc) if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Audit entries about an object and/or a principal in a period "
                                  "(prosecutor and admin only).")
    async def audit_trail(
        self, info: strawberry.Info[Context, None],
        object_type: Optional[str] = None, object_id: Optional[str] = None,
        principal_id: Optional[int] = None,
        from_: Annotated[Optional[dt.datetime], strawberry.argument(name="from")] = None,
        to: Optional[dt.datetime] = None,
        first: int = 100, before: Optional[int] = None,
    ) -> AuditTrail:
        ctx = info.context
        if ctx.caller.role not in (Role.PROSECUTOR, Role.ADMIN):
            raise ForbiddenError(f"the audit trail is for prosecutors and admins; you are {ctx.caller.role.value}")
        if object_id is not None and not object_type:
            raise BadUserInput("objectId needs objectType (e.g. \"case\")", field="objectType")
        if not object_type and principal_id is None:
            raise BadUserInput("give objectType and objectId, or principalId", field="objectType")
        if first < 1 or first > ctx.settings.max_page_size:
            raise BadUserInput(f"must be between 1 and {ctx.settings.max_page_size}", field="first")
        conds = []
        if principal_id is not None:
            conds.append(AuditRow.principal_id == principal_id)
        if _utc(from_) is not None:
            conds.append(AuditRow.at >= _utc(from_))
        if _utc(to) is not None:
            conds.append(AuditRow.at < _utc(to))
        if before is not None:
            conds.append(AuditRow.id < before)
        q = select(AuditRow)
        if object_type:
            ref = [AuditRef.object_type == object_type]
            if object_id is not None:
                ref.append(AuditRef.object_id == object_id)
            q = q.where(AuditRow.id.in_(select(AuditRef.entry_id).where(and_(*ref))))
        q = q.where(and_(*conds)) if conds else q
        async with ctx.sessions() as s:
            rows = (await s.execute(q.order_by(AuditRow.id.desc()).limit(first + 1))).scalars().all()
        entries = [AuditEntry.from_row(r) for r in rows[:first]]
        return AuditTrail(entries=entries, has_next_page=len(rows) > first,
                          end_cursor=entries[-1].id if entries else None)
