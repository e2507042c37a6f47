"""Import regional case exports (JSON Lines, ../shared/case-export.md).

Lines are validated one by one: a bad line is reported with its line number, field and
reason and does not stop the good ones. Good lines are stored in batches, one
transaction per batch, so a kill leaves whole batches only; the registration number makes
re-running the same file idempotent and lets it finish an interrupted job.
"""

from __future__ import annotations

import codecs
import json

import orjson
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hq.case_record import CaseRecord, FieldError, parse_case
from hq.ingest import ingest
from regions import Directory

log = logging.getLogger(__name__)
MAX_LINE_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class LineError:
    source: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.field}: {self.reason}"


@dataclass(slots=True)
class ImportReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[LineError] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.errors)

    def summary(self) -> str:
        return (
            f"imported {self.inserted}, updated {self.updated}, unchanged {self.unchanged}, "
            f"rejected {self.rejected}"
        )


def without_bom(lines: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a file without the UTF-8 byte order mark that Windows programs (Notepad,
    Excel's "CSV UTF-8") put before the first one: still UTF-8, which JSON parsers refuse."""
    it = iter(lines)
    for first in it:
        yield first.removeprefix(codecs.BOM_UTF8)
        break
    yield from it


def _too_long(line: str | bytes) -> bool:
    """Over MAX_LINE_BYTES without its line end ("\n", "\r\n")."""
    if len(line) <= MAX_LINE_BYTES:
        return False
    return len(line.rstrip(b"\r\n" if isinstance(line, bytes) else "\r\n")) > MAX_LINE_BYTES


def line_value(line: str | bytes) -> Any:
    """The JSON value on one export line; FieldError("(line)", why) if it holds none: the
    line-level checks of every import door, before the case's own (`hq.case_record`).

    Files are read as bytes and each line decoded on its own: one line that is not UTF-8
    (an export saved as Windows-1251, say) is that line's error, not the end of the import."""
    if _too_long(line):
        raise FieldError("(line)", f"longer than {MAX_LINE_BYTES} bytes")
    try:
        return orjson.loads(line)
    except json.JSONDecodeError as exc:
        if isinstance(line, bytes):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as bad:
                raise FieldError("(line)", f"not UTF-8 text, as the export format requires: byte "
                                           f"0x{line[bad.start]:02x} at byte {bad.start + 1}") from None
        raise FieldError("(line)", f"not valid JSON: {exc.msg} at column {exc.colno}") from None


def parse_lines(
    lines: Iterable[str | bytes], source: str, directory: Directory, pepper: bytes, report: ImportReport
) -> Iterator[tuple[int, CaseRecord]]:
    """Yield (line number, record) for good lines; add bad ones to the report. Lines end at
    "\n" ("\r\n" too: the "\r" is JSON whitespace)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, parse_case(line_value(line), directory, pepper=pepper)
        except FieldError as exc:
            report.errors.append(LineError(source, number, exc.field, exc.reason))


async def _store_batch(
    sessions: async_sessionmaker[AsyncSession], batch: list[tuple[int, CaseRecord]], source: str,
    report: ImportReport,
) -> None:
    """Store one batch; on a conflict retry it, then fall back to one case per transaction."""
    for attempt in range(3):
        try:
            async with sessions.begin() as session:
                res = await ingest(session, [rec for _, rec in batch])
            report.inserted += len(res.inserted)
            report.updated += len(res.updated)
            report.unchanged += len(res.unchanged)
            return
        except (IntegrityError, DBAPIError) as exc:  # concurrent writer or deadlock: try again
            log.warning("batch from %s failed (attempt %d): %s", source, attempt + 1, exc.__class__.__name__)
    if len(batch) == 1:
        number, rec = batch[0]
        report.errors.append(LineError(source, number, "registration_number",
                                       f"could not be stored after retries ({rec.registration_number})"))
        return
    for item in batch:
        await _store_batch(sessions, [item], source, report)


async def import_lines(
    sessions: async_sessionmaker[AsyncSession],
    lines: Iterable[str | bytes],
    source: str,
    directory: Directory,
    pepper: bytes,
    *,
    batch_size: int = 500,
    report: ImportReport | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    report = report or ImportReport()
    batch: list[tuple[int, CaseRecord]] = []
    for number, record in parse_lines(lines, source, directory, pepper, report):
        batch.append((number, record))
        if len(batch) >= batch_size:
            await _store_batch(sessions, batch, source, report)
            if on_progress:
                on_progress(number)
            batch = []
    if batch:
        await _store_batch(sessions, batch, source, report)
    return report


async def import_files(
    sessions: async_sessionmaker[AsyncSession],
    paths: list[Path],
    directory: Directory,
    pepper: bytes,
    *,
    batch_size: int = 500,
    progress: bool = False,
) -> ImportReport:
    report = ImportReport()
    for path in paths:
        with path.open("rb") as fh:  # bytes: a binary file's tell() also works while it is iterated
            lines = without_bom(fh)
            if progress:
                from tqdm import tqdm

                total = path.stat().st_size
                bar = tqdm(total=total, unit="B", unit_scale=True, desc=path.name)

                def advance(_: int, fh=fh, bar=bar) -> None:
                    bar.n = fh.tell()
                    bar.refresh()

                try:
                    await import_lines(sessions, lines, str(path), directory, pepper,
                                       batch_size=batch_size, report=report, on_progress=advance)
                finally:
                    bar.n = total
                    bar.close()
            else:
                await import_lines(sessions, lines, str(path), directory, pepper,
                                   batch_size=batch_size, report=report)
    return report

