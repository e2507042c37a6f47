"""Masks for personal data shown in list views; full values only on audited detail reads."""

from __future__ import annotations


def mask_tail(value: str | None, keep_start: int, keep_end: int) -> str | None:
    if value is None:
        return None
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end :]


def mask_name(name: str | None) -> str | None:
    if name is None:
        return None
    return " ".join((part[:1] + "." if part else part) for part in name.split())


def mask_phone(phone: str | None) -> str | None:
    return mask_tail(phone, 5, 2)


def mask_iin(iin: str | None) -> str | None:
    return mask_tail(iin, 0, 0) if iin else iin
