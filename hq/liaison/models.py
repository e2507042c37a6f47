"""Tables for liaison requests: the request, its sealed versions, answer parts, history.

Why this split: the workflow (state, timestamps) changes, but what was demanded and what
was answered must never change once sent. So the demand lives in `liaison_request_versions`
(a version is sealed with its SHA-256 when sent; amendments add versions) and answers in
`liaison_answer_parts` (append-only, each hashed when saved). `liaison_request_history`
is the append-only who/what/when log. A full card number appears only in a version's
`secret` column, which is served only to the addressed organisation.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hq.models import Base, BigId, utcnow


class RequestState(str, enum.Enum):
    DRAFT = "draft"
    SENT = "sent"
    RECEIVED = "received"  # the liaison opened it
    ANSWERED = "answered"
    REFUSED = "refused"
    OVERDUE = "overdue"  # not answered by its due time (a late answer still moves it to answered)


OPEN_STATES = (RequestState.SENT.value, RequestState.RECEIVED.value, RequestState.OVERDUE.value)
FINAL_STATES = (RequestState.ANSWERED.value, RequestState.REFUSED.value)


class LiaisonRequest(Base):
    __tablename__ = "liaison_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(32), index=True)  # shared by a fan-out to all banks
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(12), default=RequestState.DRAFT.value)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    case_number: Mapped[str] = mapped_column(String(32))
    mec_id: Mapped[int | None] = mapped_column(BigId)
    sender_unit_id: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(BigId)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    answer_parts: Mapped[int] = mapped_column(Integer, default=0)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    refused_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # escalated then
    hold_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_liaison_requests_org_state", "org_id", "state"),
        Index("ix_liaison_requests_state_due", "state", "due_at"),
        Index("ix_liaison_requests_sender", "sender_unit_id"),
        Index("ix_liaison_requests_case", "case_id"),
    )


class RequestVersion(Base):
    """What was demanded. Editable only while the request is a draft; sealed (hashed) on send."""

    __tablename__ = "liaison_request_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("liaison_requests.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    secret: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"<index>": full card number}
    sha256: Mapped[str | None] = mapped_column(String(64))
    sealed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("request_id", "version", name="uq_liaison_versions_request_version"),)


class AnswerPart(Base):
    """One save of an answer: validated, normalised, hashed, never changed afterwards."""

    __tablename__ = "liaison_answer_parts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("liaison_requests.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    mentions_added: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("request_id", "seq", name="uq_liaison_answer_parts_request_seq"),)


class RequestHistory(Base):
    """Who did what to a request and when (append-only)."""

    __tablename__ = "liaison_request_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("liaison_requests.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    principal_id: Mapped[int | None] = mapped_column(BigId)
    actor: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
