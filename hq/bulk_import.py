"""The bulk path: a whole region's history or a national backlog, fast.

`hq import --bulk FILE…` validates and normalises lines in worker processes (the same
`parse_case` rules as every other door), writes the NEW cases with the database driver's bulk
primitives (`Raw.insert`: many-row INSERTs on SQLite, COPY on PostgreSQL) in one transaction, sends lines
for cases that already exist through the ordinary incremental path, and finishes with one
full relink (`hq.linking.bulk.full_relink`). Per-line errors are reported exactly as in
the ordinary import. A kill before the commit leaves nothing; re-running finishes the job.
A load into an empty database drops the plain indexes of the loaded tables, the
identifiers' unique (kind, key) index and, on PostgreSQL, their foreign keys, and puts
them back in the same transaction after the rows: one sorted build or one check each
instead of work per row, while a thread links the cases in memory. On SQLite such a load also
runs on a rollback journal instead of WAL when it has the database to itself
(`_rollback_journal`).
"""

from __future__ import annotations

import asyncio
import codecs
import datetime as dt
import gc
import logging
import sqlite3
import time
from collections import deque

import multiprocessing as mp
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hq import case_stats
from hq.case_record import Compact, FieldError, parse_case_compact, record_of
from hq.importer import ImportReport, LineError, line_value
from hq.ingest import ingest
from hq.linking.bulk import Evidence, full_relink, link_evidence
from hq.linking.incremental import lock_writes
from hq.linking.rules import LINKABLE_STRENGTHS, LINKING_ROLE, PHONE_STRENGTH
from hq.db import dialect_name
from hq.models import Case, Identifier, Mention, utcnow
from hq.rawsql import Raw, drop_foreign_keys, drop_indexes, plain_indexes

log = logging.getLogger(__name__)

# Bytes a worker validates at a time: about 5,000 lines of a typical export (~600 bytes each).
CHUNK_BYTES = 3_000_000

# Each table's columns, in the order `_rows` lays out a row's values in its flat list.
CASE_COLS = ["id", "registration_number", "region_code", "unit_id", "unit_name", "registered_at", "article",
             "scheme", "status", "damage_kzt", "recovered_kzt", "content_hash", "created_at", "updated_at"]
IDENT_COLS = ["id", "kind", "key", "display", "strength", "excluded"]
VICTIM_COLS = ["id", "case_id", "name", "phone", "iin"]
MENTION_COLS = ["id", "case_id", "identifier_id", "role", "note"]


@dataclass(frozen=True, slots=True)
class _Job:
    """A chunk of whole lines for a worker, as the file's bytes: one object to send, and no
    decoding, splitting or joining of lines in this process (`_jobs`)."""

    source: str
    first_line: int
    text: bytes
    pepper: bytes

    def lines(self) -> list[bytes]:
        """Its lines, split as the ordinary import splits them (at "\n")."""
        lines = self.text.split(b"\n")
        if lines[-1] == b"":
            lines.pop()  # what follows the last "\n" is not a line
        return lines


def _parse_job(job: _Job) -> tuple[list[tuple[int, Compact]], list[LineError]]:
    """Validate a chunk in a worker: (line number, compact record) per good line, with the
    registration day as ISO text (`_day` turns it back into a date), and the line errors."""
    from regions import load_directory

    directory = load_directory()
    good: list[tuple[int, Compact]] = []
    bad: list[LineError] = []
    # Parsing allocates millions of small objects and next to no reference cycles, so the
    # cyclic collector would only rescan them (a tenth of the parse time): off for the chunk.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for offset, line in enumerate(job.lines()):
            number = job.first_line + offset
            if not line or line.isspace():  # blank (what `not line.strip()` says, without a copy)
                continue
            try:
                rec = parse_case_compact(line_value(line), directory, pepper=job.pepper)
                # The day as its ISO text on the way back: pickling a date object costs more
                # than the rest of the record together (see `_day`).
                good.append((number, (*rec[:4], rec[4].isoformat(), *rec[5:])))
            except FieldError as exc:
                bad.append(LineError(job.source, number, exc.field, exc.reason))
    finally:
        if collecting:
            gc.enable()
    return good, bad


def _jobs(paths: list[Path], pepper: bytes) -> Iterator[_Job]:
    """Chunks of about CHUNK_BYTES, each extended to the end of its last line, read lazily:
    the file is never held in memory whole. Lines are only counted here (for the next
    chunk's first line number); the workers split them."""
    for path in paths:
        with path.open("rb") as fh:
            number = 1
            while block := fh.read(CHUNK_BYTES):
                if not block.endswith(b"\n"):
                    block += fh.readline()  # the rest of the last line (nothing at the end of the file)
                if number == 1:
                    block = block.removeprefix(codecs.BOM_UTF8)  # as `hq.importer.without_bom`
                yield _Job(str(path), number, block, pepper)
                number += block.count(b"\n")


async def parse_stream(pool: Any, paths: list[Path], pepper: bytes, ahead: int
                       ) -> AsyncIterator[tuple[list[tuple[int, Compact]], list[LineError]]]:
    """Validated chunks in file order, with at most `ahead` chunks in flight in the workers."""
    pending: deque[Any] = deque()
    for job in _jobs(paths, pepper):
        pending.append(pool.apply_async(_parse_job, (job,)) if pool is not None else job)
        if len(pending) > ahead:
            yield await _result(pending.popleft())
    while pending:
        yield await _result(pending.popleft())


async def _result(item: Any) -> tuple[list[tuple[int, Compact]], list[LineError]]:
    if isinstance(item, _Job):
        return _parse_job(item)
    return await asyncio.to_thread(item.get)


async def _max_id(session: AsyncSession, table: str) -> int:
    return int((await session.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}"))).scalar_one())


async def _existing_idents(session: AsyncSession) -> dict[tuple[str, str], int]:
    rows = await session.execute(select(Identifier.kind, Identifier.key, Identifier.id))
    return {(k, key): int(i) for k, key, i in rows}


def _day(rec: Compact) -> Compact:
    """A record from the workers with its registration day as a date again (it travels as
    ISO text: 'YYYY-MM-DD', which is also exactly what SQLite's Date column stores)."""
    return (*rec[:4], dt.date.fromisoformat(rec[4]), *rec[5:])


def _rows(records: list[Compact], first_case: int, first_mention: int, first_victim: int,
          idents: dict[tuple[str, str], int], first_ident: int, now: Any, dates: bool,
          evidence: Evidence | None = None) -> tuple[list, list, list, list]:
    """Rows for the four tables, each table's as one flat list of values, row after row in
    its columns' order (`Raw.insert_flat`): no tuple per row to build, chain into a
    statement's parameters and free again. With `evidence`, also note every linking mention
    in it. `dates`: the registration day as a date object (PostgreSQL), not its ISO text (SQLite)."""
    new_idents: list[Any] = []
    cases: list[Any] = []
    victims: list[Any] = []
    mentions: list[Any] = []
    add_ident, add_case, add_victim, add_mention = new_idents.extend, cases.extend, victims.extend, mentions.extend
    next_ident, mention_id, victim_id = first_ident, first_mention, first_victim
    for cid, r in enumerate(map(_day, records) if dates else records, first_case):
        add_case((cid, *r[:10], r[12], now, now))
        if r[10] is not None:
            add_victim((victim_id, cid, *r[10]))
            victim_id += 1
        for kind, key, display, strength, role, note in r[11]:
            iid = idents.get((kind, key))
            if iid is None:
                iid = next_ident
                next_ident += 1
                idents[(kind, key)] = iid
                add_ident((iid, kind, key, display, strength, False))
            add_mention((mention_id, cid, iid, role, note))
            mention_id += 1
            if evidence is not None and role == LINKING_ROLE and strength in LINKABLE_STRENGTHS:
                evidence.case.append(cid)
                evidence.ident.append(iid)
                evidence.phone.append(strength == PHONE_STRENGTH)
    if evidence is not None:
        evidence.case_ids.extend(range(first_case, first_case + len(records)))
    return new_idents, cases, victims, mentions


# What a bulk load writes (vacuumed and analysed after it on PostgreSQL).
LOADED_TABLES = ("identifiers", "cases", "victims", "mentions", "case_links", "identifier_stats", "multi_episode_cases",
                 "mec_decisions", "case_stats")

# Dropped for a load into an empty database and built once after the rows: the plain indexes
# of the bulk-loaded tables, and the identifiers' unique (kind, key) index. The load gives
# each key one id from its own in-memory index, and the rebuild checks that again: a
# duplicate fails it, and the whole load with it. Measured at a million cases on SQLite,
# the identifiers' inserts took 25.6 s with that index in place and 13.9 s without it.
SECONDARY_INDEXES = {**plain_indexes(Case.__table__, Mention.__table__),
                     **{str(ix.name): ix for ix in Identifier.__table__.indexes if ix.unique}}


# SQLite page cache sizes (negative: KiB). The load's: 1 GB, so that the inserts into the
# indexes that stay (rowids, mentions' unique key) find their pages in memory. The index
# builds' and the rollup's: SQLite's default, because the sorter behind CREATE INDEX (and
# GROUP BY) sizes its in-memory runs
# from the cache and sorts far slower in one huge run than in many small ones merged:
# measured at a million cases (two runs), the (kind, key) index built in 7.8 s under the
# load's cache and 3.4 s under the default, the other five in 7.0 against 4.5 s.
# The sorter may also merge its runs in helper threads (`PRAGMA threads`, none by default):
# with the small cache, the (kind, key), mentions and (region, date) indexes of a
# million-case load built in 5.6-5.7 / 2.8-3.9 / 1.7-1.8 s with two helpers against
# 7.7-8.8 / 4.5-4.9 / 2.4-2.7 s without (two runs each, one at a time on a copy).
LOAD_CACHE = -1_000_000
BUILD_CACHE = -2_000
BUILD_THREADS = 2


async def _rollup_and_indexes(session: AsyncSession, raw: Raw, statements: list[str]) -> None:
    """Rebuild the statistics rollup, then run the statements that put back what the load
    dropped (indexes, foreign keys). On SQLite both sort (the rollup's GROUP BY as much as
    the index builds), so both run under the builds' cache and sorter threads: the rollup
    of a million cases took 2.8-3.0 s so against 4.6 s under the load's cache."""
    if not raw.postgres:
        await raw.execute(f"PRAGMA cache_size = {BUILD_CACHE}")
        await raw.execute(f"PRAGMA threads = {BUILD_THREADS}")
    await case_stats.rebuild(session)  # one GROUP BY in SQL, no per-row cost
    for statement in statements:
        await raw.execute(statement)
    if not raw.postgres:
        await raw.execute("PRAGMA threads = 0")
        await raw.execute(f"PRAGMA cache_size = {LOAD_CACHE}")


async def _rollback_journal(session: AsyncSession) -> bool:
    """SQLite, before a load into an empty database: a rollback journal instead of WAL for it.

    In WAL mode every page the load writes goes into the WAL and is copied into the database
    again by the checkpoint that follows the commit (about 1.1 GB at a million cases: most of
    the commit's 8-11 s). With a rollback journal, pages new to the file are written once
    and the journal holds only the few pages the file had. It is as safe: a kill before the
    commit leaves a hot journal, which the next connection rolls back, and `synchronous` is
    FULL meanwhile (NORMAL is safe only with WAL). SQLite leaves WAL only when no other
    connection has the database open, so a load beside a running server keeps WAL; while the
    load runs in this mode, another process's connection reads the state before it until the
    load writes pages, then waits for its commit (busy timeout).
    True if the switch was made (`_back_to_wal` undoes it)."""
    if dialect_name(session) != "sqlite":
        return False
    raw = await Raw.of(session, direct=False)
    if await raw.fetch("SELECT 1 FROM cases LIMIT 1"):
        return False
    try:
        mode = await raw.fetch("PRAGMA journal_mode = DELETE")  # outside a transaction: none is open yet
    except sqlite3.OperationalError:  # "database is locked": another connection has it open
        return False
    if mode[0][0] != "delete":
        return False
    await raw.execute("PRAGMA synchronous = FULL")
    return True


async def _back_to_wal(sessions: async_sessionmaker[AsyncSession], tries: int = 300) -> None:
    """WAL again after the load, as `hq.db.make_engine` sets for every connection. Another
    process that connected meanwhile may be reading for a moment (SQLite refuses the switch
    at once then): try again for up to half a minute, as a busy timeout would."""
    async with sessions() as s:
        raw = await Raw.of(s, direct=False)
        await raw.execute("PRAGMA synchronous = NORMAL")
        for _ in range(tries):
            try:
                await raw.fetch("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError:
                await asyncio.sleep(0.1)
    # The load is committed either way; the next connection that can switches the file to WAL
    # (`hq.db.make_engine` asks on every connect).
    log.warning("the database stays on a rollback journal after the bulk load: another connection "
                "kept it busy; the next connection switches it back to WAL")


async def _bump_sequences(session: AsyncSession) -> None:
    if dialect_name(session) == "postgresql":
        for table in ("identifiers", "cases", "victims", "mentions"):
            await session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"))


async def bulk_import(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], paths: list[Path], pepper: bytes, *,
    hub_threshold: int, workers: int = 2, batch_size: int = 500, timings: dict[str, float] | None = None,
) -> ImportReport:
    """Import files through the bulk path; `timings` (if given) receives seconds per step.

    Streams: workers validate chunk k+1 while this process writes chunk k, so memory stays
    bounded by a few chunks plus the identifier index. Everything new is written in one
    transaction with the full relink, so a kill leaves nothing behind.
    """
    clock = time.perf_counter
    t0 = clock()
    report = ImportReport()
    writing = 0.0
    n_mentions = 0
    again: list[tuple[int, Compact]] = []
    # Before any DB thread exists. The workers keep the cyclic collector off for their whole
    # life, not only while parsing a chunk: switched on again between chunks, it ran at the
    # next allocation (pickling the chunk's result) over everything the chunk had allocated,
    # a tenth of a worker's time (py-spy; a median of 64.4 against 57.6 us a case in six
    # interleaved rounds). They only parse: nothing they allocate forms a reference cycle.
    pool = mp.get_context("fork").Pool(workers, initializer=gc.disable) if workers > 1 else None
    # The load allocates tens of millions of row tuples and no reference cycles: the cyclic
    # collector would only rescan the growing identifier index again and again. Off for the
    # load, as in the workers.
    collecting = gc.isenabled()
    gc.disable()
    own_journal = False
    try:
        async with sessions.begin() as s:
            own_journal = await _rollback_journal(s)
            await lock_writes(s)
            raw = await Raw.of(s, direct=False)
            if not raw.postgres:
                await raw.execute(f"PRAGMA cache_size = {LOAD_CACHE}")
            existing = {r for (r,) in await s.execute(select(Case.registration_number))}
            rebuilt = [] if existing else [*await drop_indexes(raw, SECONDARY_INDEXES.values()),
                                           *await drop_foreign_keys(raw, ("cases", "victims", "mentions"))]
            idents = await _existing_idents(s)
            # Nothing stored yet: the relink can take the linking mentions from memory.
            evidence = Evidence() if not existing and not idents else None
            ids = {t: await _max_id(s, t) + 1 for t in ("cases", "mentions", "victims", "identifiers")}
            seen: set[str] = set()
            async for good, bad in parse_stream(pool, paths, pepper, ahead=2 * workers):
                report.errors.extend(bad)
                regs = {rec[0] for _, rec in good}
                if len(regs) == len(good) and regs.isdisjoint(seen) and regs.isdisjoint(existing):
                    seen |= regs  # the usual chunk: every case new, checked as one set
                    fresh = [rec for _, rec in good]
                else:
                    fresh = []
                    for number, rec in good:
                        if rec[0] in existing or rec[0] in seen:
                            again.append((number, rec))  # an update, or a repeat within the file: last wins
                        else:
                            seen.add(rec[0])
                            fresh.append(rec)
                tw = clock()
                new_idents, cases, victims, mentions = _rows(
                    fresh, ids["cases"], ids["mentions"], ids["victims"], idents, ids["identifiers"],
                    raw.timestamp(utcnow()), raw.postgres, evidence)
                for table, cols, values in (("cases", CASE_COLS, cases), ("mentions", MENTION_COLS, mentions),
                                            ("victims", VICTIM_COLS, victims), ("identifiers", IDENT_COLS, new_idents)):
                    ids[table] += len(values) // len(cols)
                # Identifiers: a VALUES list only while their (kind, key) index is dropped. With
                # it in place, one row per statement is faster (589,420 rows: 3.2 s against 4.3 s;
                # without it, 0.6 s against 0.8 s; measured on their own).
                await raw.insert_flat("identifiers", IDENT_COLS, new_idents, rows_per_statement=None if rebuilt else 1)
                await raw.insert_flat("cases", CASE_COLS, cases)
                await raw.insert_flat("victims", VICTIM_COLS, victims)
                await raw.insert_flat("mentions", MENTION_COLS, mentions)
                writing += clock() - tw
                n_mentions += len(mentions) // len(MENTION_COLS)
                report.inserted += len(fresh)
            idents.clear()  # the identifier index (~2M keys at a million cases) is not needed to link:
            seen.clear()  # free it before the relink reads every mention, which is the memory peak
            existing.clear()
            # Linking the evidence in memory needs no database: a thread does it while SQLite
            # (in aiosqlite's thread, without the GIL while it steps) builds the rollup and indexes.
            linking = asyncio.ensure_future(asyncio.to_thread(link_evidence, evidence, hub_threshold)
                                            ) if evidence is not None else None
            try:
                await _bump_sequences(s)
                tb = clock()
                await _rollup_and_indexes(s, raw, rebuilt)
                building = clock() - tb
                t2 = clock()
                linked = await linking if linking is not None else None
            finally:
                if linking is not None and not linking.done():
                    await asyncio.wait([linking])  # never leave the thread running on a failed load
            await full_relink(s, hub_threshold, linked)
            t_relinked = clock()
        t_committed = clock()
    finally:
        if collecting:
            gc.enable()
        if pool is not None:
            pool.close()
            pool.join()
        if own_journal:
            await _back_to_wal(sessions)
    if engine.dialect.name == "postgresql":
        # Fresh statistics, or the planner scans after a big load; and the visibility map of
        # the new pages, which a load leaves unset: until a vacuum sets it, every index-only
        # scan of them (a case's mentions, a multi-episode case's links) also reads the heap,
        # and the first reader of each row writes its hint bits. Autovacuum would do this
        # later (deploy/README.md); the load does it at once. It skips the pages already
        # marked, so after a load into a big database it costs about what the load added:
        # 2–3 s at a million cases. VACUUM cannot run inside a transaction.
        async with engine.connect() as conn:
            await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text(
                f"VACUUM (ANALYZE) {', '.join(LOADED_TABLES)}"))
    else:
        async with sessions() as s:
            await s.execute(text("PRAGMA optimize"))
            await s.commit()
    t3 = clock()
    # Cases that already existed take the ordinary path: update in place, unchanged, relink.
    for start in range(0, len(again), batch_size):
        async with sessions.begin() as s:
            res = await ingest(s, [record_of(_day(rec)[:12]) for _, rec in again[start:start + batch_size]])
        report.updated += len(res.updated)
        report.unchanged += len(res.unchanged)
    if timings is not None:
        timings.update({"validate_normalise": (t2 - t0) - writing - building, "persist": writing,
                        "indexes_rollup": building, "link": t3 - t2,
                        "relink": t_relinked - t2, "commit": t_committed - t_relinked,
                        "vacuum_analyze": t3 - t_committed,
                        "existing_cases": clock() - t3, "mentions": float(n_mentions)})
    return report


def describe(report: ImportReport) -> dict[str, Any]:
    return {"inserted": report.inserted, "updated": report.updated, "unchanged": report.unchanged,
            "rejected": report.rejected}
