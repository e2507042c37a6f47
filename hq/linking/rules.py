"""Which mentions are evidence that links cases. Kept tiny so analysts can predict it."""

from __future__ import annotations

from hq.identifiers import Strength

LINKING_ROLE = "suspect"
CORE_STRENGTH = Strength.STRONG.value  # links on its own
PHONE_STRENGTH = Strength.PHONE.value  # links unless the phone is a hub
LINKABLE_STRENGTHS = (CORE_STRENGTH, PHONE_STRENGTH)
