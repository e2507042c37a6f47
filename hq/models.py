"""The relational model: directory, principals, cases, victims, identifiers and mentions.

Links are stored in linear space: one `Mention` row per (case, identifier, role), never a
row per pair of cases. Victim personal data lives in its own table so that access to it
can be granted, masked and audited separately from the case itself.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# BIGINT on PostgreSQL; INTEGER on SQLite so that the primary key is the rowid alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Role(str, enum.Enum):
    HQ_ANALYST = "hq_analyst"
    REGIONAL_OFFICER = "regional_officer"
    LIAISON = "liaison"
    PROSECUTOR = "prosecutor"
    ADMIN = "admin"


class CaseStatus(str, enum.Enum):
    REGISTERED = "registered"
    IN_PROGRESS = "in_progress"
    SUSPENDED = "suspended"
    SOLVED = "solved"
    SENT_TO_COURT = "sent_to_court"
    CLOSED = "closed"


class Scheme(str, enum.Enum):
    FAKE_BANK_CALL = "fake_bank_call"
    FAKE_POLICE_CALL = "fake_police_call"
    FAKE_INVESTMENT = "fake_investment"
    SOCIAL_MEDIA = "social_media"
    CREDIT_IN_VICTIM_NAME = "credit_in_victim_name"
    FAKE_SHOP_OR_AD = "fake_shop_or_ad"
    DROPPER = "dropper"
    MIRROR_SITE = "mirror_site"
    PRIZE_OR_LOTTERY = "prize_or_lottery"
    CHARITY_OR_RELATIVE = "charity_or_relative"
    OTHER = "other"


class MentionRole(str, enum.Enum):
    SUSPECT = "suspect"
    VICTIM = "victim"
    WITNESS = "witness"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Region(Base):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name_kk: Mapped[str] = mapped_column(String(120))
    name_ru: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    centre: Mapped[str] = mapped_column(String(80), default="")
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    name_en: Mapped[str] = mapped_column(String(160))
    name_ru: Mapped[str] = mapped_column(String(160))
    name_kk: Mapped[str] = mapped_column(String(160))
    is_head: Mapped[bool] = mapped_column(Boolean, default=False)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(160))
    card_bins: Mapped[list[str]] = mapped_column(JSON, default=list)
    phone_prefixes: Mapped[list[str]] = mapped_column(JSON, default=list)


class Principal(Base):
    """Someone holding an API token. The token itself is never stored, only its hash."""

    __tablename__ = "principals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(24))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    unit: Mapped[Unit | None] = relationship(lazy="joined")
    organisation: Mapped[Organisation | None] = relationship(lazy="joined")


class Case(Base):
    """One criminal case as registered in a region (one victim's report)."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    registration_number: Mapped[str] = mapped_column(String(32), unique=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    unit_name: Mapped[str | None] = mapped_column(String(200))
    registered_at: Mapped[dt.date] = mapped_column(Date)
    article: Mapped[str | None] = mapped_column(String(32))
    scheme: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.REGISTERED.value)
    damage_kzt: Mapped[int] = mapped_column(BigInteger, default=0)
    recovered_kzt: Mapped[int] = mapped_column(BigInteger, default=0)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )

    victim: Mapped[Victim | None] = relationship(
        back_populates="case", uselist=False, cascade="all, delete-orphan", lazy="raise"
    )
    mentions: Mapped[list[Mention]] = relationship(
        back_populates="case", cascade="all, delete-orphan", lazy="raise"
    )

    __table_args__ = (
        Index("ix_cases_region_date", "region_code", "registered_at"),
        Index("ix_cases_registered_at", "registered_at"),
        Index("ix_cases_status", "status"),
        Index("ix_cases_scheme", "scheme"),
    )


class CaseStat(Base):
    """The statistics rollup, per month, region and status or scheme (see `hq.case_stats`).

    Equal at every commit to a GROUP BY over `cases`: every case is counted once in a
    `dimension = 'total'` row (value ''), once in a `dimension = 'status'` row (value: its
    status) and once in a `dimension = 'scheme'` row (value: its scheme, 'unknown' if none).
    Kept in the transaction of every case write;
    `hq.console.stats` reads whole months here and only a period's edge days from `cases`.
    """

    __tablename__ = "case_stats"

    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)  # 'total', 'status' or 'scheme'
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # 'YYYY-MM' of registered_at
    region_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[str] = mapped_column(String(32), primary_key=True)
    cases: Mapped[int] = mapped_column(BigInteger)
    solved: Mapped[int] = mapped_column(BigInteger)  # solved or sent to court
    suspended: Mapped[int] = mapped_column(BigInteger)
    damage_kzt: Mapped[int] = mapped_column(BigInteger)
    recovered_kzt: Mapped[int] = mapped_column(BigInteger)


class Victim(Base):
    """Victim personal data, kept apart from the case so it can be masked and audited."""

    __tablename__ = "victims"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    iin: Mapped[str | None] = mapped_column(String(12))

    case: Mapped[Case] = relationship(back_populates="victim")


class Identifier(Base):
    """A normalised value of one kind: the node that mentions hang on."""

    __tablename__ = "identifiers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    display: Mapped[str] = mapped_column(String(200))
    strength: Mapped[str] = mapped_column(String(8))
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    excluded_reason: Mapped[str | None] = mapped_column(Text)

    # A unique index, not a table constraint: the bulk path drops and rebuilds it for a load
    # into an empty database (SQLite cannot drop a constraint's index; migration 0007).
    __table_args__ = (Index("uq_identifiers_kind_key", "kind", "key", unique=True),)


class Mention(Base):
    """One case mentioning one identifier in one role: the only link row there is."""

    __tablename__ = "mentions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    identifier_id: Mapped[int] = mapped_column(ForeignKey("identifiers.id"))
    role: Mapped[str] = mapped_column(String(8), default=MentionRole.SUSPECT.value)
    note: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="mentions")
    identifier: Mapped[Identifier] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("case_id", "identifier_id", "role", name="uq_mentions_case_ident_role"),
        Index("ix_mentions_identifier", "identifier_id", "role"),
    )


# --- linking ---------------------------------------------------------------------------------


class MecStatus(str, enum.Enum):
    OPEN = "open"  # found by the engine, not yet reviewed
    CONFIRMED = "confirmed"  # an analyst agreed these episodes belong together
    REJECTED = "rejected"  # an analyst disagreed; kept for the record
    DISSOLVED = "dissolved"  # no longer has two episodes (evidence removed or merged away)


class MultiEpisodeCase(Base):
    """A group of cases tied by perpetrator-side identifiers: one gang, many episodes.

    Totals are denormalised here so lists, filters and sorting are single-table queries;
    the linker refreshes them whenever membership changes.
    """

    __tablename__ = "multi_episode_cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    status: Mapped[str] = mapped_column(String(12), default=MecStatus.OPEN.value)
    size: Mapped[int] = mapped_column(Integer, default=0)
    region_count: Mapped[int] = mapped_column(Integer, default=0)
    victims: Mapped[int] = mapped_column(Integer, default=0)
    damage_kzt: Mapped[int] = mapped_column(BigInteger, default=0)
    recovered_kzt: Mapped[int] = mapped_column(BigInteger, default=0)
    first_date: Mapped[dt.date | None] = mapped_column(Date)
    last_date: Mapped[dt.date | None] = mapped_column(Date)
    has_hub: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=True)
    merged_into_id: Mapped[int | None] = mapped_column(BigId)
    lead_unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    lead_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        Index("ix_mec_status_size", "status", "size"),
        Index("ix_mec_damage", "damage_kzt"),
    )


class CaseLink(Base):
    """Where the linker put a case: its core group (strong non-phone evidence) and its
    multi-episode case (core groups joined by non-hub phones). One row per case."""

    __tablename__ = "case_links"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(BigId)
    mec_id: Mapped[int | None] = mapped_column(BigId, index=True)

    __table_args__ = (Index("ix_case_links_group", "group_id"),)


class IdentifierStat(Base):
    """Per linkable phone: how many unrelated core groups use it, and whether that makes it a hub."""

    __tablename__ = "identifier_stats"

    identifier_id: Mapped[int] = mapped_column(ForeignKey("identifiers.id"), primary_key=True)
    group_count: Mapped[int] = mapped_column(Integer, default=0)
    hub: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class SplitCut(Base):
    """An analyst's split: this case's mention of this identifier links only within its side.

    Linking treats (identifier, tag) as the node, so the same evidence cannot rejoin the
    two sides later, while each side keeps linking through it internally.
    """

    __tablename__ = "split_cuts"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    identifier_id: Mapped[int] = mapped_column(ForeignKey("identifiers.id"), primary_key=True)
    tag: Mapped[int] = mapped_column(BigId)


class MecDecision(Base):
    """Who decided what about a multi-episode case, when and why (append-only)."""

    __tablename__ = "mec_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mec_id: Mapped[int] = mapped_column(BigId, index=True)
    principal_id: Mapped[int | None] = mapped_column(BigId)
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)  # type: ignore[type-arg]
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WriteLock(Base):
    """One row every case write updates first: serialises linking on SQLite and PostgreSQL alike."""

    __tablename__ = "write_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
