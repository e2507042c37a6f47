"""Validate one regional export record (../shared/case-export.md) into a normalised case.

The import, the GraphQL register/update mutations and the benchmark all go through
`parse_case`, and the bulk import through `parse_case_compact`; both run the same
`_validate`, so a case is held to the same rules whichever door it came in by. Every
problem is a `FieldError` naming the field (dotted path) and the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _json_str
from collections.abc import Sequence
from typing import Any

from hq.identifiers import IdentifierError, Normalised, normalise_fields
from hq.models import CaseStatus, MentionRole, Scheme
from regions import Directory, UnknownRegion

SCHEMES = frozenset(s.value for s in Scheme)
STATUSES = frozenset(s.value for s in CaseStatus)
ROLES = frozenset(r.value for r in MentionRole)
KNOWN_FIELDS = frozenset(
    {
        "registration_number", "region", "unit", "registered_at", "article", "scheme", "status",
        "damage_kzt", "recovered_kzt", "victim", "identifiers",
    }
)
MAX_IDENTIFIERS = 500
_ONE_DAY = dt.timedelta(days=1)


class FieldError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MentionRecord:
    identifier: Normalised
    role: str
    note: str | None


@dataclass(frozen=True, slots=True)
class VictimRecord:
    name: str | None
    phone: str | None
    iin: str | None


@dataclass(slots=True)
class CaseRecord:
    registration_number: str
    region_code: str
    unit_id: str | None
    unit_name: str | None
    registered_at: dt.date
    article: str | None
    scheme: str | None
    status: str
    damage_kzt: int
    recovered_kzt: int
    victim: VictimRecord | None
    mentions: list[MentionRecord] = field(default_factory=list)

    def content_hash(self) -> str:
        """Hash of the normalised content: a re-sent identical case is recognised as unchanged."""
        v = self.victim
        return content_hash_of(
            self.registration_number, self.region_code, self.unit_id, self.unit_name, self.registered_at,
            self.article, self.scheme, self.status, self.damage_kzt, self.recovered_kzt,
            None if v is None else (v.name, v.phone, v.iin),
            [(m.identifier.kind, m.identifier.key, m.role, m.note or "") for m in self.mentions],
        )


VictimFields = tuple[str | None, str | None, str | None]  # name, phone key, iin
HashedMention = tuple[str, str, str, str]  # kind, key, role, note ("" for none)


def content_hash_of(
    reg: str, region_code: str, unit_id: str | None, unit_name: str | None, registered_at: dt.date,
    article: str | None, scheme: str | None, status: str, damage_kzt: int, recovered_kzt: int,
    victim: VictimFields | None, mentions: list[HashedMention],
) -> str:
    """`CaseRecord.content_hash` from the fields, for callers that never build the record."""
    text = hashed_text(reg, region_code, unit_id, unit_name, registered_at, article, scheme, status,
                       damage_kzt, recovered_kzt, victim, mentions)
    return hashlib.sha256(text.encode()).hexdigest()


def _js(value: str | None) -> str:
    return "null" if value is None else _json_str(value)


def hashed_text(
    reg: str, region_code: str, unit_id: str | None, unit_name: str | None, registered_at: dt.date,
    article: str | None, scheme: str | None, status: str, damage_kzt: int, recovered_kzt: int,
    victim: VictimFields | None, mentions: list[HashedMention],
) -> str:
    """The text that is hashed: exactly `hashed_text_reference`, written out by hand.

    Stored hashes must keep matching, so this is byte for byte what json.dumps(sort_keys=True)
    gives (same string escaping function, keys in sorted order, ", " and ": " separators);
    json.dumps itself took over a tenth of the bulk import's parse time.
    tests/identifiers/test_fast_paths.py checks the two agree.
    """
    ms = ", ".join([f"[{_json_str(kind)}, {_json_str(key)}, {_json_str(role)}, {_json_str(note)}]"
                    for kind, key, role, note in sorted(mentions)])
    vs = "null" if victim is None else f"[{_js(victim[0])}, {_js(victim[1])}, {_js(victim[2])}]"
    return (f'{{"a": {_js(article)}, "d": {_json_str(registered_at.isoformat())}, '
            f'"dm": {int.__repr__(damage_kzt)}, "g": {_json_str(region_code)}, "m": [{ms}], '
            f'"r": {_json_str(reg)}, "rc": {int.__repr__(recovered_kzt)}, "s": {_js(scheme)}, '
            f'"st": {_json_str(status)}, "u": {_js(unit_id)}, "un": {_js(unit_name)}, "v": {vs}}}')


def hashed_text_reference(
    reg: str, region_code: str, unit_id: str | None, unit_name: str | None, registered_at: dt.date,
    article: str | None, scheme: str | None, status: str, damage_kzt: int, recovered_kzt: int,
    victim: VictimFields | None, mentions: list[HashedMention],
) -> str:
    """The definition of the hashed text (the format of every stored hash); slow."""
    body = {
        "r": reg, "g": region_code, "u": unit_id, "un": unit_name, "d": registered_at.isoformat(),
        "a": article, "s": scheme, "st": status, "dm": damage_kzt, "rc": recovered_kzt,
        "v": None if victim is None else list(victim),
        "m": sorted([kind, key, role, note or ""] for kind, key, role, note in mentions),
    }
    return json.dumps(body, sort_keys=True)


def _text(obj: dict[str, Any], name: str, *, required: bool = False, max_len: int = 200) -> str | None:
    value = obj.get(name)
    if value.__class__ is str:  # the usual case: a short non-blank string, returned stripped
        text = value.strip()
        if text and len(text) <= max_len:
            return text
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FieldError(name, "is required")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise FieldError(name, f"must be a string, got {type(value).__name__}")
    value = value.strip()
    if len(value) > max_len:
        raise FieldError(name, f"is longer than {max_len} characters")
    return value


MAX_AMOUNT = 10**15


def _amount(obj: dict[str, Any], name: str) -> int:
    value = obj.get(name, 0)
    if value.__class__ is int and 0 <= value <= MAX_AMOUNT:  # the usual case
        return value
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(name, "must be a whole number of tenge")
    if value < 0:
        raise FieldError(name, "must not be negative")
    if value > MAX_AMOUNT:
        raise FieldError(name, "is implausibly large")
    return value


def _victim(raw: Any, pepper: bytes) -> VictimFields | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise FieldError("victim", "must be an object with name, phone, iin")
    name = _text(raw, "name")
    phone = _text(raw, "phone", max_len=64)
    iin = _text(raw, "iin", max_len=32)
    try:
        if phone is not None:
            phone = normalise_fields("phone", phone, pepper=pepper)[1]
    except IdentifierError as exc:
        raise FieldError("victim.phone", exc.reason) from None
    if iin is not None:
        # Victim data is personal data, not linking evidence: hold it to its shape (12
        # digits) but not to the check digit, which regional typists get wrong and which
        # the export format's own example fails. split() drops exactly the characters
        # str.isspace() calls whitespace.
        iin = "".join(iin.split())
        if len(iin) != 12 or not iin.isdigit():
            raise FieldError("victim.iin", "must be 12 digits")
    return (name, phone, iin)


Mention = tuple[str, str, str, str, str, str | None]
"""kind, key, display, strength value, role, note: one validated mention as plain data."""

_SUSPECT = MentionRole.SUSPECT.value
_ROLE_REASON = f"must be one of {', '.join(sorted(ROLES))}"


def _mentions(raw: Any, pepper: bytes) -> list[Mention]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise FieldError("identifiers", "must be a list of {kind, value, role?, note?}")
    if len(raw) > MAX_IDENTIFIERS:
        raise FieldError("identifiers", f"more than {MAX_IDENTIFIERS} identifiers in one case")
    found: dict[tuple[str, str, str], Mention] = {}  # by (kind, key, role), in order of first mention
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise FieldError(f"identifiers[{i}]", "must be an object with kind and value")
        kind = item.get("kind")
        value = item.get("value")
        if not isinstance(kind, str) or not kind:
            raise FieldError(f"identifiers[{i}].kind", "is required")
        if value.__class__ is not str:
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str):
                raise FieldError(f"identifiers[{i}].value", "is required and must be a string")
        role = item.get("role") or _SUSPECT
        if role.__class__ is not str or role not in ROLES:  # a list or object is unhashable: check first
            raise FieldError(f"identifiers[{i}].role", _ROLE_REASON)
        note = item.get("note")
        if note is not None and not isinstance(note, str):
            raise FieldError(f"identifiers[{i}].note", "must be a string")
        try:
            ident = normalise_fields(kind, value, pepper=pepper)
        except IdentifierError as exc:
            part = "kind" if "unknown identifier kind" in exc.reason else "value"
            raise FieldError(f"identifiers[{i}].{part}", str(exc)) from None
        dedup = (ident[0], ident[1], role)
        prev = found.get(dedup)
        if prev is None:
            found[dedup] = ident + (role, None if note is None else note.strip()[:2000] or None)
        else:
            # The same value typed twice: keep one mention, join the notes.
            notes = "; ".join(n for n in (prev[5], note) if n)
            found[dedup] = prev[:5] + (notes or None,)
    return list(found.values())


CaseFields = tuple[str, str, str | None, str | None, dt.date, str | None, str | None, str, int, int,
                   VictimFields | None, Sequence[Mention]]
"""A validated case in CaseRecord's field order, victim and mentions as plain tuples."""


def _validate(obj: Any, directory: Directory, pepper: bytes) -> CaseFields:
    """Every rule of the export format, in order; FieldError on the first problem."""
    if not isinstance(obj, dict):
        raise FieldError("(line)", "must be a JSON object")
    if not KNOWN_FIELDS.issuperset(obj):
        raise FieldError(sorted(set(obj) - KNOWN_FIELDS)[0], "is not a field of the export format")
    reg = _text(obj, "registration_number", required=True, max_len=32)
    assert reg is not None
    if not reg.replace("-", "").isalnum():
        raise FieldError("registration_number", "must contain only digits, letters and dashes")
    region_raw = _text(obj, "region", required=True, max_len=16)
    try:
        region = directory.region(region_raw or "")
    except UnknownRegion:
        raise FieldError("region", f"unknown region code {region_raw!r}; use ISO 3166-2:KZ such as KZ-61") from None
    unit_name = _text(obj, "unit")
    unit = directory.find_unit(unit_name, region.code) if unit_name else None
    date_raw = _text(obj, "registered_at", required=True, max_len=32)
    try:
        registered_at = dt.date.fromisoformat(date_raw or "")
    except ValueError:
        raise FieldError("registered_at", f"must be an ISO date like 2022-06-04, got {date_raw!r}") from None
    if registered_at > dt.date.today() + _ONE_DAY:
        raise FieldError("registered_at", "is in the future")
    article = _text(obj, "article", max_len=32)
    scheme = _text(obj, "scheme", max_len=32)
    if scheme is not None and scheme not in SCHEMES:
        raise FieldError("scheme", f"must be one of {', '.join(sorted(SCHEMES))}")
    status = _text(obj, "status", max_len=16) or CaseStatus.REGISTERED.value
    if status not in STATUSES:
        raise FieldError("status", f"must be one of {', '.join(sorted(STATUSES))}")
    damage = _amount(obj, "damage_kzt")
    recovered = _amount(obj, "recovered_kzt")
    victim = _victim(obj.get("victim"), pepper)
    mentions = _mentions(obj.get("identifiers"), pepper)
    return (reg, region.code, unit.id if unit else None, unit_name, registered_at, article, scheme, status,
            damage, recovered, victim, mentions)


def parse_case(obj: Any, directory: Directory, *, pepper: bytes) -> CaseRecord:
    """Validate one export record; raise FieldError on the first problem."""
    return record_of(_validate(obj, directory, pepper))


def record_of(fields: CaseFields) -> CaseRecord:
    """The CaseRecord of validated fields (a compact record's first twelve are the same)."""
    (reg, region_code, unit_id, unit_name, registered_at, article, scheme, status, damage, recovered, victim,
     mentions) = fields
    return CaseRecord(
        registration_number=reg,
        region_code=region_code,
        unit_id=unit_id,
        unit_name=unit_name,
        registered_at=registered_at,
        article=article,
        scheme=scheme,
        status=status,
        damage_kzt=damage,
        recovered_kzt=recovered,
        victim=None if victim is None else VictimRecord(*victim),
        mentions=[MentionRecord(Normalised.from_fields(m[:4]), m[4], m[5]) for m in mentions],
    )


Compact = tuple
"""A CaseRecord as plain tuples, cheap to send back from a worker process: the ten scalar
fields, victim (name, phone, iin) or None, mentions as (kind, key, display, strength value,
role, note), and the content hash."""


def parse_case_compact(obj: Any, directory: Directory, *, pepper: bytes) -> Compact:
    """`parse_case(...)` as a `Compact`, without building the record (bulk path)."""
    f = _validate(obj, directory, pepper)
    mentions = f[11]  # already in the compact form
    digest = content_hash_of(*f[:11], [(kind, key, role, note or "") for kind, key, _, _, role, note in mentions])
    return (*f[:11], tuple(mentions), digest)
