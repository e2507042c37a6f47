"""Per-request context: who is calling, and the process-wide services.

Strawberry resolves sibling fields concurrently, and one SQLAlchemy AsyncSession must not
be used concurrently, so resolvers open short sessions from `services.sessions` instead of
sharing one per request. DataLoaders batch what a list of objects asks for.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from hq.api.errors import Unauthenticated
from hq.auth import Caller
from hq.settings import Settings
from regions import Directory


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    directory: Directory
    broker: Any = None
    extras: dict[str, Any] = field(default_factory=dict)


class Context(BaseContext):
    def __init__(self, services: Services, caller: Caller | None, client: str) -> None:
        super().__init__()
        self.services = services
        self.caller_or_none = caller
        self.client = client
        self.request_id = uuid.uuid4().hex
        self.loaders: dict[str, Any] = {}

    @property
    def caller(self) -> Caller:
        if self.caller_or_none is None:
            raise Unauthenticated("a valid API token is required")
        return self.caller_or_none

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.services.sessions

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def loader(self, name: str, factory: Any) -> Any:
        """One DataLoader per kind per request, created on first use."""
        if name not in self.loaders:
            self.loaders[name] = factory(self)
        return self.loaders[name]


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"
