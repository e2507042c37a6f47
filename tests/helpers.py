"""Small builders for export-format lines used across tests."""

from __future__ import annotations

import json
from typing import Any


def case(reg: str, region: str = "KZ-61", *idents: tuple[str, str] | tuple[str, str, str], **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "registration_number": reg,
        "region": region,
        "registered_at": extra.pop("registered_at", "2023-05-01"),
        "scheme": extra.pop("scheme", "fake_bank_call"),
        "status": extra.pop("status", "suspended"),
        "damage_kzt": extra.pop("damage_kzt", 100_000),
        "identifiers": [
            {"kind": i[0], "value": i[1], **({"role": i[2]} if len(i) > 2 else {})} for i in idents
        ],
    }
    obj.update(extra)
    return obj


def jsonl(*objs: dict[str, Any]) -> str:
    return "\n".join(json.dumps(o, ensure_ascii=False) for o in objs) + "\n"
