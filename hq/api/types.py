"""GraphQL object types for the directory and for cases.

Objects are plain snapshots built from rows; relations a list may ask for (victim,
identifiers) go through per-request DataLoaders so a page costs a constant number of
queries.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

import strawberry
from sqlalchemy import select
from strawberry.dataloader import DataLoader

from hq import masking
from hq.api.context import Context
from hq.api.scalars import BigInt
from hq.models import Case as CaseRow
from hq.models import Identifier as IdentifierRow
from hq.models import Mention as MentionRow
from hq.models import Organisation as OrganisationRow
from hq.models import Region as RegionRow
from hq.models import Unit as UnitRow
from hq.models import Victim as VictimRow
from regions import Unit as DirectoryUnit


@strawberry.type
class Unit:
    id: str
    kind: str
    region_code: Optional[str]
    parent_id: Optional[str]
    name_en: str
    name_ru: str
    name_kk: str
    is_head: bool

    @classmethod
    def from_row(cls, row: UnitRow) -> "Unit":
        return cls(id=row.id, kind=row.kind, region_code=row.region_code, parent_id=row.parent_id,
                   name_en=row.name_en, name_ru=row.name_ru, name_kk=row.name_kk, is_head=row.is_head)

    @classmethod
    def from_directory(cls, unit: "DirectoryUnit") -> "Unit":
        return cls(id=unit.id, kind=unit.kind, region_code=unit.region_code, parent_id=unit.parent_id,
                   name_en=unit.name_en, name_ru=unit.name_ru, name_kk=unit.name_kk, is_head=unit.head)


@strawberry.type
class Region:
    code: str
    name_kk: str
    name_ru: str
    name_en: str
    centre: str
    aliases: list[str]

    @classmethod
    def from_row(cls, row: RegionRow) -> "Region":
        return cls(code=row.code, name_kk=row.name_kk, name_ru=row.name_ru, name_en=row.name_en,
                   centre=row.centre, aliases=list(row.aliases or []))


@strawberry.type
class Organisation:
    id: str
    kind: str
    name: str

    @classmethod
    def from_row(cls, row: OrganisationRow) -> "Organisation":
        return cls(id=row.id, kind=row.kind, name=row.name)


@strawberry.type
class Me:
    principal_id: int
    name: str
    role: str
    unit: Optional[Unit]
    region_code: Optional[str]
    organisation: Optional[Organisation]


@strawberry.type
class Victim:
    """Victim personal data. Masked in lists; full on `case(registrationNumber)`."""

    name: Optional[str]
    phone: Optional[str]
    iin: Optional[str]
    masked: bool


@strawberry.type
class CaseIdentifier:
    kind: str
    value: str = strawberry.field(description="display form; card numbers are always masked")
    role: str
    note: Optional[str]
    strength: str
    excluded: bool


def _victim_loader(ctx: Context) -> DataLoader[int, Optional[VictimRow]]:
    async def load(case_ids: list[int]) -> list[Optional[VictimRow]]:
        async with ctx.sessions() as s:
            rows = (await s.execute(select(VictimRow).where(VictimRow.case_id.in_(case_ids)))).scalars()
            by_case = {v.case_id: v for v in rows}
        return [by_case.get(cid) for cid in case_ids]

    return DataLoader(load_fn=load)


def _mentions_loader(ctx: Context) -> DataLoader[int, list[CaseIdentifier]]:
    async def load(case_ids: list[int]) -> list[list[CaseIdentifier]]:
        out: dict[int, list[CaseIdentifier]] = {cid: [] for cid in case_ids}
        async with ctx.sessions() as s:
            rows = await s.execute(
                select(MentionRow.case_id, MentionRow.role, MentionRow.note, IdentifierRow.kind,
                       IdentifierRow.display, IdentifierRow.strength, IdentifierRow.excluded)
                .join(IdentifierRow, IdentifierRow.id == MentionRow.identifier_id)
                .where(MentionRow.case_id.in_(case_ids))
                .order_by(MentionRow.case_id, MentionRow.id)
            )
            for cid, role, note, kind, display, strength, excluded in rows:
                out[cid].append(CaseIdentifier(kind=kind, value=display, role=role, note=note,
                                               strength=strength, excluded=excluded))
        return [out[cid] for cid in case_ids]

    return DataLoader(load_fn=load)


def _region_loader(ctx: Context) -> DataLoader[str, Region]:
    async def load(codes: list[str]) -> list[Region]:
        return [_directory_region(ctx, code) for code in codes]

    return DataLoader(load_fn=load)


def _directory_region(ctx: Context, code: str) -> Region:
    r = ctx.services.directory.region(code)
    return Region(code=r.code, name_kk=r.name_kk, name_ru=r.name_ru, name_en=r.name_en,
                  centre=r.centre, aliases=list(r.aliases))


def _victim_fields(info: strawberry.Info[Context, None]) -> list[str]:
    """The personal fields this selection of `victim` returns (all of them if unsure)."""
    personal = ("name", "phone", "iin")
    from strawberry.types.nodes import SelectedField

    sels = [sel for f in info.selected_fields for sel in f.selections]
    names = {sel.name for sel in sels if isinstance(sel, SelectedField)}
    if any(not isinstance(sel, SelectedField) for sel in sels):  # fragments: count every field as read
        return [f"victim.{n}" for n in personal]
    return [f"victim.{n}" for n in personal if n in names]


@strawberry.type
class Case:
    id: strawberry.Private[int]
    detail: strawberry.Private[bool]
    registration_number: str
    region_code: str
    unit_id: Optional[str]
    unit_name: Optional[str]
    registered_at: dt.date
    article: Optional[str]
    scheme: Optional[str]
    status: str
    damage_kzt: BigInt  # type: ignore[valid-type]
    recovered_kzt: BigInt  # type: ignore[valid-type]
    updated_at: dt.datetime

    @strawberry.field
    async def region(self, info: strawberry.Info[Context, None]) -> Region:
        return await info.context.loader("region", _region_loader).load(self.region_code)

    @strawberry.field(description="victim personal data; masked unless read through case(registrationNumber)")
    async def victim(self, info: strawberry.Info[Context, None]) -> Optional[Victim]:
        row = await info.context.loader("victim", _victim_loader).load(self.id)
        if row is None:
            return None
        if self.detail:  # full personal data: audited first (fail-closed), see hq/audit/recorder.py
            from hq.audit.recorder import record_read

            await record_read(info.context, "case", self.registration_number, _victim_fields(info),
                              operation="read victim")
            return Victim(name=row.name, phone=row.phone, iin=row.iin, masked=False)
        return Victim(name=masking.mask_name(row.name), phone=masking.mask_phone(row.phone),
                      iin=masking.mask_iin(row.iin), masked=True)

    @strawberry.field
    async def identifiers(self, info: strawberry.Info[Context, None]) -> list[CaseIdentifier]:
        return await info.context.loader("mentions", _mentions_loader).load(self.id)

    @classmethod
    def from_row(cls, row: CaseRow, *, detail: bool = False) -> "Case":
        return cls(id=row.id, detail=detail, registration_number=row.registration_number,
                   region_code=row.region_code, unit_id=row.unit_id, unit_name=row.unit_name,
                   registered_at=row.registered_at, article=row.article, scheme=row.scheme,
                   status=row.status, damage_kzt=row.damage_kzt, recovered_kzt=row.recovered_kzt,
                   updated_at=row.updated_at)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: Optional[str]


@strawberry.type
class CaseEdge:
    cursor: str
    node: Case


@strawberry.type
class CaseConnection:
    edges: list[CaseEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class ImportLineError:
    line: int
    field: str
    reason: str


@strawberry.type
class ImportResult:
    imported: int
    updated: int
    unchanged: int
    rejected: int
    errors: list[ImportLineError]
