"""Who sees what in the analyst console. One rule, decided here and documented for the README.

- hq_analyst, admin: everything; only they may change multi-episode cases.
- prosecutor: everything, read-only (supervision reads all, as `hq.access.case_scope`).
- regional_officer: the hit/no-hit answer in full for their own region (registration
  numbers of their own cases), and for every other region only the number of cases and
  that region's head unit (`Directory.head_unit`) as the contact to ask. Never another
  region's registration numbers, victims or case details. Multi-episode cases are visible
  only when at least one episode is theirs; their episodes list shows only their own
  region's cases, their tying identifiers only those their own episodes mention, and
  region counts come with each region's head unit. They cannot ask `explain` (the chain
  names other regions' cases) but may `requestSplit` for their own episodes.
- liaison (banks, operators): the hit/no-hit answer reduced to known / not known and the
  number of cases; no regions, no multi-episode cases, no hub or exclusion flags. A bank
  must learn that a value matters, not where the police are investigating it.
"""

from __future__ import annotations

import enum

from hq.auth import Caller
from hq.models import Role


class View(str, enum.Enum):
    FULL = "full"
    OWN_REGION = "own_region"
    COUNT_ONLY = "count_only"


def view_of(caller: Caller) -> View:
    if caller.role in (Role.HQ_ANALYST, Role.ADMIN, Role.PROSECUTOR):
        return View.FULL
    if caller.role is Role.REGIONAL_OFFICER:
        return View.OWN_REGION
    return View.COUNT_ONLY


def can_decide(caller: Caller) -> bool:
    """Only HQ analysts and admins change multi-episode cases."""
    return caller.role in (Role.HQ_ANALYST, Role.ADMIN)
