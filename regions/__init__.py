"""Directory of regions (ISO 3166-2:KZ), police units and liaison organisations."""

from .directory import (
    ORGANISATION_KINDS,
    UNIT_KINDS,
    Directory,
    Organisation,
    Region,
    Unit,
    UnknownRegion,
    load_directory,
)

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
