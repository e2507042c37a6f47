"""Create, send and amend requests; a liaison opens or refuses them. One transaction each.

Every function runs in the caller's transaction, locks the request row it changes and
appends its feed events last (hq.tasking.events), so a state change and the news of it
commit together. Errors name the field at fault; the API maps `code` to the GraphQL code.

    draft → sent → received → answered | refused(reason) | overdue

What was demanded is sealed when sent (SHA-256 over its canonical JSON) and never edited:
an amendment is a new sealed version.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from hq.access import Forbidden, can_read_case_region, case_in_scope
from hq.auth import Caller
from hq.identifiers import IdentifierError, get_kind, normalise
from hq.liaison import access, deadlines, feed
from hq.liaison.integrity import record, sha256_of
from hq.liaison.kinds import DEFAULT_LEGAL_BASIS, KINDS, SIGNER_ROLES, rule
from hq.liaison.models import OPEN_STATES, LiaisonRequest, RequestState, RequestVersion
from hq.models import Case, CaseLink, Identifier, Mention, Role
from hq.settings import Settings
from hq.tasking.events import Appended
from regions import Directory

MAX_TEXT = 4000
MAX_IDENTIFIERS = 50


class LiaisonError(Exception):
    code = "BAD_USER_INPUT"

    def __init__(self, field: str | None, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason
        if code is not None:
            self.code = code


def not_found(request_id: int) -> LiaisonError:
    return LiaisonError("id", f"no request {request_id}", "NOT_FOUND")


@dataclass(slots=True)
class Signer:
    name: str | None = None
    position: str | None = None
    role: str | None = None


@dataclass(slots=True)
class Sanction:
    reference: str | None = None
    date: dt.date | None = None
    prosecutor: str | None = None


@dataclass(slots=True)
class Details:
    """What a request demands. On amendments and draft edits, None keeps the previous value."""

    identifiers: list[tuple[str, str]] | None = None
    legal_basis: str | None = None
    signer: Signer | None = None
    sanction: Sanction | None = None
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    question: str | None = None
    urgent: bool | None = None


@dataclass(slots=True)
class NewRequest:
    kind: str
    details: Details
    organisation: str | None = None
    all_banks: bool = False
    case_number: str | None = None
    mec_id: int | None = None
    send: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _text(value: str | None, where: str, limit: int = MAX_TEXT) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise LiaisonError(where, f"is longer than {limit} characters")
    return value or None


def _identifiers(kind: str, raw: list[tuple[str, str]], pepper: bytes) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Validate like imports; return (stored identifiers, {index: full card number})."""
    allowed = rule(kind).identifier_kinds
    if not raw:
        raise LiaisonError("identifiers", f"name at least one identifier ({', '.join(allowed)})")
    if len(raw) > MAX_IDENTIFIERS:
        raise LiaisonError("identifiers", f"at most {MAX_IDENTIFIERS} identifiers")
    out: list[dict[str, str]] = []
    secret: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    for i, (ikind, value) in enumerate(raw):
        if ikind not in allowed:
            raise LiaisonError(f"identifiers[{i}].kind", f"a {kind} request asks about {', '.join(allowed)}, not {ikind}")
        try:
            norm = normalise(ikind, value, pepper=pepper)
        except IdentifierError as exc:
            raise LiaisonError(f"identifiers[{i}].value", str(exc)) from None
        if (norm.kind, norm.key) in seen:
            continue
        seen.add((norm.kind, norm.key))
        if norm.kind == "card":
            # The addressed bank must see the whole number to answer; it is kept only here.
            secret[str(len(out))] = get_kind("card").clean(value)
        out.append({"kind": norm.kind, "key": norm.key, "display": norm.display})
    return out, secret


def _merge(kind: str, old: dict[str, Any] | None, old_secret: dict[str, str] | None, d: Details,
           pepper: bytes) -> tuple[dict[str, Any], dict[str, str]]:
    """Content of a new version: the previous one with the given fields replaced, validated."""
    base = dict(old or {})
    secret = dict(old_secret or {})
    if d.identifiers is not None or old is None:
        base["identifiers"], secret = _identifiers(kind, d.identifiers or [], pepper)
    if d.legal_basis is not None or old is None:
        base["legal_basis"] = _text(d.legal_basis, "legalBasis") or DEFAULT_LEGAL_BASIS
    if d.signer is not None:
        role = _text(d.signer.role, "signer.role", 32)
        if role is not None and role not in SIGNER_ROLES:
            raise LiaisonError("signer.role", f"must be one of {', '.join(SIGNER_ROLES)}")
        base["signer"] = {"name": _text(d.signer.name, "signer.name", 200),
                          "position": _text(d.signer.position, "signer.position", 200), "role": role}
    if d.sanction is not None:
        base["sanction"] = {"reference": _text(d.sanction.reference, "sanction.reference", 100),
                            "date": d.sanction.date.isoformat() if d.sanction.date else None,
                            "prosecutor": _text(d.sanction.prosecutor, "sanction.prosecutor", 200)}
    if d.period_from is not None or d.period_to is not None:
        base["period"] = {"from": d.period_from.isoformat() if d.period_from else None,
                          "to": d.period_to.isoformat() if d.period_to else None}
    if d.question is not None:
        base["question"] = _text(d.question, "question")
    if d.urgent is not None:
        base["urgent"] = bool(d.urgent)
    base.setdefault("signer", None)
    base.setdefault("sanction", None)
    base.setdefault("period", None)
    base.setdefault("question", None)
    base.setdefault("urgent", False)
    period = base["period"]
    if period and period["from"] and period["to"] and period["from"] > period["to"]:
        raise LiaisonError("periodTo", "is before periodFrom")
    if base["urgent"] and kind != "hold_funds":
        raise LiaisonError("urgent", "only hold_funds requests can be urgent")
    return base, secret


def check_sendable(kind: str, content: dict[str, Any], today: dt.date) -> None:
    """Everything the law needs before a request leaves: the error names the missing field."""
    r = rule(kind)
    signer = content.get("signer") or {}
    if not signer.get("name"):
        raise LiaisonError("signer.name", "the request must be signed: signer.name is missing")
    if not signer.get("role"):
        raise LiaisonError("signer.role", f"signer.role is missing ({' or '.join(SIGNER_ROLES)})")
    if r.needs_sanction:
        sanction = content.get("sanction") or {}
        for part in ("reference", "date"):
            if not sanction.get(part):
                raise LiaisonError(f"sanction.{part}",
                                   f"a {kind} request needs the prosecutor's sanction: sanction.{part} is missing")
        if dt.date.fromisoformat(sanction["date"]) > today:
            raise LiaisonError("sanction.date", "is in the future")
    if r.needs_period:
        period = content.get("period") or {}
        if not period.get("from") or not period.get("to"):
            raise LiaisonError("periodFrom", f"a {kind} request needs a period: periodFrom and periodTo")


def _addressees(spec: NewRequest, content: dict[str, Any], secret: dict[str, str], directory: Directory) -> list[Any]:
    r = rule(spec.kind)
    if spec.all_banks:
        if spec.organisation:
            raise LiaisonError("allBanks", "give organisation or allBanks, not both")
        if not r.fan_out:
            raise LiaisonError("allBanks", "only account_holder requests can go to every bank")
        return list(directory.organisations_of_kind("bank"))
    if spec.organisation:
        try:
            org = directory.organisation(spec.organisation.strip())
        except KeyError:
            raise LiaisonError("organisation", f"unknown organisation {spec.organisation!r} (see the organisations query)") from None
        if org.kind not in r.addressee_kinds:
            raise LiaisonError("organisation", f"{org.name} is a {org.kind}; a {spec.kind} request goes to "
                                               f"a {' or '.join(r.addressee_kinds)}")
        return [org]
    # No addressee named: the bank that issued the card, or the number's operator.
    found = set()
    for i, ident in enumerate(content["identifiers"]):
        if ident["kind"] == "card":
            org = directory.bank_for_card(secret[str(i)])
        elif ident["kind"] == "phone":
            org = directory.operator_for_phone(ident["key"])
        else:
            org = None
        if org is not None and org.kind in r.addressee_kinds:
            found.add(org.id)
    if len(found) != 1:
        raise LiaisonError("organisation", "name the organisation (or allBanks): it cannot be told from the identifiers")
    return [directory.organisation(found.pop())]


async def _subject(session: AsyncSession, caller: Caller, spec: NewRequest,
                   identifiers: list[dict[str, str]]) -> tuple[int, str, int | None]:
    """(case id, registration number, multi-episode case id) the request is made for."""
    if (spec.case_number is None) == (spec.mec_id is None):
        raise LiaisonError("caseRegistrationNumber", "give exactly one of caseRegistrationNumber or multiEpisodeCaseId")
    if spec.case_number is not None:
        number = spec.case_number.strip()
        found = await case_in_scope(session, caller, number)
        if found is None:
            raise LiaisonError("caseRegistrationNumber", f"no case {number} in your scope")
        return found[0], number, found[1]
    members = (await session.execute(
        select(Case.id, Case.registration_number, Case.region_code).join(CaseLink, CaseLink.case_id == Case.id)
        .where(CaseLink.mec_id == spec.mec_id).order_by(Case.registered_at, Case.id)
    )).all()
    members = [m for m in members if can_read_case_region(caller, m.region_code)]
    if not members:
        raise LiaisonError("multiEpisodeCaseId", f"no multi-episode case {spec.mec_id} in your scope")
    # The episode that mentions what we ask about gets the answer's identifiers.
    keys = [(i["kind"], i["key"]) for i in identifiers]
    ids = {int(c) for c in (await session.execute(
        select(Mention.case_id).join(Identifier, Identifier.id == Mention.identifier_id)
        .where(Mention.case_id.in_([m.id for m in members]),
               tuple_(Identifier.kind, Identifier.key).in_(keys))
    )).scalars()}
    chosen = next((m for m in members if m.id in ids), members[0])
    return int(chosen.id), chosen.registration_number, spec.mec_id


async def create(session: AsyncSession, caller: Caller, spec: NewRequest, *, directory: Directory,
                 settings: Settings, now: dt.datetime) -> tuple[list[LiaisonRequest], Appended]:
    """One request per addressee (all banks: one each, one batch); sent at once if asked."""
    sender = access.sender_unit(caller)
    if spec.kind not in KINDS:
        raise LiaisonError("kind", f"must be one of {', '.join(sorted(KINDS))}")
    content, secret = _merge(spec.kind, None, None, spec.details, settings.pepper)
    orgs = _addressees(spec, content, secret, directory)
    case_id, case_number, mec_id = await _subject(session, caller, spec, content["identifiers"])
    if spec.send:
        check_sendable(spec.kind, content, now.date())
    batch = uuid.uuid4().hex
    out: list[LiaisonRequest] = []
    for org in orgs:
        req = LiaisonRequest(batch_id=batch, org_id=org.id, kind=spec.kind, state=RequestState.DRAFT.value,
                             case_id=case_id, case_number=case_number, mec_id=mec_id, sender_unit_id=sender,
                             created_by=caller.principal_id, urgent=content["urgent"], version=1,
                             created_at=now, updated_at=now)
        session.add(req)
        await session.flush()
        # No case number or case detail in what the liaison receives: only what to answer
        # and who demands it (see hq.console.visibility: banks learn that a value matters,
        # not where the police are investigating it).
        body = {**content, "kind": spec.kind, "organisation": {"id": org.id, "name": org.name},
                "sender_unit": sender}
        session.add(RequestVersion(request_id=req.id, version=1, content=body, secret=secret,
                                   created_by=caller.principal_id, created_at=now))
        record(session, req.id, caller, "created", now, organisation=org.id, kind=spec.kind)
        out.append(req)
    await session.flush()
    appended = Appended([], [])
    if spec.send:
        events = []
        for req in out:
            events += await _seal_and_send(session, caller, req, settings, now)
        appended = await feed.append(session, events, now)
    return out, appended


async def load_for_update(session: AsyncSession, caller: Caller, request_id: int) -> LiaisonRequest:
    """The request if the caller may see it, row-locked; NOT_FOUND otherwise (see access)."""
    q = select(LiaisonRequest).where(LiaisonRequest.id == request_id, access.request_scope(caller))
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        q = q.with_for_update()
    req = (await session.execute(q.execution_options(populate_existing=True))).scalar_one_or_none()
    if req is None:
        raise not_found(request_id)
    return req


async def current_version(session: AsyncSession, req: LiaisonRequest) -> RequestVersion:
    return (await session.execute(
        select(RequestVersion).where(RequestVersion.request_id == req.id, RequestVersion.version == req.version)
    )).scalar_one()


async def _seal_and_send(session: AsyncSession, caller: Caller, req: LiaisonRequest, settings: Settings,
                         now: dt.datetime) -> list[Any]:
    version = await current_version(session, req)
    check_sendable(req.kind, version.content, now.date())
    req.state = RequestState.SENT.value
    req.sent_at = now
    req.due_at = deadlines.due_time(settings, req.kind, req.urgent, now)
    req.updated_at = now
    version.content = {**version.content, "sent_at": now.isoformat(), "due_at": req.due_at.isoformat(),
                       "version": version.version}
    version.sha256 = sha256_of(version.content)
    version.sealed_at = now
    record(session, req.id, caller, "sent", now, version=version.version, sha256=version.sha256,
           due_at=req.due_at.isoformat())
    await session.flush()
    return [feed.to_org(req, "request_sent", "sent"), *feed.to_sender(req, "request_changed", "sent")]


async def update_draft(session: AsyncSession, caller: Caller, request_id: int, details: Details, *,
                       settings: Settings, now: dt.datetime) -> tuple[LiaisonRequest, Appended]:
    req = await load_for_update(session, caller, request_id)
    _require_staff_sender(caller, req)
    if req.state != RequestState.DRAFT.value:
        raise LiaisonError("id", f"request {req.id} was sent: it cannot be edited, amend it instead", "CONFLICT")
    version = await current_version(session, req)
    content, secret = _merge(req.kind, version.content, version.secret, details, settings.pepper)
    version.content, version.secret = content, secret
    req.urgent = content["urgent"]
    req.updated_at = now
    record(session, req.id, caller, "draft_edited", now)
    await session.flush()
    return req, Appended([], [])


async def send(session: AsyncSession, caller: Caller, request_id: int, *, settings: Settings,
               now: dt.datetime) -> tuple[LiaisonRequest, Appended]:
    req = await load_for_update(session, caller, request_id)
    _require_staff_sender(caller, req)
    if req.state != RequestState.DRAFT.value:
        raise LiaisonError("id", f"request {req.id} is already {req.state}", "CONFLICT")
    events = await _seal_and_send(session, caller, req, settings, now)
    return req, await feed.append(session, events, now)


async def amend(session: AsyncSession, caller: Caller, request_id: int, details: Details, reason: str, *,
                settings: Settings, now: dt.datetime) -> tuple[LiaisonRequest, Appended]:
    """A new sealed version of a sent request; the old one stays as it was."""
    req = await load_for_update(session, caller, request_id)
    _require_staff_sender(caller, req)
    if req.state not in OPEN_STATES:
        raise LiaisonError("id", f"request {req.id} is {req.state}: only an open request can be amended", "CONFLICT")
    why = _text(reason, "reason")
    if not why:
        raise LiaisonError("reason", "say why the request is amended")
    old = await current_version(session, req)
    content, secret = _merge(req.kind, old.content, old.secret, details, settings.pepper)
    check_sendable(req.kind, content, now.date())
    if content.get("urgent") != req.urgent:
        raise LiaisonError("urgent", "urgency cannot change after sending; send a new request")
    content = {**content, "version": old.version + 1, "amended_at": now.isoformat(), "amendment_reason": why}
    version = RequestVersion(request_id=req.id, version=old.version + 1, content=content, secret=secret,
                             sha256=sha256_of(content), sealed_at=now, created_by=caller.principal_id, created_at=now)
    session.add(version)
    req.version = version.version
    req.updated_at = now
    record(session, req.id, caller, "amended", now, version=version.version, sha256=version.sha256, reason=why)
    await session.flush()
    events = [feed.to_org(req, "request_amended", "amended", version=version.version),
              *feed.to_sender(req, "request_changed", "amended", version=version.version)]
    return req, await feed.append(session, events, now)


def _require_staff_sender(caller: Caller, req: LiaisonRequest) -> None:
    if caller.role is Role.LIAISON:
        raise not_found(req.id)  # a liaison never learns about drafts or sender operations
    access.require_sender(caller, req)


async def open_request(session: AsyncSession, caller: Caller, request_id: int, *,
                       now: dt.datetime) -> tuple[LiaisonRequest, Appended]:
    """The liaison opened the request: sent → received (later opens are recorded only once)."""
    access.require_liaison(caller)
    req = await load_for_update(session, caller, request_id)
    if req.received_at is not None:
        return req, Appended([], [])
    req.received_at = now
    if req.state == RequestState.SENT.value:
        req.state = RequestState.RECEIVED.value
    req.updated_at = now
    record(session, req.id, caller, "opened", now)
    await session.flush()
    return req, await feed.append(session, feed.to_sender(req, "request_changed", "received"), now)


async def refuse(session: AsyncSession, caller: Caller, request_id: int, reason: str, *,
                 now: dt.datetime) -> tuple[LiaisonRequest, Appended]:
    access.require_liaison(caller)
    why = _text(reason, "reason")
    if not why:
        raise LiaisonError("reason", "say why the request is refused")
    req = await load_for_update(session, caller, request_id)
    if req.state not in OPEN_STATES:
        raise LiaisonError("id", f"request {req.id} is already {req.state}", "CONFLICT")
    if req.received_at is None:
        req.received_at = now
    req.state = RequestState.REFUSED.value
    req.refusal_reason = why
    req.refused_at = now
    req.updated_at = now
    record(session, req.id, caller, "refused", now, reason=why)
    await session.flush()
    events = [feed.to_org(req, "request_changed", "refused"), *feed.to_sender(req, "request_changed", "refused")]
    return req, await feed.append(session, events, now)


def forbidden_to_error(exc: Forbidden) -> LiaisonError:
    return LiaisonError(exc.field, exc.reason, "FORBIDDEN")
