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
