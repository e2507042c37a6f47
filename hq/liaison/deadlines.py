"""Due times, hold expiry, the overdue sweep and per-organisation answer discipline.

Why here: "three days" (CPC art. 34(5)) is the whole point of electronic requests, so the
due time is fixed when a request is sent (per-kind hours from settings; urgent holds in
hours), and a sweep turns an unanswered request `overdue` and escalates it to the sender
and HQ. Everything reads an injected clock (`services.extras["clock"]`, as tasking does),
so tests move time instead of sleeping. Each escalation is a conditional UPDATE, so
several app instances sweeping at once escalate a request once.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hq.liaison import feed
from hq.liaison.kinds import RequestKind
from hq.liaison.models import OPEN_STATES, LiaisonRequest, RequestHistory, RequestState
from hq.settings import Settings
from hq.tasking.clock import as_utc, clock_of
from hq.tasking.events import Appended, NewEvent, begin_write
from hq.periodic import Periodic


HOLD_BUSINESS_DAYS = 5
"""Banks may hold a suspicious transaction for up to five business days (2024 amendments)."""


def deadline_hours(settings: Settings, kind: str, urgent: bool) -> float:
    if urgent and kind == RequestKind.HOLD_FUNDS.value:
        return settings.liaison_urgent_hold_hours
    return settings.liaison_deadline_hours.get(kind, settings.liaison_default_deadline_hours)


def due_time(settings: Settings, kind: str, urgent: bool, sent_at: dt.datetime) -> dt.datetime:
    return sent_at + dt.timedelta(hours=deadline_hours(settings, kind, urgent))


def add_business_days(start: dt.datetime, days: int) -> dt.datetime:
    """`days` Monday-to-Friday days after `start` (public holidays are not modelled)."""
    out = start
    left = days
    while left > 0:
        out += dt.timedelta(days=1)
        if out.weekday() < 5:
            left -= 1
    return out


def late_condition(now: dt.datetime) -> Any:
    """Open requests whose due time has passed (whether or not the sweep has run yet)."""
    return and_(LiaisonRequest.state.in_(OPEN_STATES), LiaisonRequest.due_at.is_not(None),
                LiaisonRequest.due_at <= now)


async def escalate_overdue(session: AsyncSession, now: dt.datetime) -> Appended:
    """Mark sent/received requests past due as overdue, once each, with escalation events."""
    waiting = (RequestState.SENT.value, RequestState.RECEIVED.value)
    condition = and_(LiaisonRequest.state.in_(waiting), LiaisonRequest.due_at <= now,
                     LiaisonRequest.overdue_at.is_(None))
    ids = (await session.execute(select(LiaisonRequest.id).where(condition).order_by(LiaisonRequest.id))).scalars().all()
    events: list[NewEvent] = []
    for request_id in ids:
        res = await session.execute(
            update(LiaisonRequest).where(LiaisonRequest.id == request_id, condition)
            .values(state=RequestState.OVERDUE.value, overdue_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:
            continue  # another instance got it, or it was answered meanwhile
        req = (await session.execute(select(LiaisonRequest).where(LiaisonRequest.id == request_id)
                                     .execution_options(populate_existing=True))).scalar_one()
        due = as_utc(req.due_at)
        session.add(RequestHistory(request_id=req.id, at=now, principal_id=None, actor="system",
                                   action="escalated_overdue",
                                   details={"due_at": due.isoformat() if due else None}))
        events += feed.to_sender(req, "request_escalated", "overdue", reason="overdue")
        events.append(feed.to_org(req, "request_changed", "overdue"))
    await session.flush()
    return await feed.append(session, events, now)


class Sweeper(Periodic):
    """Runs `escalate_overdue` every `interval` seconds and announces what it appended."""

    name = "liaison-sweeper"

    def __init__(self, services: Any, interval: float) -> None:
        self.services = services
        super().__init__(interval)

    async def sweep(self) -> Appended:
        now = clock_of(self.services)()
        async with self.services.sessions.begin() as s:
            await begin_write(s)
            appended = await escalate_overdue(s, now)
        if appended:
            await feed.publish(self.services, appended)
        return appended


async def start_liaison(services: Any) -> Any:
    """App start-up hook: the overdue sweeper; returns the coroutine function that stops it."""
    sweeper = Sweeper(services, services.settings.liaison_sweep_interval)
    sweeper.start()
    services.extras["liaison_sweeper"] = sweeper
    return sweeper.stop


@dataclass(slots=True)
class OrgFigures:
    org_id: str
    sent: int = 0
    open: int = 0
    overdue_now: int = 0
    answered: int = 0
    refused: int = 0
    median_answer_seconds: float | None = None
    answered_on_time_share: float | None = None


async def org_figures(session: AsyncSession, now: dt.datetime, scope: Any,
                      orgs: list[str] | None = None) -> list[OrgFigures]:
    """Per addressed organisation: median time to answer (sent → answered), the share of
    judged requests answered by their due time (answered ones, plus open ones already past
    due; refusals are not judged), and how many are open now."""
    q = select(LiaisonRequest.org_id, LiaisonRequest.state, LiaisonRequest.sent_at, LiaisonRequest.due_at,
               LiaisonRequest.answered_at).where(scope, LiaisonRequest.state != RequestState.DRAFT.value)
    if orgs:
        q = q.where(LiaisonRequest.org_id.in_(orgs))
    figures: dict[str, OrgFigures] = {}
    waits: dict[str, list[float]] = {}
    judged: dict[str, list[bool]] = {}
    for org, state, sent, due, answered in await session.execute(q):
        f = figures.setdefault(org, OrgFigures(org))
        sent, due, answered = as_utc(sent), as_utc(due), as_utc(answered)
        f.sent += 1
        if state in OPEN_STATES:
            f.open += 1
            if due is not None and due <= now:
                f.overdue_now += 1
                judged.setdefault(org, []).append(False)
        elif state == RequestState.ANSWERED.value:
            f.answered += 1
            if sent is not None and answered is not None:
                waits.setdefault(org, []).append((answered - sent).total_seconds())
                judged.setdefault(org, []).append(due is None or answered <= due)
        elif state == RequestState.REFUSED.value:
            f.refused += 1
    for org, f in figures.items():
        if waits.get(org):
            f.median_answer_seconds = statistics.median(waits[org])
        if judged.get(org):
            f.answered_on_time_share = sum(judged[org]) / len(judged[org])
    return [figures[o] for o in sorted(figures)]
