"""Write validated cases to the database: insert, update in place, or recognise as unchanged.

One call stores one batch inside the caller's transaction, so a batch is all-or-nothing:
a crash leaves whole cases or none, and re-running the same input finishes the job
(the registration number is the key, the content hash tells "unchanged" from "updated").
It returns which cases changed and which identifiers they used to mention, which is what
incremental linking needs to know. The statistics rollup (`hq.case_stats`) gets the
batch's changes in the same transaction: +1 per new case, -1 old / +1 new per update.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hq import case_stats
from hq.case_record import CaseRecord, MentionRecord
from hq.models import Case, utcnow
from hq.rawsql import Raw, columns, marks, pg_type


@dataclass(slots=True)
class StoreResult:
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # case id -> identifier ids it mentioned before this write (empty for new cases)
    changed_case_ids: dict[int, set[int]] = field(default_factory=dict)
    # the ids of the cases this write inserted (a subset of changed_case_ids)
    new_case_ids: set[int] = field(default_factory=set)
    # multi-episode cases whose membership changed (filled in by linking)
    changed_mecs: set[int] = field(default_factory=set)


_CASE_COLUMNS = ("registration_number", "region_code", "unit_id", "unit_name", "registered_at", "article",
                 "scheme", "status", "damage_kzt", "recovered_kzt", "content_hash")
_INSERT_CASE = (f"INSERT INTO cases ({', '.join(_CASE_COLUMNS)}, created_at, updated_at) "
                f"VALUES ({marks(len(_CASE_COLUMNS) + 2)}) ON CONFLICT DO NOTHING")
_UPDATE_CASE = f"UPDATE cases SET {', '.join(c + ' = ?' for c in _CASE_COLUMNS)}, updated_at = ? WHERE id = ?"
_INSERT_IDENTIFIER = ("INSERT INTO identifiers (kind, key, display, strength, excluded) VALUES (?, ?, ?, ?, FALSE) "
                      "ON CONFLICT DO NOTHING")
# PostgreSQL: insert the missing identifiers and read every id back in one round trip. The
# rows the INSERT adds come back from RETURNING; the others, already there, from the join
# (a statement's parts share one snapshot, so the join does not see what the INSERT adds).
_IDENTIFIERS_PG = (  # the CTEs that end in `ids`: (id, kind, key) of every identifier given
    "v AS (SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[]) AS v(kind, key, display, strength)), "
    "ins AS (INSERT INTO identifiers (kind, key, display, strength, excluded) "
    "  SELECT kind, key, display, strength, FALSE FROM v ORDER BY kind, key "
    "  ON CONFLICT DO NOTHING RETURNING id, kind, key), "
    "ids AS (SELECT id, kind, key FROM ins UNION ALL "
    "  SELECT i.id, i.kind, i.key FROM v JOIN identifiers i ON i.kind = v.kind AND i.key = v.key)"
)
_ENSURE_PG = f"WITH {_IDENTIFIERS_PG} SELECT id, kind, key FROM ids"
# PostgreSQL: a write's victims and mentions in one statement, column arrays unnested.
_INSERT_VICTIMS_AND_MENTIONS_PG = (
    "WITH v AS (INSERT INTO victims (case_id, name, phone, iin) "
    "  SELECT * FROM unnest(?::bigint[], ?::text[], ?::text[], ?::text[])) "
    "INSERT INTO mentions (case_id, identifier_id, role, note) "
    "SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::text[])"
)
# PostgreSQL, the commonest write (one new case), tried before anything else is read: the
# missing identifiers, the case, its victim, its mentions and the statistics rollup's +1 in one
# statement, data-modifying CTEs in a chain on the case's new id (five round trips were most of
# such a write's store step). Identifiers are found as in `_ENSURE_PG`; the case is only
# inserted if every one of them was (`?` is how many there are: one that another transaction
# added after this statement's snapshot is neither inserted nor seen), and its registration
# number must be free. Otherwise no id comes back and nothing was written but identifiers the
# case mentions anyway, and `store_cases` goes its ordinary way: an update, or a retry.
# The case's values are cast to their columns' types: in `INSERT … SELECT` PostgreSQL does
# not infer a parameter's type from its target column as it does in `VALUES`.
_INSERT_NEW_CASE_PG = (
    f"WITH {_IDENTIFIERS_PG}, "
    f"c AS (INSERT INTO cases ({', '.join(_CASE_COLUMNS)}, created_at, updated_at) "
    f"  SELECT {', '.join(f'?::{pg_type(Case.__table__.c[c])}' for c in (*_CASE_COLUMNS, 'created_at', 'updated_at'))} "
    "  WHERE (SELECT COUNT(*) FROM ids) = ? ON CONFLICT DO NOTHING RETURNING id), "
    "vi AS (INSERT INTO victims (case_id, name, phone, iin) "
    "  SELECT c.id, x.* FROM c, unnest(?::text[], ?::text[], ?::text[]) AS x), "
    "m AS (INSERT INTO mentions (case_id, identifier_id, role, note) "
    "  SELECT c.id, ids.id, x.role, x.note FROM c, unnest(?::text[], ?::text[], ?::text[], ?::text[]) "
    "  AS x(kind, key, role, note) JOIN ids ON ids.kind = x.kind AND ids.key = x.key), "
    f"s AS ({case_stats.upsert_unnest_pg('WHERE EXISTS (SELECT 1 FROM c)')}) "
    "SELECT id FROM c"
)
CHUNK = 500


async def ensure_identifiers(raw: Raw, values: Iterable[tuple[str, str, str, str]]) -> dict[tuple[str, str], int]:
    """Make sure every (kind, key, display, strength) exists; return {(kind, key): id}."""
    rows = {(k, key): (disp, strength) for k, key, disp, strength in values}
    ids: dict[tuple[str, str], int] = {}
    pairs = sorted(rows)  # a stable order keeps concurrent writers from deadlocking
    for start in range(0, len(pairs), CHUNK):
        chunk = pairs[start : start + CHUNK]
        if raw.postgres:
            found = await raw.fetch(_ENSURE_PG, columns([(k, key, *rows[(k, key)]) for k, key in chunk], 4))
            ids.update(((k, key), int(i)) for i, k, key in found)
            if len(found) == len(chunk):
                continue
            # A row another transaction added after this statement's snapshot is neither
            # inserted nor seen (writers hold the write lock, so only a writer that skipped it):
            # the plain path below reads it.
        await raw.executemany(_INSERT_IDENTIFIER, [(k, key, *rows[(k, key)]) for k, key in chunk])
        by_kind: dict[str, list[str]] = {}
        for k, key in chunk:
            by_kind.setdefault(k, []).append(key)
        # (kind = ? AND key IN (…)) OR … : each term uses the unique index, one round trip.
        where = " OR ".join(f"(kind = ? AND key IN ({marks(len(keys))}))" for keys in by_kind.values())
        params = [p for k, keys in by_kind.items() for p in (k, *keys)]
        for ident_id, k, key in await raw.fetch(f"SELECT id, kind, key FROM identifiers WHERE {where}", params):
            ids[(k, key)] = int(ident_id)
    return ids


def _victim_row(rec: CaseRecord) -> tuple[Any, ...]:
    """A case's victim row less its case id (the case has a victim)."""
    v = rec.victim
    assert v is not None
    return (v.name, v.phone, v.iin)


def _mention_row(m: MentionRecord, ident_ids: dict[tuple[str, str], int]) -> tuple[Any, ...]:
    """A mention's row less its case id."""
    return (ident_ids[(m.identifier.kind, m.identifier.key)], m.role, m.note)


def _count(deltas: case_stats.Deltas, rec: CaseRecord) -> None:
    """Count a case in the statistics rollup as it is now."""
    deltas.add(rec.registered_at, rec.region_code, rec.scheme, rec.status, rec.damage_kzt, rec.recovered_kzt)


def _case_values(raw: Raw, rec: CaseRecord, content_hash: str) -> tuple[Any, ...]:
    return (rec.registration_number, rec.region_code, rec.unit_id, rec.unit_name, raw.date(rec.registered_at),
            rec.article, rec.scheme, rec.status, rec.damage_kzt, rec.recovered_kzt, content_hash)


async def store_cases(session: AsyncSession, records: list[CaseRecord]) -> StoreResult:
    """Upsert a batch of cases in the current transaction (the caller commits).

    Plain SQL through `hq.rawsql`: this is the write path of every interactive edit, and
    SQLAlchemy's statement layer would be most of its latency.
    """
    raw = await Raw.of(session)
    result = StoreResult()
    # Last one wins when a batch repeats a registration number, as a re-send would.
    by_reg = {rec.registration_number: rec for rec in records}
    hashes = {reg: rec.content_hash() for reg, rec in by_reg.items()}
    regs = sorted(by_reg)
    if raw.postgres and len(regs) == 1 and await _insert_new_pg(raw, by_reg[regs[0]], hashes[regs[0]], result):
        return result

    existing: dict[str, tuple[int, str]] = {}
    counted: dict[str, tuple[Any, ...]] = {}  # what the statistics rollup counts each existing case under
    lock = " FOR UPDATE" if raw.postgres else ""
    for start in range(0, len(regs), CHUNK):
        chunk = regs[start : start + CHUNK]
        for case_id, reg, h, *stat in await raw.fetch(
                f"SELECT id, registration_number, content_hash, registered_at, region_code, scheme, status, "
                f"damage_kzt, recovered_kzt FROM cases WHERE registration_number IN ({marks(len(chunk))}){lock}",
                chunk):
            existing[reg] = (int(case_id), h)
            counted[reg] = tuple(stat)

    to_write = [reg for reg in regs if reg not in existing or existing[reg][1] != hashes[reg]]
    result.unchanged = [reg for reg in regs if reg in existing and existing[reg][1] == hashes[reg]]
    if not to_write:
        return result

    ident_ids = await ensure_identifiers(
        raw,
        (
            (m.identifier.kind, m.identifier.key, m.identifier.display, m.identifier.strength.value)
            for reg in to_write
            for m in by_reg[reg].mentions
        ),
    )

    now = raw.timestamp(utcnow())
    new_regs = [reg for reg in to_write if reg not in existing]
    new_ids: dict[str, int] = {}
    if len(new_regs) == 1:  # the interactive path: one statement, the id comes back
        reg = new_regs[0]
        rows = await raw.fetch(_INSERT_CASE + " RETURNING id", (*_case_values(raw, by_reg[reg], hashes[reg]), now, now))
        new_ids = {reg: int(rows[0][0])} if rows else {}
    elif new_regs:
        await raw.executemany(_INSERT_CASE, [(*_case_values(raw, by_reg[r], hashes[r]), now, now) for r in new_regs])
        for start in range(0, len(new_regs), CHUNK):
            chunk = new_regs[start : start + CHUNK]
            for cid, reg in await raw.fetch(
                    f"SELECT id, registration_number FROM cases WHERE registration_number IN ({marks(len(chunk))})",
                    chunk):
                new_ids[reg] = int(cid)
    if len(new_ids) != len(new_regs):  # a concurrent writer inserted one first: let the caller retry
        raise IntegrityError("concurrent insert of the same registration number", None, Exception())
    result.new_case_ids = set(new_ids.values())

    old_idents: dict[int, set[int]] = {}
    upd_regs = [reg for reg in to_write if reg in existing]
    if upd_regs:
        upd_ids = [existing[r][0] for r in upd_regs]
        for start in range(0, len(upd_ids), CHUNK):
            chunk = upd_ids[start : start + CHUNK]
            for case_id, ident_id in await raw.fetch(
                    f"SELECT case_id, identifier_id FROM mentions WHERE case_id IN ({marks(len(chunk))})", chunk):
                old_idents.setdefault(int(case_id), set()).add(int(ident_id))
            await raw.execute(f"DELETE FROM mentions WHERE case_id IN ({marks(len(chunk))})", chunk)
            await raw.execute(f"DELETE FROM victims WHERE case_id IN ({marks(len(chunk))})", chunk)
        await raw.executemany(_UPDATE_CASE, [(*_case_values(raw, by_reg[r], hashes[r]), now, existing[r][0])
                                             for r in upd_regs])

    case_ids = {**{r: existing[r][0] for r in upd_regs}, **new_ids}
    victims = []
    mentions = []
    for reg in to_write:
        rec = by_reg[reg]
        cid = case_ids[reg]
        if rec.victim is not None:
            victims.append((cid, *_victim_row(rec)))
        for m in rec.mentions:
            mentions.append((cid, *_mention_row(m, ident_ids)))
        result.changed_case_ids[cid] = old_idents.get(cid, set())
        (result.updated if reg in existing else result.inserted).append(reg)
    if raw.postgres:  # one round trip for both tables
        await raw.execute(_INSERT_VICTIMS_AND_MENTIONS_PG, [*columns(victims, 4), *columns(mentions, 4)])
    else:
        await raw.executemany("INSERT INTO victims (case_id, name, phone, iin) VALUES (?, ?, ?, ?)", victims)
        await raw.executemany("INSERT INTO mentions (case_id, identifier_id, role, note) VALUES (?, ?, ?, ?)",
                              mentions)

    deltas = case_stats.Deltas()
    for reg in to_write:
        if reg in counted:  # an update: whatever the case was counted under, it no longer is
            deltas.add(*counted[reg], sign=-1)
        _count(deltas, by_reg[reg])
    await case_stats.apply(raw, deltas)  # an update that changed none of these is no statement at all
    return result


async def _insert_new_pg(raw: Raw, rec: CaseRecord, content_hash: str, result: StoreResult) -> bool:
    """`store_cases` for one case on PostgreSQL, if it is new: one statement
    (`_INSERT_NEW_CASE_PG`). False, having stored no case, if it is not (or the statement
    could not see every identifier it mentions)."""
    idents = {(m.identifier.kind, m.identifier.key): (m.identifier.display, m.identifier.strength.value)
              for m in rec.mentions}
    victims = [] if rec.victim is None else [_victim_row(rec)]
    mentions = [(m.identifier.kind, m.identifier.key, m.role, m.note) for m in rec.mentions]
    deltas = case_stats.Deltas()
    _count(deltas, rec)
    now = raw.timestamp(utcnow())
    rows = await raw.fetch(_INSERT_NEW_CASE_PG, (*columns([(*k, *v) for k, v in sorted(idents.items())], 4),
                                                 *_case_values(raw, rec, content_hash), now, now, len(idents),
                                                 *columns(victims, 3), *columns(mentions, 4),
                                                 *columns(deltas.rows(), len(case_stats.COLUMNS))))
    if not rows:
        return False
    case_id = int(rows[0][0])
    result.new_case_ids = {case_id}
    result.changed_case_ids[case_id] = set()
    result.inserted.append(rec.registration_number)
    return True
