"""The one write path for cases: lock, store a batch, then re-link what it touched.

Every door (file import, GraphQL mutations, task results, liaison answers) calls
`ingest` inside the caller's transaction, so a case is never stored without its links
and concurrent writers end as if they had run one after the other.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from hq.case_record import CaseRecord
from hq.case_store import StoreResult, store_cases
from hq.console import notify
from hq.linking.incremental import lock_writes, relink_cases


async def ingest(session: AsyncSession, records: list[CaseRecord], *, locked: bool = False,
                 fast: bool = True) -> StoreResult:
    """Store and link `records`; `fast=False` forces the general linking path (tests compare the two)."""
    if not locked:
        await lock_writes(session)
    result = await store_cases(session, records)
    if result.changed_case_ids:
        result.changed_mecs = await relink_cases(session, result.changed_case_ids,
                                                 result.new_case_ids if fast else set())
        notify.after_commit(session, result.changed_mecs)  # live console updates, once committed
    return result
