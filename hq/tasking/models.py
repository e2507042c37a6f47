"""Tables for tasking: tasks (separate assignments), the per-unit event log, its counter.

A task row is one assignment to one unit; a fan-out to several units is several rows
sharing `batch_id`. `task_events` is the durable feed every client replays from; its ids
are handed out by `feed_counter` (see hq.tasking.events for why a sequence is not enough).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hq.models import Base, BigId, utcnow


class TaskKind(str, enum.Enum):
    FIND_AND_BRING = "find_and_bring"
    INTERVIEW = "interview"
    SEIZE_DEVICE_OR_SIM = "seize_device_or_sim"
    OBTAIN_CCTV = "obtain_cctv"
    CHECK_PRIOR_CRIMES = "check_prior_crimes"
    OTHER = "other"


class TaskState(str, enum.Enum):
    ISSUED = "issued"
    DELIVERED = "delivered"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    REFUSED = "refused"
    CANCELLED = "cancelled"


class TaskPriority(str, enum.Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


FINAL_STATES = frozenset({TaskState.DONE.value, TaskState.REFUSED.value, TaskState.CANCELLED.value})


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    sender_unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    target_unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    # the target region's head unit, fixed at issue time: who hears about escalations
    escalation_unit_id: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    case_number: Mapped[str | None] = mapped_column(String(32))
    mec_id: Mapped[int | None] = mapped_column(BigId)
    text: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(8), default=TaskPriority.NORMAL.value)
    deadline: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    attachments: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(12), default=TaskState.ISSUED.value)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]
    created_by: Mapped[int | None] = mapped_column(BigId)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    undelivered_escalated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_escalated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_tasks_target_state", "target_unit_id", "state"),
        Index("ix_tasks_sender", "sender_unit_id"),
        Index("ix_tasks_state_deadline", "state", "deadline"),
    )


class TaskEvent(Base):
    """One event for one unit. `id` is the feed cursor: assigned in commit order."""

    __tablename__ = "task_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    unit_id: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(24))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)  # type: ignore[type-arg]
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_task_events_unit_id", "unit_id", "id"),)


class FeedCounter(Base):
    """The last event id handed out. Updating it locks the row until commit."""

    __tablename__ = "feed_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
