"""Audit tables: the chained log, its object index, and the one-row chain head.

`audit_log` rows are never updated or deleted (on PostgreSQL a trigger refuses it, see
migration 0005); `audit_refs` indexes the objects an entry names so `auditTrail` can find
them; `audit_head` is the lock every append takes first, which serialises appends on
SQLite and PostgreSQL alike (no forks) and remembers the last hash and sequence number,
so a truncated tail is detected too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hq.models import Base, BigId, utcnow

GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # mutation | read
    operation: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(16))  # ok | error | rejected
    principal_id: Mapped[int | None] = mapped_column(BigId)
    role: Mapped[str | None] = mapped_column(String(24))
    unit_id: Mapped[str | None] = mapped_column(String(64))
    org_id: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    objects: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[type, id], ...]
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)  # personal-data fields returned
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # error codes, counts
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_log_principal_at", "principal_id", "at"),
        Index("ix_audit_log_at", "at"),
    )


class AuditRef(Base):
    """One object an audit entry names: the index behind auditTrail(objectType, objectId)."""

    __tablename__ = "audit_refs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("audit_log.id"))
    object_type: Mapped[str] = mapped_column(String(48))
    object_id: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("ix_audit_refs_object", "object_type", "object_id", "entry_id"),)


class AuditHead(Base):
    """The single row (id=1) every append updates first: lock, last seq, last hash."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
