"""GraphQL types and inputs of liaison requests (the roots are in hq.api.liaison).

Two views of one request as two types, so isolation is structural: `LiaisonRequest`
(police, prosecutors) and `IncomingRequest` (the addressed liaison), which has no field
for the case, the fan-out batch or the multi-episode case, and is the only type that
shows a card number in full.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import strawberry
from strawberry.scalars import JSON

from hq.api.scalars import BigInt
from hq.liaison import record
from hq.liaison.models import OPEN_STATES
from hq.liaison.requests import Details, Sanction as SanctionSpec, Signer as SignerSpec
from hq.tasking.clock import as_utc


def _dt(value: Optional[str]) -> Optional[dt.datetime]:
    return dt.datetime.fromisoformat(value) if value else None


def _date(value: Optional[str]) -> Optional[dt.date]:
    return dt.date.fromisoformat(value) if value else None


# --- output types ----------------------------------------------------------------------------

@strawberry.type
class OrganisationRef:
    id: str
    name: str


@strawberry.type
class RequestIdentifier:
    kind: str
    value: str = strawberry.field(description="card numbers in full only for the addressed organisation")


@strawberry.type
class Signer:
    name: Optional[str]
    position: Optional[str]
    role: Optional[str] = strawberry.field(description="investigator or head_of_body")


@strawberry.type
class Sanction:
    reference: Optional[str]
    date: Optional[dt.date]
    prosecutor: Optional[str]


@strawberry.type
class Period:
    start: Optional[dt.date] = strawberry.field(name="from")
    end: Optional[dt.date] = strawberry.field(name="to")


@strawberry.type(description="One sealed (or, for a draft, not yet sealed) version of what is demanded.")
class RequestVersionInfo:
    version: int
    sha256: Optional[str]
    sealed_at: Optional[dt.datetime]
    amendment_reason: Optional[str]


@strawberry.type
class AccountRef:
    kind: str
    value: str = strawberry.field(description="display form (card numbers masked)")


@strawberry.type
class Holder:
    name: Optional[str]
    iin: Optional[str]
    phone: Optional[str]
    birth_date: Optional[str]
    address: Optional[str]
    accounts: list[AccountRef]


@strawberry.type
class Movement:
    at: Optional[dt.datetime]
    direction: str
    amount_kzt: BigInt  # type: ignore[valid-type]
    counterparty: Optional[AccountRef]
    counterparty_name: Optional[str]
    description: Optional[str]


@strawberry.type
class Hold:
    account: AccountRef
    amount_kzt: Optional[BigInt]  # type: ignore[valid-type]
    held_from: dt.datetime
    held_until: dt.datetime


@strawberry.type
class AnswerFile:
    sha256: str
    name: Optional[str]
    size_bytes: Optional[int]
    recorded_at: dt.datetime


@strawberry.type(description="One save of an answer; immutable, with the SHA-256 of its canonical JSON.")
class AnswerPart:
    seq: int
    sha256: str
    complete: bool
    saved_at: dt.datetime
    mentions_added: int = strawberry.field(description="identifiers that were new to the case's linking")
    holders: list[Holder]
    movements: list[Movement]
    hold: Optional[Hold]
    files: list[AnswerFile]
    text: Optional[str]
    no_data: bool
    content: JSON = strawberry.field(description="the whole part as stored (locations, calls, ips, cashouts too)")


@strawberry.type
class HistoryEntry:
    at: dt.datetime
    actor: str
    action: str
    details: JSON


@strawberry.type
class RequestFields:
    """Fields both views share (the base of LiaisonRequest and IncomingRequest)."""

    id: int
    kind: str
    state: str
    organisation: OrganisationRef
    sender_unit: str = strawberry.field(description="the police unit demanding the information")
    urgent: bool
    legal_basis: str
    signer: Optional[Signer]
    sanction: Optional[Sanction]
    period: Optional[Period]
    question: Optional[str]
    identifiers: list[RequestIdentifier]
    version: int
    versions: list[RequestVersionInfo]
    sent_at: Optional[dt.datetime]
    due_at: Optional[dt.datetime]
    received_at: Optional[dt.datetime]
    answered_at: Optional[dt.datetime]
    refused_at: Optional[dt.datetime]
    refusal_reason: Optional[str]
    overdue: bool = strawberry.field(description="open and past its due time")
    escalated_at: Optional[dt.datetime] = strawberry.field(description="when it was escalated as overdue")
    hold_expires_at: Optional[dt.datetime] = strawberry.field(description="hold_funds: when the hold ends")
    hold_expired: bool
    answer_complete: bool
    answers: list[AnswerPart]
    history: list[HistoryEntry]


@strawberry.type(description="A request to a bank or operator, as police and prosecutors see it.")
class LiaisonRequest(RequestFields):
    batch_id: str = strawberry.field(description="shared by the requests of one fan-out to all banks")
    case_registration_number: str
    multi_episode_case_id: Optional[int]
    created_at: dt.datetime


@strawberry.type(description="A request addressed to your organisation: only what you must answer.")
class IncomingRequest(RequestFields):
    pass


def answer_part(p: Any) -> AnswerPart:
    c = p.content

    def acc(d: Optional[dict[str, str]]) -> Optional[AccountRef]:
        return AccountRef(kind=d["kind"], value=d["display"]) if d else None

    holders = [Holder(name=h.get("name"), iin=h.get("iin"), phone=(h.get("phone") or {}).get("display"),
                      birth_date=h.get("birth_date"), address=h.get("address"),
                      accounts=[acc(a) for a in h.get("accounts", [])])  # type: ignore[misc]
               for h in c.get("holders", [])]
    movements = [Movement(at=_dt(m.get("at")), direction=m["direction"], amount_kzt=m["amount_kzt"],
                          counterparty=acc(m.get("counterparty")), counterparty_name=m.get("counterparty_name"),
                          description=m.get("description")) for m in c.get("movements", [])]
    h = c.get("hold")
    hold = Hold(account=acc(h["account"]), amount_kzt=h.get("amount_kzt"), held_from=_dt(h["held_from"]),  # type: ignore[arg-type]
                held_until=_dt(h["held_until"])) if h else None  # type: ignore[arg-type]
    files = [AnswerFile(sha256=f["sha256"], name=f.get("name"), size_bytes=f.get("size_bytes"),
                        recorded_at=_dt(f["recorded_at"])) for f in c.get("files", [])]  # type: ignore[arg-type]
    return AnswerPart(seq=p.seq, sha256=p.sha256, complete=p.complete, saved_at=as_utc(p.created_at),  # type: ignore[arg-type]
                      mentions_added=p.mentions_added, holders=holders, movements=movements, hold=hold,
                      files=files, text=c.get("text"), no_data=bool(c.get("no_data")), content=c)


def _fields(b: record.Bundle, now: dt.datetime, *, full: bool, directory: Any) -> dict[str, Any]:
    r = b.request
    c = b.current.content
    sig, san, per = c.get("signer"), c.get("sanction"), c.get("period")
    due = as_utc(r.due_at)
    hold_until = as_utc(r.hold_expires_at)
    return dict(
        id=r.id, kind=r.kind, state=r.state,
        organisation=OrganisationRef(id=r.org_id, name=directory.organisation(r.org_id).name),
        sender_unit=r.sender_unit_id, urgent=r.urgent, legal_basis=c.get("legal_basis", ""),
        signer=Signer(**sig) if sig else None,
        sanction=Sanction(reference=san.get("reference"), date=_date(san.get("date")),
                          prosecutor=san.get("prosecutor")) if san else None,
        period=Period(start=_date(per.get("from")), end=_date(per.get("to"))) if per else None,
        question=c.get("question"),
        identifiers=[RequestIdentifier(**i) for i in record.identifier_values(b, full=full)],
        version=r.version,
        versions=[RequestVersionInfo(version=v.version, sha256=v.sha256, sealed_at=as_utc(v.sealed_at),
                                     amendment_reason=v.content.get("amendment_reason")) for v in b.versions],
        sent_at=as_utc(r.sent_at), due_at=due, received_at=as_utc(r.received_at),
        answered_at=as_utc(r.answered_at), refused_at=as_utc(r.refused_at), refusal_reason=r.refusal_reason,
        overdue=r.state in OPEN_STATES and due is not None and due <= now,
        escalated_at=as_utc(r.overdue_at), hold_expires_at=hold_until,
        hold_expired=hold_until is not None and hold_until <= now,
        answer_complete=record.answer_complete(b), answers=[answer_part(p) for p in b.parts],
        history=[HistoryEntry(at=as_utc(h.at), actor=h.actor, action=h.action, details=h.details)  # type: ignore[arg-type]
                 for h in b.history],
    )


def staff_view(b: record.Bundle, now: dt.datetime, directory: Any) -> LiaisonRequest:
    r = b.request
    return LiaisonRequest(**_fields(b, now, full=False, directory=directory), batch_id=r.batch_id,
                          case_registration_number=r.case_number, multi_episode_case_id=r.mec_id,
                          created_at=as_utc(r.created_at))  # type: ignore[arg-type]


def liaison_view(b: record.Bundle, now: dt.datetime, directory: Any) -> IncomingRequest:
    return IncomingRequest(**_fields(b, now, full=True, directory=directory))


@strawberry.type(description="How one organisation answers: the discipline the law asks for.")
class OrganisationFigures:
    organisation: str
    sent: int
    open: int = strawberry.field(description="sent, received or overdue right now")
    overdue_now: int
    answered: int
    refused: int
    median_answer_seconds: Optional[float] = strawberry.field(description="sent → answered")
    answered_on_time_share: Optional[float] = strawberry.field(
        description="of answered requests and open ones past due, the share answered by the due time")


@strawberry.type(description="A request kind and what it needs (the sanction table).")
class RequestKindInfo:
    kind: str
    summary: str
    needs_sanction: bool
    needs_period: bool
    identifier_kinds: list[str]
    addressee_kinds: list[str]
    fan_out_to_all_banks: bool
    deadline_hours: float


@strawberry.type(description="One event of a request feed; `id` is the cursor to resume from.")
class IncomingRequestEvent:
    id: int
    kind: str = strawberry.field(description="request_sent, request_amended, request_changed or request_escalated")
    change: Optional[str]
    at: dt.datetime
    request_id: int
    request: Optional[IncomingRequest] = strawberry.field(description="the request as it is now")


@strawberry.type(description="One event of the sender's (or HQ's) request feed; `id` is the cursor.")
class LiaisonRequestEvent:
    id: int
    kind: str
    change: Optional[str]
    reason: Optional[str]
    at: dt.datetime
    request_id: int
    request: Optional[LiaisonRequest]


# --- inputs ------------------------------------------------------------------------------------

@strawberry.input
class IdentifierRefInput:
    kind: str
    value: str


@strawberry.input
class SignerInput:
    name: Optional[str] = None
    position: Optional[str] = None
    role: Optional[str] = strawberry.field(default=None, description="investigator or head_of_body")


@strawberry.input
class SanctionInput:
    reference: Optional[str] = None
    date: Optional[dt.date] = None
    prosecutor: Optional[str] = None


@strawberry.input(description="What is demanded. When editing a draft or amending, omitted fields keep their value.")
class RequestDetailsInput:
    identifiers: Optional[list[IdentifierRefInput]] = None
    legal_basis: Optional[str] = strawberry.field(default=None, description="default: CPC art. 34(5)")
    signer: Optional[SignerInput] = None
    sanction: Optional[SanctionInput] = None
    period_from: Optional[dt.date] = None
    period_to: Optional[dt.date] = None
    question: Optional[str] = None
    urgent: Optional[bool] = strawberry.field(default=None, description="hold_funds only: due in hours")


@strawberry.input
class CreateRequestInput:
    kind: str = strawberry.field(description="see the requestKinds query")
    case_registration_number: Optional[str] = None
    multi_episode_case_id: Optional[int] = None
    organisation: Optional[str] = strawberry.field(
        default=None, description="organisation id; omitted: the card's bank or the number's operator")
    all_banks: bool = strawberry.field(default=False, description="account_holder: one request to every bank")
    send: bool = strawberry.field(default=False, description="send at once instead of saving a draft")
    details: RequestDetailsInput = strawberry.field(default_factory=RequestDetailsInput)


@strawberry.input
class AccountRefInput:
    kind: str = strawberry.field(description="card, iban, account, ewallet, crypto_wallet, crypto_exchange_account")
    value: str


@strawberry.input
class HolderInput:
    name: Optional[str] = None
    iin: Optional[str] = None
    phone: Optional[str] = None
    birth_date: Optional[dt.date] = None
    address: Optional[str] = None
    accounts: Optional[list[AccountRefInput]] = None


@strawberry.input
class MovementInput:
    at: dt.datetime
    direction: str = strawberry.field(description="in or out")
    amount_kzt: BigInt  # type: ignore[valid-type]
    counterparty: Optional[AccountRefInput] = None
    counterparty_name: Optional[str] = None
    description: Optional[str] = None


@strawberry.input
class LocationInput:
    at: Optional[dt.datetime] = None
    address: Optional[str] = None
    cell_id: Optional[str] = None


@strawberry.input
class CallInput:
    at: dt.datetime
    direction: str
    other_phone: str
    duration_seconds: Optional[int] = None


@strawberry.input
class IpLoginInput:
    ip: str
    at: Optional[dt.datetime] = None
    port: Optional[int] = None


@strawberry.input
class CashoutInput:
    at: dt.datetime
    place: str
    atm_id: Optional[str] = None
    amount_kzt: Optional[BigInt] = None  # type: ignore[valid-type]


@strawberry.input
class HoldInput:
    account: AccountRefInput
    held_from: dt.datetime
    held_until: Optional[dt.datetime] = strawberry.field(default=None, description="default and maximum: 5 business days")
    amount_kzt: Optional[BigInt] = None  # type: ignore[valid-type]


@strawberry.input
class FileInput:
    sha256: str
    name: Optional[str] = None
    size_bytes: Optional[int] = None


@strawberry.input(description="Structured answer; give the sections your request kind asks for.")
class AnswerInput:
    holders: Optional[list[HolderInput]] = None
    movements: Optional[list[MovementInput]] = None
    locations: Optional[list[LocationInput]] = None
    calls: Optional[list[CallInput]] = None
    ips: Optional[list[IpLoginInput]] = None
    cashouts: Optional[list[CashoutInput]] = None
    hold: Optional[HoldInput] = None
    files: Optional[list[FileInput]] = None
    text: Optional[str] = None
    no_data: bool = strawberry.field(default=False, description="the organisation holds nothing on this")


def to_details(d: RequestDetailsInput) -> Details:
    return Details(
        identifiers=[(i.kind, i.value) for i in d.identifiers] if d.identifiers is not None else None,
        legal_basis=d.legal_basis,
        signer=SignerSpec(d.signer.name, d.signer.position, d.signer.role) if d.signer else None,
        sanction=SanctionSpec(d.sanction.reference, d.sanction.date, d.sanction.prosecutor) if d.sanction else None,
        period_from=d.period_from, period_to=d.period_to, question=d.question, urgent=d.urgent,
    )
