"""Re-walk the audit chain and say where it was broken.

For each entry, in id order: its hash must match its content (else it was edited), its
prev_hash must equal the previous entry's hash and its seq must follow (else an entry was
deleted or the order changed). At the end the chain must reach the head row (else entries
at the end were deleted). Anyone able to rewrite the whole chain and the head can hide it,
so operators record the printed head hash somewhere else from time to time (an anchor).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hq.audit.chain import entry_hash, row_values
from hq.audit.models import GENESIS_HASH, AuditEntry, AuditHead

CHUNK = 2000


@dataclass
class Problem:
    entry_id: int | None
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = f"entry {self.entry_id} (seq {self.seq})" if self.entry_id is not None else "chain end"
        return f"{where}: {self.message}"


@dataclass
class VerifyReport:
    entries: int = 0
    head_hash: str = GENESIS_HASH
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_chain(sessions: async_sessionmaker[AsyncSession]) -> VerifyReport:
    report = VerifyReport()
    prev_hash, prev_seq, prev_id, last_id = GENESIS_HASH, 0, None, 0
    async with sessions() as s:
        while True:
            rows = (await s.execute(
                select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(CHUNK)
            )).scalars().all()
            if not rows:
                break
            for row in rows:
                report.entries += 1
                if entry_hash(row.prev_hash, row_values(row)) != row.hash:
                    report.problems.append(Problem(row.id, row.seq, "content does not match its hash: the entry was edited"))
                if row.prev_hash != prev_hash:
                    after = f"entry {prev_id}" if prev_id is not None else "the start of the chain"
                    report.problems.append(Problem(row.id, row.seq, f"prev_hash does not match the hash of {after}: "
                                                   "an entry in between was deleted or entries were reordered"))
                if row.seq != prev_seq + 1:
                    report.problems.append(Problem(row.id, row.seq, f"sequence jumps from {prev_seq} to {row.seq}: "
                                                   "entries were deleted or reordered"))
                prev_hash, prev_seq, prev_id, last_id = row.hash, row.seq, row.id, row.id
            s.expunge_all()
        head = (await s.execute(select(AuditHead).where(AuditHead.id == 1))).scalar_one_or_none()
    if head is None:
        report.problems.append(Problem(None, None, "the audit_head row is missing"))
    elif head.seq != prev_seq or head.hash != prev_hash:
        report.problems.append(Problem(None, None, f"the chain ends at seq {prev_seq} but the head is at seq {head.seq}: "
                                       "entries at the end were deleted (or the head was altered)"))
    report.head_hash = prev_hash
    return report
