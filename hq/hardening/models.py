"""Retired tokens: the old token of a rotated principal, valid until its grace period ends.

Rotation keeps the principal (and so its audit trail and task history) and gives it a new
token; clients that still hold the old one keep working for HQ_TOKEN_ROTATION_GRACE seconds.
Like principals, only the keyed hash is stored.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hq.models import Base, BigId, utcnow


class RetiredToken(Base):
    __tablename__ = "retired_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal_id: Mapped[int] = mapped_column(BigId, ForeignKey("principals.id"), index=True)
    retired_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    valid_until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
