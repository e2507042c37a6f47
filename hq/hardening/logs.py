"""Tokens never reach the logs: a filter that redacts anything shaped like an HQ token.

Uvicorn's access log prints the path with its query string (never headers), so a token
sent as `?token=hq_…` would land there; this filter, installed on every handler at
start-up, rewrites such strings to `hq_[redacted]` in messages, arguments and tracebacks.
"""

from __future__ import annotations

import logging
import re
from typing import Any

TOKEN_RE = re.compile(r"hq_[A-Za-z0-9_\-]{8,}")
REDACTED = "hq_[redacted]"


def redact(text: str) -> str:
    return TOKEN_RE.sub(REDACTED, text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    if isinstance(value, (int, float)) or value is None:
        return value
    text = str(value)
    cleaned = redact(text)
    return cleaned if cleaned != text else value


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_redaction() -> None:
    """Add the filter to every handler of every logger configured so far (idempotent)."""
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    for lg in loggers:
        for handler in lg.handlers:
            if not any(isinstance(f, RedactTokens) for f in handler.filters):
                handler.addFilter(RedactTokens())
