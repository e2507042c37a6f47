"""Configuration, read from `HQ_*` environment variables (and an optional `.env`).

One place for every knob, so the README's settings table and the code cannot drift:
`hq settings` prints this model's fields with their defaults.
"""

from __future__ import annotations

import functools
import logging

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_PEPPER = "dev-only-pepper-change-me-in-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HQ_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite+aiosqlite:///./hq.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://…",
    )
    redis_url: str = Field("", description="redis://host:port/db; empty = in-process broker (one process)")
    host: str = Field("127.0.0.1", description="bind address of `hq serve`")
    port: int = Field(8000, ge=1, le=65535, description="bind port of `hq serve`")
    token_pepper: str = Field(
        DEV_PEPPER,
        min_length=16,
        description="server secret mixed into token hashes and card-number keys; at least 16 characters",
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    hub_threshold: int = Field(
        3, ge=1, description="a phone used by more than this many otherwise unrelated groups is a hub"
    )
    import_batch_size: int = Field(500, ge=1, le=100_000, description="cases per transaction on import")
    max_page_size: int = Field(200, ge=1, le=10_000, description="largest `first` a connection accepts")

    # --- analyst console (issue 4) ---------------------------------------------------------
    mci_kzt: int = Field(
        4325, ge=1, description="monthly calculation index (MCI) in tenge for the current year (2026: 4325)"
    )
    large_amount_mci: int = Field(
        2000, ge=1, description="art. 190 'large amount' threshold in MCI (damage above it hints part 3)"
    )
    especially_large_amount_mci: int = Field(
        10000, ge=1, description="art. 190 'especially large amount' threshold in MCI (hints part 4)"
    )
    group_hint_min_persons: int = Field(
        2, ge=2, description="distinct suspect-side persons (suspect IINs, card holders) that suggest a group"
    )
    max_query_depth: int = Field(12, ge=2, le=100, description="deepest GraphQL selection accepted")
    max_aliases: int = Field(30, ge=0, le=1000, description="most field aliases in one GraphQL document")
    max_query_tokens: int = Field(3000, ge=50, le=100_000, description="most lexical tokens in one GraphQL document")
    max_query_cost: int = Field(
        60_000, ge=100, description="most estimated result fields (each field times the page sizes above it)"
    )
    review_large_size: int = Field(
        10, ge=2, description="an unreviewed multi-episode case with this many episodes is a 'large merge' to review"
    )
    review_many_regions: int = Field(
        3, ge=2, description="an unreviewed multi-episode case spanning this many regions goes to the review queue"
    )
    alert_min_size: int = Field(
        5, ge=2, description="multiEpisodeCaseUpdated reports a new multi-episode case of at least this many episodes"
    )
    alert_min_damage_mci: int = Field(
        2000, ge=0, description="…or one whose total damage reaches this many MCI"
    )

    # --- tasking and live delivery (issue 5) ------------------------------------------------
    redis_prefix: str = Field("hq", min_length=1, max_length=64,
                              description="namespace for this deployment's Redis channels")
    task_delivery_timeout: float = Field(
        900.0, gt=0, description="seconds a task may stay unacknowledged (issued) before it escalates"
    )
    escalation_interval: float = Field(
        30.0, ge=0, description="seconds between escalation sweeps; 0 = no background sweep"
    )
    ws_heartbeat_interval: float = Field(
        15.0, ge=0, description="seconds between graphql-transport-ws pings the server sends; 0 = none"
    )
    ws_heartbeat_timeout: float = Field(
        10.0, gt=0, description="seconds the server waits for a pong before closing the connection (4408)"
    )
    feed_poll_interval: float = Field(
        5.0, ge=0, description="seconds between safety-net reads of the task event log; 0 = broker wake-ups only"
    )

    # --- liaison requests to banks and operators (issue 6) --------------------------------
    liaison_default_deadline_hours: float = Field(
        72.0, gt=0, description="hours a bank or operator has to answer a request (CPC art. 34(5): three days)"
    )
    liaison_deadline_hours: dict[str, float] = Field(
        default_factory=dict,
        description='per-kind deadlines in hours as JSON, e.g. {"call_billing": 48}; other kinds use the default',
    )
    liaison_urgent_hold_hours: float = Field(
        3.0, gt=0, description="hours an urgent hold_funds request has before it is overdue"
    )
    liaison_sweep_interval: float = Field(
        30.0, ge=0, description="seconds between overdue sweeps of liaison requests; 0 = no background sweep"
    )

    # --- audit and hardening (issue 7) ------------------------------------------------------
    console_enabled: bool = Field(
        True, description="serve GraphiQL and allow introspection; set false in production"
    )
    max_body_bytes: int = Field(
        12_000_000, ge=1024, description="largest HTTP request body accepted (413 above it)"
    )
    rate_limit_requests: int = Field(
        1200, ge=0, description="requests one principal may make per HQ_RATE_LIMIT_WINDOW (429 above it); 0 = off"
    )
    rate_limit_window: float = Field(60.0, gt=0, description="seconds of the per-principal rate-limit window")
    auth_failure_limit: int = Field(
        20, ge=0, description="failed token checks one client address may make per window before 429; 0 = off"
    )
    auth_failure_window: float = Field(300.0, gt=0, description="seconds of the failed-authentication window")
    token_rotation_grace: float = Field(
        86400.0, ge=0, description="seconds a rotated principal's old token keeps working"
    )
    ws_init_timeout: float = Field(
        10.0, gt=0, description="seconds a websocket has to send connection_init before it is closed (4408)"
    )
    ws_max_connections: int = Field(
        20, ge=0, description="open websocket connections per principal and process (4029 above it); 0 = no limit"
    )
    ws_max_message_bytes: int = Field(
        1_000_000, ge=1024, description="largest websocket message accepted (4413 above it)"
    )

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be empty or start with redis://, rediss:// or unix://")
        return value

    @field_validator("liaison_deadline_hours")
    @classmethod
    def _liaison_kinds(cls, value: dict[str, float]) -> dict[str, float]:
        from hq.liaison.kinds import KINDS

        for kind, hours in value.items():
            if kind not in KINDS:
                raise ValueError(f"unknown request kind {kind!r}; one of {', '.join(sorted(KINDS))}")
            if hours <= 0:
                raise ValueError(f"{kind}: hours must be positive")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return upper

    @property
    def pepper(self) -> bytes:
        return self.token_pepper.encode()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class SettingsError(SystemExit):
    """Start-up stops with one line naming the bad setting."""


def describe_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        parts.append(f"HQ_{field.upper()}: {err['msg']}")
    return "invalid setting " + "; ".join(parts)


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_error(exc)) from None


@functools.cache
def get_settings() -> Settings:
    return load_settings()


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
