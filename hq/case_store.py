"""Write validated cases to the database: insert, update in place, or recognise as unchanged.

One call stores one batch inside the caller's transaction, so a batch is all-or-nothing:
a crash leaves whole cases or none, and re-running the same input finishes the job
(the registration number is the key, the content hash tells "unchanged" from "updated").
It returns which cases changed and which identifiers they used to mention, which is what
incremental linking needs to know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import Table, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hq.case_record import CaseRecord
from hq.models import Case, Identifier, Mention, Victim, utcnow


@dataclass(slots=True)
class StoreResult:
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # case id -> identifier ids it mentioned before this write (empty for new cases)
    changed_case_ids: dict[int, set[int]] = field(default_factory=dict)
    # multi-episode cases whose membership changed (filled in by linking)
    changed_mecs: set[int] = field(default_factory=set)


def insert_ignore(session: AsyncSession, table: Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for the session's dialect."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


async def ensure_identifiers(
    session: AsyncSession, values: Iterable[tuple[str, str, str, str]]
) -> dict[tuple[str, str], int]:
    """Make sure every (kind, key, display, strength) exists; return {(kind, key): id}."""
    rows = {(k, key): (disp, strength) for k, key, disp, strength in values}
    if not rows:
        return {}
    ids: dict[tuple[str, str], int] = {}
    pairs = sorted(rows)  # a stable order keeps concurrent writers from deadlocking
    for start in range(0, len(pairs), 500):
        chunk = pairs[start : start + 500]
        await session.execute(
            insert_ignore(session, Identifier.__table__),
            [
                {"kind": k, "key": key, "display": rows[(k, key)][0], "strength": rows[(k, key)][1],
                 "excluded": False}
                for k, key in chunk
            ],
        )
        by_kind: dict[str, list[str]] = {}
        for k, key in chunk:
            by_kind.setdefault(k, []).append(key)
        # (kind = ? AND key IN (…)) OR … : each term uses the unique index, one round trip.
        found = await session.execute(
            select(Identifier.id, Identifier.kind, Identifier.key).where(
                or_(*(and_(Identifier.kind == k, Identifier.key.in_(keys)) for k, keys in by_kind.items()))
            )
        )
        for ident_id, k, key in found:
            ids[(k, key)] = ident_id
    return ids


def _case_values(rec: CaseRecord, content_hash: str) -> dict[str, Any]:
    return {
        "registration_number": rec.registration_number,
        "region_code": rec.region_code,
        "unit_id": rec.unit_id,
        "unit_name": rec.unit_name,
        "registered_at": rec.registered_at,
        "article": rec.article,
        "scheme": rec.scheme,
        "status": rec.status,
        "damage_kzt": rec.damage_kzt,
        "recovered_kzt": rec.recovered_kzt,
        "content_hash": content_hash,
    }


async def store_cases(session: AsyncSession, records: list[CaseRecord]) -> StoreResult:
    """Upsert a batch of cases in the current transaction (the caller commits)."""
    result = StoreResult()
    # Last one wins when a batch repeats a registration number, as a re-send would.
    by_reg = {rec.registration_number: rec for rec in records}
    hashes = {reg: rec.content_hash() for reg, rec in by_reg.items()}
    regs = sorted(by_reg)

    existing: dict[str, tuple[int, str]] = {}
    query = select(Case.id, Case.registration_number, Case.content_hash).where(
        Case.registration_number.in_(regs)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    for case_id, reg, h in await session.execute(query):
        existing[reg] = (case_id, h)

    to_write = [reg for reg in regs if reg not in existing or existing[reg][1] != hashes[reg]]
    result.unchanged = [reg for reg in regs if reg in existing and existing[reg][1] == hashes[reg]]
    if not to_write:
        return result

    ident_ids = await ensure_identifiers(
        session,
        (
            (m.identifier.kind, m.identifier.key, m.identifier.display, m.identifier.strength.value)
            for reg in to_write
            for m in by_reg[reg].mentions
        ),
    )

    now = utcnow()
    new_regs = [reg for reg in to_write if reg not in existing]
    if new_regs:
        if len(new_regs) == 1:  # the interactive path: one statement, ids come back
            rows = await session.execute(
                insert_ignore(session, Case.__table__).returning(Case.__table__.c.id, Case.__table__.c.registration_number),
                [{**_case_values(by_reg[r], hashes[r]), "created_at": now, "updated_at": now} for r in new_regs],
            )
        else:
            await session.execute(
                insert_ignore(session, Case.__table__),
                [{**_case_values(by_reg[r], hashes[r]), "created_at": now, "updated_at": now} for r in new_regs],
            )
            rows = await session.execute(
                select(Case.id, Case.registration_number).where(Case.registration_number.in_(new_regs))
            )
        new_ids = dict((reg, cid) for cid, reg in rows)
        if len(new_ids) != len(new_regs):  # a concurrent writer inserted one first: let the caller retry
            raise IntegrityError("concurrent insert of the same registration number", None, Exception())
    else:
        new_ids = {}

    old_idents: dict[int, set[int]] = {}
    upd_regs = [reg for reg in to_write if reg in existing]
    if upd_regs:
        upd_ids = [existing[r][0] for r in upd_regs]
        for case_id, ident_id in await session.execute(
            select(Mention.case_id, Mention.identifier_id).where(Mention.case_id.in_(upd_ids))
        ):
            old_idents.setdefault(case_id, set()).add(ident_id)
        for reg in upd_regs:
            await session.execute(
                update(Case)
                .where(Case.id == existing[reg][0])
                .values(**_case_values(by_reg[reg], hashes[reg]), updated_at=now)
            )
        await session.execute(delete(Mention).where(Mention.case_id.in_(upd_ids)))
        await session.execute(delete(Victim).where(Victim.case_id.in_(upd_ids)))

    case_ids = {**{r: existing[r][0] for r in upd_regs}, **new_ids}
    victims = []
    mentions = []
    for reg in to_write:
        rec = by_reg[reg]
        cid = case_ids[reg]
        if rec.victim is not None:
            victims.append({"case_id": cid, "name": rec.victim.name, "phone": rec.victim.phone, "iin": rec.victim.iin})
        for m in rec.mentions:
            mentions.append(
                {"case_id": cid, "identifier_id": ident_ids[(m.identifier.kind, m.identifier.key)],
                 "role": m.role, "note": m.note}
            )
        result.changed_case_ids[cid] = old_idents.get(cid, set())
        (result.updated if reg in existing else result.inserted).append(reg)
    if victims:
        await session.execute(Victim.__table__.insert(), victims)
    if mentions:
        await session.execute(Mention.__table__.insert(), mentions)
    return result
