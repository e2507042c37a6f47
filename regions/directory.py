"""Region, unit and liaison-organisation directory.

The data lives in ``regions/data/*.json`` so that it can be corrected without
touching code; this module only loads it into frozen dataclasses and answers the
routing questions the rest of HQ asks: which region is "KZ-YUZ", who is the head
unit of a region, which unit is "Turkistan city police", which bank issued this
card, which operator serves this phone number.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Iterable

__all__ = [
    "Directory",
    "Organisation",
    "Region",
    "Unit",
    "UnknownRegion",
    "ORGANISATION_KINDS",
    "UNIT_KINDS",
    "load_directory",
]

UNIT_KINDS: frozenset[str] = frozenset(
    {"hq", "police_department", "cyber_unit", "city_police", "district_police", "transport_police"}
)
ORGANISATION_KINDS: frozenset[str] = frozenset(
    {
        "bank",
        "mobile_operator",
        "microfinance",
        "payment_provider",
        "ewallet",
        "platform",
        "crypto_exchange",
        "other",
    }
)

_NON_DIGITS = re.compile(r"\D+")
_SPACES = re.compile(r"\s+")


class UnknownRegion(ValueError):
    """A region code or alias that is not in the directory."""


@dataclass(frozen=True, slots=True)
class Region:
    """An oblast or city of republican significance, keyed by its ISO 3166-2:KZ code."""

    code: str
    aliases: tuple[str, ...]
    name_kk: str
    name_ru: str
    name_en: str
    centre: str


@dataclass(frozen=True, slots=True)
class Unit:
    """A police unit; ``head`` marks the unit that receives a region's escalations."""

    id: str
    kind: str
    region_code: str | None
    parent_id: str | None
    name_en: str
    name_ru: str
    name_kk: str
    head: bool = False

    @property
    def names(self) -> tuple[str, str, str]:
        return (self.name_en, self.name_ru, self.name_kk)


@dataclass(frozen=True, slots=True)
class Organisation:
    """A liaison (bank, operator, ...). Card BINs are illustrative, see organisations.json."""

    id: str
    kind: str
    name: str
    card_bins: tuple[str, ...] = ()
    phone_prefixes: tuple[str, ...] = ()


def _fold(text: str) -> str:
    """Case- and whitespace-insensitive key for free-text names (works for Cyrillic)."""
    return _SPACES.sub(" ", text).strip().casefold()


def _region_key(code: str) -> str:
    key = code.strip().upper()
    return key if key.startswith("KZ-") else f"KZ-{key}"


def _national_mobile(phone: str) -> str | None:
    """Reduce ``+7 701 ...``, ``8 701 ...``, ``7701...`` or ``701...`` to 10 national digits."""
    digits = _NON_DIGITS.sub("", phone)
    if len(digits) == 11 and digits[0] in "78":
        return digits[1:]
    if len(digits) == 10:
        return digits
    return None


class Directory:
    """Indexed, read-only view of regions, units and organisations."""

    def __init__(
        self,
        regions: Iterable[Region],
        units: Iterable[Unit],
        organisations: Iterable[Organisation],
    ) -> None:
        self.regions: tuple[Region, ...] = tuple(regions)
        self.units: tuple[Unit, ...] = tuple(units)
        self.organisations: tuple[Organisation, ...] = tuple(organisations)

        self._region_by_key: dict[str, Region] = {}
        for region in self.regions:
            for key in (region.code, *region.aliases):
                if key.upper() in self._region_by_key:
                    raise ValueError(f"duplicate region code or alias {key!r}")
                self._region_by_key[key.upper()] = region

        self._unit_by_id: dict[str, Unit] = {}
        for unit in self.units:
            if unit.id in self._unit_by_id:
                raise ValueError(f"duplicate unit id {unit.id!r}")
            if unit.kind not in UNIT_KINDS:
                raise ValueError(f"unit {unit.id!r} has unknown kind {unit.kind!r}")
            if unit.region_code is not None and unit.region_code not in self._region_by_key:
                raise ValueError(f"unit {unit.id!r} has unknown region {unit.region_code!r}")
            self._unit_by_id[unit.id] = unit
        for unit in self.units:
            if unit.parent_id is not None and unit.parent_id not in self._unit_by_id:
                raise ValueError(f"unit {unit.id!r} has unknown parent {unit.parent_id!r}")

        self._find_cache: dict[tuple[str, str | None], Unit | None] = {}
        self._bank_by_bin: dict[str, Organisation] = {}
        self._operator_by_prefix: dict[str, Organisation] = {}
        for org in self.organisations:
            if org.kind not in ORGANISATION_KINDS:
                raise ValueError(f"organisation {org.id!r} has unknown kind {org.kind!r}")
            for bin_ in org.card_bins:
                if bin_ in self._bank_by_bin:
                    raise ValueError(f"card BIN {bin_} listed for two organisations")
                self._bank_by_bin[bin_] = org
            for prefix in org.phone_prefixes:
                if prefix in self._operator_by_prefix:
                    raise ValueError(f"phone prefix {prefix} listed for two organisations")
                self._operator_by_prefix[prefix] = org
        self._bin_lengths: tuple[int, ...] = tuple(
            sorted({len(b) for b in self._bank_by_bin}, reverse=True)
        )

    # Regions ---------------------------------------------------------------

    def region(self, code_or_alias: str) -> Region:
        """Resolve ``KZ-61``, ``kz-61``, ``KZ-YUZ`` (or bare ``61`` / ``YUZ``) to a Region."""
        region = self._region_by_key.get(_region_key(code_or_alias))
        if region is None:
            valid = ", ".join(r.code for r in self.regions)
            raise UnknownRegion(
                f"unknown region code {code_or_alias!r}: region codes are ISO 3166-2:KZ "
                f"({valid}) or an older letter alias such as KZ-YUZ"
            )
        return region

    # Units -----------------------------------------------------------------

    def unit(self, unit_id: str) -> Unit:
        """The unit with this exact id; KeyError if there is none."""
        return self._unit_by_id[unit_id]

    def units_of(self, region_code: str) -> tuple[Unit, ...]:
        """All units located in a region (code or alias), head unit first."""
        code = self.region(region_code).code
        units = [u for u in self.units if u.region_code == code]
        return tuple(sorted(units, key=lambda u: not u.head))

    def head_unit(self, region_code: str) -> Unit:
        """The unit that receives escalations for a region: its police department."""
        for unit in self.units_of(region_code):
            if unit.head:
                return unit
        raise LookupError(f"region {region_code!r} has no head unit")

    def find_unit(self, name_or_id: str, region_code: str | None = None) -> Unit | None:
        """Resolve a unit id or an en/ru/kk name, case-insensitively.

        Used for the free-text "unit" field of regional case exports. Returns None
        when nothing matches, or when a name matches units in several regions and no
        ``region_code`` narrows it down: a guessed unit would misroute a case.
        Answers are memoised: an import asks the same few names a million times.
        """
        key = (name_or_id, region_code)
        if key not in self._find_cache:
            if len(self._find_cache) > 10_000:
                self._find_cache.clear()
            self._find_cache[key] = self._find_unit(name_or_id, region_code)
        return self._find_cache[key]

    def _find_unit(self, name_or_id: str, region_code: str | None) -> Unit | None:
        wanted = _fold(name_or_id)
        if not wanted:
            return None
        candidates = self.units if region_code is None else self.units_of(region_code)
        by_id = [u for u in candidates if u.id == wanted]
        if by_id:
            return by_id[0]
        matches = [u for u in candidates if wanted in {_fold(n) for n in u.names}]
        return matches[0] if len(matches) == 1 else None

    # Organisations ---------------------------------------------------------

    def organisation(self, org_id: str) -> Organisation:
        """The organisation with this exact id; KeyError if there is none."""
        for org in self.organisations:
            if org.id == org_id:
                return org
        raise KeyError(org_id)

    def organisations_of_kind(self, kind: str) -> tuple[Organisation, ...]:
        """All organisations of one kind; ValueError for a kind that does not exist."""
        if kind not in ORGANISATION_KINDS:
            raise ValueError(f"unknown organisation kind {kind!r}: one of {sorted(ORGANISATION_KINDS)}")
        return tuple(o for o in self.organisations if o.kind == kind)

    def bank_for_card(self, pan_prefix: str) -> Organisation | None:
        """The bank whose BIN starts this card number (spaces and dashes ignored)."""
        digits = _NON_DIGITS.sub("", pan_prefix)
        for length in self._bin_lengths:
            if len(digits) >= length and (org := self._bank_by_bin.get(digits[:length])):
                return org
        return None

    def operator_for_phone(self, e164: str) -> Organisation | None:
        """The Kazakh mobile operator for a number (+7 701..., 8 701..., 7701...)."""
        national = _national_mobile(e164)
        if national is None:
            return None
        return self._operator_by_prefix.get(national[:3])


# Loading -----------------------------------------------------------------------


def _read(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _region(row: dict[str, Any]) -> Region:
    return Region(
        code=row["code"],
        aliases=tuple(row.get("aliases", ())),
        name_kk=row["name_kk"],
        name_ru=row["name_ru"],
        name_en=row["name_en"],
        centre=row["centre"],
    )


def _unit(row: dict[str, Any]) -> Unit:
    return Unit(
        id=row["id"],
        kind=row["kind"],
        region_code=row.get("region_code"),
        parent_id=row.get("parent_id"),
        name_en=row["name_en"],
        name_ru=row["name_ru"],
        name_kk=row["name_kk"],
        head=bool(row.get("head", False)),
    )


def _organisation(row: dict[str, Any]) -> Organisation:
    return Organisation(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        card_bins=tuple(row.get("card_bins", ())),
        phone_prefixes=tuple(row.get("phone_prefixes", ())),
    )


@functools.cache
def load_directory() -> Directory:
    """The directory built from the packaged JSON files, loaded once per process."""
    return Directory(
        regions=[_region(r) for r in _read("regions.json")["regions"]],
        units=[_unit(u) for u in _read("units.json")["units"]],
        organisations=[_organisation(o) for o in _read("organisations.json")["organisations"]],
    )
