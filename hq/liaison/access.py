"""Who may see and do what with liaison requests, decided on the caller in one place.

- hq_analyst, admin: create, send and amend requests for any case; read all;
- regional_officer: create for cases of their own region; read requests on their region's
  cases or sent by their unit; send/amend requests their unit sent;
- prosecutor: read all, act on nothing;
- liaison: ONLY the non-draft requests addressed to their organisation; open, answer,
  refuse them.

A request outside the caller's scope is reported as NOT_FOUND, never FORBIDDEN: a bank
trying another bank's request ids (or an officer another region's) must not learn that
the id exists. FORBIDDEN is kept for operations the caller's role can never do (a
liaison creating a request), which reveals nothing about any request.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from hq.access import Forbidden
from hq.auth import Caller
from hq.liaison.models import LiaisonRequest, RequestState
from hq.models import Case, Role

HQ_UNIT = "hq"
STAFF_READERS = (Role.HQ_ANALYST, Role.ADMIN, Role.PROSECUTOR, Role.REGIONAL_OFFICER)


class NotVisible(LookupError):
    """The request does not exist for this caller (whether or not it exists at all)."""

    def __init__(self, request_id: int) -> None:
        super().__init__(f"no request {request_id}")
        self.request_id = request_id


def sender_unit(caller: Caller) -> str:
    """The unit a request is sent as: the officer's unit, or `hq` for HQ staff."""
    if caller.role is Role.REGIONAL_OFFICER and caller.unit_id:
        return caller.unit_id
    if caller.role in (Role.HQ_ANALYST, Role.ADMIN):
        return caller.unit_id or HQ_UNIT
    raise Forbidden(f"role {caller.role.value} cannot create or send requests to banks and operators")


def require_staff(caller: Caller) -> None:
    if caller.role not in STAFF_READERS:
        raise Forbidden(f"this is for police and prosecutors; you are {caller.role.value}")


def require_liaison(caller: Caller) -> str:
    if caller.role is not Role.LIAISON or not caller.org_id:
        raise Forbidden("this is for bank and operator liaisons")
    return caller.org_id


def request_scope(caller: Caller) -> ColumnElement[bool]:
    """Rows of `liaison_requests` this caller may see."""
    if caller.role in (Role.HQ_ANALYST, Role.ADMIN, Role.PROSECUTOR):
        return true()
    if caller.role is Role.REGIONAL_OFFICER and caller.unit_id:
        own_region = LiaisonRequest.case_id.in_(select(Case.id).where(Case.region_code == caller.region_code))
        return or_(LiaisonRequest.sender_unit_id == caller.unit_id, own_region)
    if caller.role is Role.LIAISON and caller.org_id:
        return and_(LiaisonRequest.org_id == caller.org_id, LiaisonRequest.state != RequestState.DRAFT.value)
    return false()


def require_sender(caller: Caller, req: LiaisonRequest) -> None:
    """Send, amend or edit a draft: the sending unit, or HQ staff."""
    unit = sender_unit(caller)
    if caller.is_hq or unit == req.sender_unit_id:
        return
    raise Forbidden(f"only the sending unit ({req.sender_unit_id}) or HQ can change request {req.id}", "id")


def is_addressee(caller: Caller, req: LiaisonRequest) -> bool:
    return caller.role is Role.LIAISON and caller.org_id == req.org_id
