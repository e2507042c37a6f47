"""Case queries and mutations: read within the caller's scope, write through `ingest`."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any, Optional

import strawberry
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError

from hq.access import Forbidden, case_scope, require_case_write
from hq.api.context import Context
from hq.api.errors import BadUserInput, Conflict, ForbiddenError, NotFound
from hq.api.scalars import BigInt
from hq.api.types import Case, CaseConnection, CaseEdge, ImportLineError, ImportResult, PageInfo
from hq.case_record import FieldError, parse_case
from hq.importer import ImportReport, LineError, import_lines
from hq.ingest import ingest
from hq.linking.incremental import lock_writes
from hq.models import Case as CaseRow
from hq.models import Role

MAX_IMPORT_BYTES = 5_000_000


@strawberry.input
class CaseFilter:
    region: Optional[str] = None
    status: Optional[str] = None
    scheme: Optional[str] = None
    registered_from: Optional[dt.date] = None
    registered_to: Optional[dt.date] = None


@strawberry.input
class VictimInput:
    name: Optional[str] = None
    phone: Optional[str] = None
    iin: Optional[str] = None


@strawberry.input
class IdentifierInput:
    kind: str
    value: str
    role: Optional[str] = None
    note: Optional[str] = None


@strawberry.input(description="The same fields as one line of the regional export format.")
class CaseInput:
    registration_number: str
    region: str
    registered_at: str
    unit: Optional[str] = None
    article: Optional[str] = None
    scheme: Optional[str] = None
    status: Optional[str] = None
    damage_kzt: Optional[BigInt] = None  # type: ignore[valid-type]
    recovered_kzt: Optional[BigInt] = None  # type: ignore[valid-type]
    victim: Optional[VictimInput] = None
    identifiers: Optional[list[IdentifierInput]] = None

    def to_export(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "registration_number": self.registration_number, "region": self.region,
            "registered_at": self.registered_at, "unit": self.unit, "article": self.article,
            "scheme": self.scheme, "status": self.status,
            "damage_kzt": self.damage_kzt or 0, "recovered_kzt": self.recovered_kzt or 0,
        }
        if self.victim is not None:
            obj["victim"] = {"name": self.victim.name, "phone": self.victim.phone, "iin": self.victim.iin}
        if self.identifiers is not None:
            obj["identifiers"] = [
                {"kind": i.kind, "value": i.value, "role": i.role, "note": i.note} for i in self.identifiers
            ]
        return obj


def encode_cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode()


def decode_cursor(cursor: str, field: str = "after") -> list[Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(value, list):
            raise ValueError
        return value
    except (ValueError, UnicodeDecodeError):
        raise BadUserInput("is not a cursor returned by this API", field=field) from None


def check_page_size(first: int, ctx: Context) -> None:
    limit = ctx.settings.max_page_size
    if first < 1 or first > limit:
        raise BadUserInput(f"must be between 1 and {limit}", field="first")


def forbidden(exc: Forbidden) -> ForbiddenError:
    return ForbiddenError(exc.reason, field=exc.field)


async def resolve_case(info: strawberry.Info[Context, None], registration_number: str) -> Optional[Case]:
    ctx = info.context
    async with ctx.sessions() as s:
        row = (
            await s.execute(
                select(CaseRow).where(
                    CaseRow.registration_number == registration_number.strip(), case_scope(ctx.caller)
                )
            )
        ).scalar_one_or_none()
    return Case.from_row(row, detail=True) if row else None


async def resolve_cases(
    info: strawberry.Info[Context, None],
    filter: Optional[CaseFilter] = None,
    first: int = 50,
    after: Optional[str] = None,
) -> CaseConnection:
    ctx = info.context
    check_page_size(first, ctx)
    conds = [case_scope(ctx.caller)]
    if filter is not None:
        if filter.region:
            try:
                conds.append(CaseRow.region_code == ctx.services.directory.region(filter.region).code)
            except ValueError:
                raise BadUserInput(f"unknown region {filter.region!r}", field="filter.region") from None
        if filter.status:
            conds.append(CaseRow.status == filter.status)
        if filter.scheme:
            conds.append(CaseRow.scheme == filter.scheme)
        if filter.registered_from:
            conds.append(CaseRow.registered_at >= filter.registered_from)
        if filter.registered_to:
            conds.append(CaseRow.registered_at <= filter.registered_to)
    where = and_(*conds)
    page_conds = [where]
    if after:
        parts = decode_cursor(after)
        try:
            after_date, after_id = dt.date.fromisoformat(parts[0]), int(parts[1])
        except (IndexError, TypeError, ValueError):
            raise BadUserInput("is not a cursor returned by this API", field="after") from None
        page_conds.append(
            or_(CaseRow.registered_at < after_date,
                and_(CaseRow.registered_at == after_date, CaseRow.id < after_id))
        )
    async with ctx.sessions() as s:
        total = (await s.execute(select(func.count()).select_from(CaseRow).where(where))).scalar_one()
        rows = (
            await s.execute(
                select(CaseRow).where(and_(*page_conds))
                .order_by(CaseRow.registered_at.desc(), CaseRow.id.desc())
                .limit(first + 1)
            )
        ).scalars().all()
    edges = [
        CaseEdge(cursor=encode_cursor(r.registered_at.isoformat(), r.id), node=Case.from_row(r))
        for r in rows[:first]
    ]
    return CaseConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None),
        total_count=total,
    )


async def _write_case(info: strawberry.Info[Context, None], data: CaseInput, *, must_exist: bool,
                      registration_number: Optional[str] = None) -> Case:
    ctx = info.context
    caller = ctx.caller
    obj = data.to_export()
    if registration_number is not None:
        if data.registration_number.strip() != registration_number.strip():
            raise BadUserInput("cannot be changed; it is the case's key", field="input.registrationNumber")
    try:
        record = parse_case(obj, ctx.services.directory, pepper=ctx.settings.pepper)
    except FieldError as exc:
        raise BadUserInput(f"{exc.field}: {exc.reason}", field=f"input.{_camel(exc.field)}") from None
    try:
        require_case_write(caller, record.region_code)
    except Forbidden as exc:
        raise forbidden(exc) from None
    try:
        async with ctx.sessions.begin() as s:
            await lock_writes(s)
            existing = (
                await s.execute(select(CaseRow).where(CaseRow.registration_number == record.registration_number))
            ).scalar_one_or_none()
            if must_exist and existing is None:
                raise NotFound(f"no case {record.registration_number}", field="registrationNumber")
            if not must_exist and existing is not None:
                raise Conflict(f"case {record.registration_number} already exists; use updateCase",
                               field="input.registrationNumber")
            if existing is not None and caller.role is Role.REGIONAL_OFFICER:
                if existing.region_code != caller.region_code:
                    raise ForbiddenError("this case belongs to another region", field="registrationNumber")
            await ingest(s, [record], locked=True)
        async with ctx.sessions() as s:
            row = (
                await s.execute(select(CaseRow).where(CaseRow.registration_number == record.registration_number))
            ).scalar_one()
    except IntegrityError:
        raise Conflict("the case was written concurrently; retry", field="input.registrationNumber") from None
    return Case.from_row(row, detail=True)


def _camel(path: str) -> str:
    head, _, rest = path.partition(".")
    parts = head.split("_")
    out = parts[0] + "".join(p.title() for p in parts[1:])
    return out + ("." + _camel(rest) if rest else "")


async def register_case(info: strawberry.Info[Context, None], input: CaseInput) -> Case:
    return await _write_case(info, input, must_exist=False)


async def update_case(info: strawberry.Info[Context, None], registration_number: str, input: CaseInput) -> Case:
    return await _write_case(info, input, must_exist=True, registration_number=registration_number)


async def import_cases(info: strawberry.Info[Context, None], jsonl: str) -> ImportResult:
    """Import export-format lines; per-line errors come back, good lines are stored."""
    ctx = info.context
    caller = ctx.caller
    if caller.role not in (Role.HQ_ANALYST, Role.ADMIN, Role.REGIONAL_OFFICER):
        raise ForbiddenError(f"role {caller.role.value} cannot import cases")
    if len(jsonl.encode()) > MAX_IMPORT_BYTES:
        raise BadUserInput(f"more than {MAX_IMPORT_BYTES} bytes; use `hq import` for large files", field="jsonl")
    report = ImportReport()
    # Lines end at "\n" as in a file (hq.importer): str.splitlines() would also cut a case at a
    # U+2028 or U+0085 that a note may hold unescaped. A pasted byte order mark is skipped.
    lines = jsonl.removeprefix("\ufeff").split("\n")
    if caller.role is Role.REGIONAL_OFFICER:
        lines = _only_own_region(lines, caller.region_code or "", ctx, report)
    await import_lines(ctx.sessions, lines, "graphql", ctx.services.directory, ctx.settings.pepper,
                       batch_size=ctx.settings.import_batch_size, report=report)
    return ImportResult(
        imported=report.inserted, updated=report.updated, unchanged=report.unchanged,
        rejected=report.rejected,
        errors=[ImportLineError(line=e.line, field=e.field, reason=e.reason)
                for e in sorted(report.errors, key=lambda e: e.line)],
    )


def _only_own_region(lines: list[str], region: str, ctx: Context, report: ImportReport) -> list[str]:
    """Blank out lines of other regions (keeping line numbers) and report them."""
    out = []
    for number, line in enumerate(lines, start=1):
        try:
            obj = json.loads(line) if line.strip() else None
            code = ctx.services.directory.region(str(obj.get("region", ""))).code if isinstance(obj, dict) else None
        except (ValueError, AttributeError):
            code = None
        if code is not None and code != region:
            report.errors.append(LineError("graphql", number, "region",
                                           f"a regional officer of {region} cannot import cases of {code}"))
            out.append("")
        else:
            out.append(line)
    return out
