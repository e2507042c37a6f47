"""The hash chain: hash = sha256(prev_hash + canonical JSON of the entry).

Canonical JSON (sorted keys, no spaces, UTF-8, timestamps as naive-UTC ISO strings with
microseconds) is reproducible from a stored row on both SQLite and PostgreSQL, so
`hq audit verify` recomputes exactly what the writer hashed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from hq.audit.models import AuditEntry

HASHED_FIELDS = ("seq", "at", "kind", "operation", "outcome", "principal_id", "role", "unit_id",
                 "org_id", "client", "request_id", "objects", "fields", "detail")


def normal_time(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def canonical(values: dict[str, Any]) -> str:
    body = {k: values.get(k) for k in HASHED_FIELDS}
    body["at"] = normal_time(body["at"]) if isinstance(body["at"], dt.datetime) else body["at"]
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, values: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(values)).encode("utf-8")).hexdigest()


def row_values(row: AuditEntry) -> dict[str, Any]:
    return {k: getattr(row, k) for k in HASHED_FIELDS}
