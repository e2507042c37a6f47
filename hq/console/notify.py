"""Announce changed multi-episode cases after the writer's transaction commits.

`hq.ingest` is the one write path but does not own the transaction, so it only records
the changed ids on the session; they are published on `CHANNEL` once the commit has
happened (a subscriber that wakes up must find the data), and dropped on rollback. The
broker carries wake-up calls only (see realtime.base): subscribers re-read the database.
Brokers register with `use_broker` (the app's broker; the console does it on first use).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CHANNEL = "console.mec"
_KEY = "hq.console.changed_mecs"
_brokers: list[Any] = []
_tasks: set[asyncio.Task[Any]] = set()


def use_broker(broker: Any) -> None:
    """Publish to this broker from now on (idempotent)."""
    if broker is not None and all(b is not broker for b in _brokers):
        _brokers.append(broker)


def forget_broker(broker: Any) -> None:
    _brokers[:] = [b for b in _brokers if b is not broker]


async def publish(mec_ids: Iterable[int]) -> None:
    ids = sorted(set(mec_ids))
    if not ids:
        return
    for broker in list(_brokers):
        try:
            await broker.publish(CHANNEL, {"ids": ids})
        except Exception:  # noqa: BLE001 - a wake-up lost costs latency, never data
            log.warning("could not announce multi-episode cases %s", ids[:10], exc_info=True)


def after_commit(session: AsyncSession, mec_ids: Iterable[int]) -> None:
    """Queue these ids for publication when the session's transaction commits."""
    ids = set(mec_ids)
    if not ids or not _brokers:
        return
    sync: Session = session.sync_session
    pending: set[int] | None = sync.info.get(_KEY)
    if pending is not None:
        pending |= ids
        return
    sync.info[_KEY] = ids

    def fire(s: Session) -> None:
        done = s.info.pop(_KEY, None)
        if done:
            task = asyncio.get_running_loop().create_task(publish(done))
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)

    def drop(s: Session) -> None:
        s.info.pop(_KEY, None)

    event.listen(sync, "after_commit", fire, once=True)
    event.listen(sync, "after_soft_rollback", drop, once=True)
