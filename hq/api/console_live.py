"""`multiEpisodeCaseUpdated`: live updates for analysts over graphql-transport-ws.

Uses the shared broker abstraction (`realtime`): the app's broker when one is configured
(`Services.broker`), else one in-process broker per app. Writers publish the ids of
changed multi-episode cases after commit (`hq.console.notify`); each subscriber re-reads
those rows and reports a watched case that changed (EPISODE_JOINED when it grew) or a
case created since it subscribed that reaches the size or damage threshold (NEW_CASE).
On RESYNC (messages may be lost) it re-reads everything updated since its last look.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from typing import Any, Optional

import strawberry
from sqlalchemy import select

from hq.api.console_types import MultiEpisodeCaseType
from hq.api.context import Context, Services
from hq.api.errors import ForbiddenError
from hq.api.scalars import BigInt
from hq.console import notify
from hq.console.visibility import View, view_of
from hq.models import MecStatus
from hq.models import MultiEpisodeCase as MecRow
from realtime import InProcessBroker, is_resync


def broker_of(services: Services) -> Any:
    broker = services.broker
    if broker is None:
        broker = services.extras.get("console_broker")
        if broker is None:
            broker = services.extras["console_broker"] = InProcessBroker()
    notify.use_broker(broker)
    return broker


async def publish_changed(services: Services, mec_ids: set[int]) -> None:
    broker_of(services)
    await notify.publish(mec_ids)


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.timezone.utc).replace(tzinfo=None) if t.tzinfo else t


@strawberry.type
class MultiEpisodeCaseUpdate:
    reason: str = strawberry.field(description="EPISODE_JOINED, CHANGED (a watched case) or NEW_CASE")
    multi_episode_case: MultiEpisodeCaseType


async def multi_episode_case_updated(
    info: strawberry.Info[Context, None],
    watch: Optional[list[int]] = None,
    min_size: Optional[int] = None,
    min_damage_kzt: Optional[BigInt] = None,  # type: ignore[valid-type]
) -> AsyncGenerator[MultiEpisodeCaseUpdate, None]:
    ctx = info.context
    if view_of(ctx.caller) is not View.FULL:
        raise ForbiddenError("live multi-episode case updates are for HQ analysts", field="multiEpisodeCaseUpdated")
    settings = ctx.settings
    size_at = min_size if min_size is not None else settings.alert_min_size
    damage_at = min_damage_kzt if min_damage_kzt is not None else settings.alert_min_damage_mci * settings.mci_kzt
    watched = set(watch or [])
    broker = broker_of(ctx.services)
    async with broker.subscribe(notify.CHANNEL) as sub:
        started = _naive(dt.datetime.now(dt.timezone.utc))
        last_look = started
        sizes: dict[int, int] = {}
        reported_new: set[int] = set()
        async with ctx.sessions() as s:
            if watched:
                for r in (await s.execute(select(MecRow.id, MecRow.size).where(MecRow.id.in_(watched)))):
                    sizes[int(r[0])] = int(r[1])
        async for msg in sub:
            now = _naive(dt.datetime.now(dt.timezone.utc))
            async with ctx.sessions() as s:
                if is_resync(msg):
                    q = select(MecRow).where(MecRow.updated_at >= last_look - dt.timedelta(seconds=1))
                else:
                    q = select(MecRow).where(MecRow.id.in_([int(i) for i in msg.get("ids", [])]))
                rows = list((await s.execute(q.order_by(MecRow.id))).scalars())
            last_look = now
            for row in rows:
                reason = None
                if row.id in watched:
                    before = sizes.get(row.id, 0)
                    reason = "EPISODE_JOINED" if row.size > before else "CHANGED"
                    sizes[row.id] = row.size
                elif (row.id not in reported_new and row.status != MecStatus.DISSOLVED.value
                      and _naive(row.created_at) >= started - dt.timedelta(seconds=1)
                      and (row.size >= size_at or row.damage_kzt >= damage_at)):
                    reported_new.add(row.id)
                    reason = "NEW_CASE"
                if reason:
                    yield MultiEpisodeCaseUpdate(reason=reason,
                                                 multi_episode_case=MultiEpisodeCaseType.from_row(row, View.FULL, None))
