"""The contract every identifier kind fulfils.

Cases are linked by identifiers typed by hand in many regions. Each kind turns a raw
value into one canonical form so that two spellings of the same number become the same
database key. The shape follows followthemoney's `types/`: one small class per kind with
`validate`, `clean`, `caption` and `strength`, plus `key` for the value that is stored.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

MAX_RAW_LENGTH = 1000
"""Longer inputs are rejected before any parsing (protects regexes and caches)."""

MAX_STORED_LENGTH = 200
"""The `identifiers.key` and `identifiers.display` columns are 200 characters wide."""


class IdentifierError(ValueError):
    """A value that cannot be an identifier of its kind, with a reason a person can act on."""

    def __init__(self, kind: str, reason: str) -> None:
        # Both go into args so the exception survives pickling (multiprocess imports).
        super().__init__(kind, reason)
        self.kind = kind
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.kind}: {self.reason}"


class Strength(str, enum.Enum):
    """How much a shared value says about two cases being the same gang."""

    STRONG = "strong"
    WEAK = "weak"
    # Strong, but the linker watches for hubs: spoofed bank numbers, shared victim lines.
    PHONE = "phone"


_STRENGTHS: dict[str, Strength] = {s.value: s for s in Strength}

NormalisedFields = tuple[str, str, str, str]
"""kind, key, display and strength value ("strong"...): a `Normalised` as plain data,
the form the bulk import stores."""


@dataclass(frozen=True, slots=True)
class Normalised:
    """What the rest of HQ sees of an identifier: never the raw text."""

    kind: str
    key: str
    display: str
    strength: Strength

    @classmethod
    def from_fields(cls, fields: NormalisedFields) -> Normalised:
        kind, key, display, strength = fields
        return cls(kind, key, display, _STRENGTHS[strength])


class IdentifierKind:
    """One kind of identifier. Subclasses implement `clean_text`; the rest has defaults.

    `clean` returns the canonical form (kept in memory only); `key` is what is stored and
    matched in the database (by default the canonical form itself; cards override it so
    the full number is never stored); `caption` is what people see.
    """

    name: str = ""
    memoise: bool = True
    """Memoise answers by (value, pepper): only if they depend on nothing else, and only
    where the kind costs more than a lookup in a big memo (about half a microsecond)."""

    def error(self, reason: str) -> IdentifierError:
        return IdentifierError(self.name, reason)

    def validate(self, raw: str) -> bool:
        try:
            self.clean(raw)
        except IdentifierError:
            return False
        return True

    def clean(self, raw: str) -> str:
        if not isinstance(raw, str):
            raise self.error("value must be a string")
        text = raw.strip()
        if not text:
            raise self.error("value is empty")
        if len(text) > MAX_RAW_LENGTH:
            raise self.error(f"value is longer than {MAX_RAW_LENGTH} characters")
        return self.clean_text(text)

    def clean_text(self, text: str) -> str:
        """Canonical form of `text`, which is stripped and not empty."""
        raise NotImplementedError

    def key(self, clean: str, pepper: bytes) -> str:
        return clean

    def caption(self, clean: str) -> str:
        return clean

    def strength(self, clean: str) -> Strength:
        return Strength.STRONG

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # Which defaults a kind keeps, so that `fields` skips calling them (it runs
        # millions of times in a bulk import).
        cls._key_is_clean = cls.key is IdentifierKind.key
        cls._caption_is_clean = cls.caption is IdentifierKind.caption

    _key_is_clean = True
    _caption_is_clean = True

    def fields(self, raw: str, pepper: bytes) -> NormalisedFields:
        """`normalise` as a plain tuple, for the bulk path, which never needs the object."""
        clean = self.clean(raw)
        key = clean if self._key_is_clean else self.key(clean, pepper)
        display = clean if self._caption_is_clean else self.caption(clean)
        if len(key) > MAX_STORED_LENGTH or len(display) > MAX_STORED_LENGTH:
            raise self.error(f"value is longer than {MAX_STORED_LENGTH} characters once normalised")
        return (self.name, key, display, self.strength(clean)._value_)  # _value_: .value without the enum property

    def normalise(self, raw: str, *, pepper: bytes) -> Normalised:
        return Normalised.from_fields(self.fields(raw, pepper))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
