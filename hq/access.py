"""Role scoping enforced where the data is read and written, not in the UI.

Every query over cases goes through `case_scope`, and every write through
`require_case_write`, so a resolver cannot forget a rule:
- hq_analyst, admin: all cases, may write;
- prosecutor: all cases, read-only;
- regional_officer: only cases of their unit's region; writes only there;
- liaison: no case at all.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from hq.auth import Caller
from hq.models import Case, CaseLink, Role


class Forbidden(PermissionError):
    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def case_scope(caller: Caller) -> ColumnElement[bool]:
    if caller.role in (Role.HQ_ANALYST, Role.ADMIN, Role.PROSECUTOR):
        return true()
    if caller.role is Role.REGIONAL_OFFICER and caller.region_code:
        return Case.region_code == caller.region_code
    return false()


def can_read_case_region(caller: Caller, region_code: str) -> bool:
    if caller.role in (Role.HQ_ANALYST, Role.ADMIN, Role.PROSECUTOR):
        return True
    return caller.role is Role.REGIONAL_OFFICER and caller.region_code == region_code


async def case_in_scope(session: AsyncSession, caller: Caller, number: str) -> tuple[int, int | None] | None:
    """(case id, multi-episode case id) of the case registered as `number`, or None when
    there is none the caller may read: a case out of scope looks exactly like a missing one."""
    row = (await session.execute(
        select(Case.id, Case.region_code, CaseLink.mec_id).outerjoin(CaseLink, CaseLink.case_id == Case.id)
        .where(Case.registration_number == number))).first()
    if row is None or not can_read_case_region(caller, row.region_code):
        return None
    return int(row.id), None if row.mec_id is None else int(row.mec_id)


def require_case_write(caller: Caller, region_code: str) -> None:
    if caller.role in (Role.HQ_ANALYST, Role.ADMIN):
        return
    if caller.role is Role.REGIONAL_OFFICER:
        if caller.region_code == region_code:
            return
        raise Forbidden(
            f"a regional officer of {caller.region_code} cannot write cases of {region_code}", "region"
        )
    raise Forbidden(f"role {caller.role.value} cannot register or change cases")


def require_role(caller: Caller, *roles: Role) -> None:
    if caller.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Forbidden(f"this operation is for {allowed}; you are {caller.role.value}")
