"""Hashes and the history log: what makes a request's record usable in a case file.

Why canonical JSON: a hash is only checkable if anyone can rebuild the exact bytes, so
content is serialised with sorted keys, no whitespace and UTF-8, and the SHA-256 of that
is what versions, answer parts and the exported record carry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hq.auth import Caller
from hq.liaison.models import RequestHistory


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_of(obj: Any) -> str:
    return hashlib.sha256(canonical(obj)).hexdigest()


def actor_of(caller: Caller | None) -> str:
    if caller is None:
        return "system"
    where = caller.org_id or caller.unit_id or ""
    return f"{caller.name} ({caller.role.value}{', ' + where if where else ''})"


def record(session: AsyncSession, request_id: int, caller: Caller | None, action: str, now: dt.datetime,
           **details: Any) -> None:
    session.add(RequestHistory(request_id=request_id, at=now,
                               principal_id=caller.principal_id if caller else None,
                               actor=actor_of(caller), action=action, details=details))
