"""Qualification hints under Criminal Code art. 190: advice for the analyst, never a verdict.

Joining episodes changes the qualification (000:L249-267): two or more victims or repeated
episodes point to part 3; a total above the large-amount threshold to part 3, above the
especially-large threshold to part 4; several suspect-side persons acting together (mule
card holders, distinct suspect IINs) suggest a criminal group (part 4). Thresholds are
settings in MCI, multiplied by the MCI value of the year (`HQ_MCI_KZT`).
"""

from __future__ import annotations

from dataclasses import dataclass

from hq.settings import Settings

DISCLAIMER = ("Hints only: the qualification is the investigator's and the prosecutor's decision; "
              "thresholds are configurable settings (HQ_MCI_KZT, HQ_LARGE_AMOUNT_MCI, HQ_ESPECIALLY_LARGE_AMOUNT_MCI).")


@dataclass(frozen=True, slots=True)
class Hint:
    code: str  # stable: SEVERAL_VICTIMS, REPEATED, LARGE_AMOUNT, ESPECIALLY_LARGE_AMOUNT, GROUP
    part: str  # "190.3" or "190.4"
    reason: str


def thresholds(settings: Settings) -> tuple[int, int]:
    """(large, especially large) in tenge."""
    return settings.large_amount_mci * settings.mci_kzt, settings.especially_large_amount_mci * settings.mci_kzt


def qualification_hints(*, episodes: int, victims: int, damage_kzt: int, suspect_iins: int,
                        suspect_cards: int, settings: Settings) -> list[Hint]:
    large, especially = thresholds(settings)
    out: list[Hint] = []
    if victims >= 2:
        out.append(Hint("SEVERAL_VICTIMS", "190.3", f"{victims} victims: fraud against two or more persons"))
    if episodes >= 2:
        out.append(Hint("REPEATED", "190.3", f"{episodes} episodes: committed repeatedly"))
    if damage_kzt > especially:
        out.append(Hint("ESPECIALLY_LARGE_AMOUNT", "190.4",
                        f"total damage {damage_kzt:,} ₸ exceeds the especially large amount "
                        f"{especially:,} ₸ ({settings.especially_large_amount_mci} MCI × {settings.mci_kzt} ₸)"))
    elif damage_kzt > large:
        out.append(Hint("LARGE_AMOUNT", "190.3",
                        f"total damage {damage_kzt:,} ₸ exceeds the large amount "
                        f"{large:,} ₸ ({settings.large_amount_mci} MCI × {settings.mci_kzt} ₸)"))
    persons = max(suspect_iins, suspect_cards)
    if persons >= settings.group_hint_min_persons:
        out.append(Hint("GROUP", "190.4",
                        f"{suspect_iins} distinct suspect IINs and {suspect_cards} suspect-side cards "
                        f"(each with its own holder): several persons may act together; check for a criminal group"))
    return out
