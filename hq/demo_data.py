"""A synthetic but realistic demo dataset in the regional export format (shared/case-export.md).

Everything here is invented: names, phone numbers, cards, IINs, accounts, wallets, sites and
registration numbers. Card numbers use the illustrative BINs of regions/data/organisations.json
so that "which bank holds this card" routing works in demos.

Contents (see the module constants):

* ``WORKED_EXAMPLE`` - the thesis's Turkistan case (000:L330-351) rebuilt with invented data:
  one victim sends 16,552,000 tenge to 7 cards whose holders live in Atyrau, Jetisu, North
  Kazakhstan and Astana; every holder sold the card through Telegram to the same buyer; the
  money leaves through a crypto exchange. Six more cases registered in those regions mention
  the same cards and buyer in other spellings; all seven are one multi-episode case through
  strong suspect-side identifiers only.
* ``LIAISON_SCENARIO`` - a Pavlodar case naming the IIN of one card holder and nothing else of
  the worked example; a bank's answer "holder of card X has IIN Y" joins it in.
* ``SPOOFED_HOTLINE`` - an Almaty landline posing as a bank's security service, mentioned in
  cases of several unrelated rings (a hub: it never is the only link of anything).
* ``RINGS`` - every multi-episode group (the worked example first) with its registration
  numbers and regions: the ground truth of what the linker should find.
* About 170 single-episode cases and noise: shared victim phones and victim-role values,
  a shared mobile IP (weak), witness phones, messy spellings of every kind.

Registration numbers follow one invented ERDR-like scheme of 15 digits:
``YY 15 RR UU NNNNNNN`` - year of registration (2 digits), ``15`` (the police as registering
body), the region's numeric ISO code ``RR`` (61 for Turkistan, also on lines that use an old
letter alias), the registering unit's number inside the region ``UU`` and a 7-digit serial per
region and year. Example: ``221561030000457`` is Turkistan city police, 2022.

The fixed scenarios (worked example, liaison, hotline) are identical for every seed; the rest
depends on the seed. The same seed always gives the same output.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from pathlib import Path
from typing import Any, Callable

from hq.identifiers.card import make_card
from hq.identifiers.iin import make_iin

__all__ = [
    "generate", "write_jsonl", "WORKED_EXAMPLE", "LIAISON_SCENARIO", "SPOOFED_HOTLINE", "RINGS",
    "REGION_NAMES", "REGION_ALIASES", "UNITS", "BANK_BINS", "DEFAULT_SEED", "build",
]

DEFAULT_SEED = 2022
_FIXED_SEED = 0x4851_2022  # the fixed scenarios do not depend on the caller's seed

# --------------------------------------------------------------------------------------------
# Regions and units (names as in regions/data/units.json)

REGION_NAMES: dict[str, str] = {
    "KZ-10": "Abai", "KZ-11": "Akmola", "KZ-15": "Aktobe", "KZ-19": "Almaty oblast",
    "KZ-23": "Atyrau", "KZ-27": "West Kazakhstan", "KZ-31": "Jambyl", "KZ-33": "Jetisu",
    "KZ-35": "Karaganda", "KZ-39": "Kostanay", "KZ-43": "Kyzylorda", "KZ-47": "Mangystau",
    "KZ-55": "Pavlodar", "KZ-59": "North Kazakhstan", "KZ-61": "Turkistan", "KZ-62": "Ulytau",
    "KZ-63": "East Kazakhstan", "KZ-71": "Astana", "KZ-75": "Almaty", "KZ-79": "Shymkent",
}

# Older letter codes that some exports still send (only a few lines use them).
REGION_ALIASES: dict[str, str] = {
    "KZ-61": "KZ-YUZ", "KZ-23": "KZ-ATY", "KZ-71": "KZ-AST", "KZ-59": "KZ-SEV",
}

UNITS: dict[str, list[str]] = {
    "KZ-10": ["Abai Region Police Department K unit", "Semey city police", "Kurchatov city police",
              "Ayagoz district police", "Urzhar district police"],
    "KZ-11": ["Akmola Region Police Department K unit", "Kokshetau city police",
              "Stepnogorsk city police", "Burabay district police", "Tselinograd district police"],
    "KZ-15": ["Aktobe Region Police Department K unit", "Aktobe city police",
              "Mugalzhar district police", "Khromtau district police"],
    "KZ-19": ["Almaty Region Police Department K unit", "Konaev city police",
              "Karasay district police", "Talgar district police", "Ili district police"],
    "KZ-23": ["Atyrau Region Police Department K unit", "Atyrau city police",
              "Zhylyoi district police", "Makhambet district police"],
    "KZ-27": ["West Kazakhstan Region Police Department K unit", "Oral city police",
              "Burli district police", "Terekti district police"],
    "KZ-31": ["Jambyl Region Police Department K unit", "Taraz city police", "Shu district police",
              "Korday district police"],
    "KZ-33": ["Jetisu Region Police Department K unit", "Taldykorgan city police",
              "Tekeli city police", "Sarkand district police"],
    "KZ-35": ["Karaganda Region Police Department K unit", "Karaganda city police",
              "Temirtau city police", "Balkhash city police", "Shakhtinsk city police"],
    "KZ-39": ["Kostanay Region Police Department K unit", "Kostanay city police",
              "Rudny city police", "Lisakovsk city police"],
    "KZ-43": ["Kyzylorda Region Police Department K unit", "Kyzylorda city police",
              "Aral district police", "Kazaly district police"],
    "KZ-47": ["Mangystau Region Police Department K unit", "Aktau city police",
              "Zhanaozen city police", "Munaily district police"],
    "KZ-55": ["Pavlodar Region Police Department K unit", "Pavlodar city police",
              "Ekibastuz city police", "Aksu city police"],
    "KZ-59": ["North Kazakhstan Region Police Department K unit", "Petropavl city police",
              "Kyzylzhar district police", "Aiyrtau district police"],
    "KZ-61": ["Turkistan Region Police Department K unit", "Kentau city police",
              "Turkistan city police", "Sairam district police", "Saryagash district police"],
    "KZ-62": ["Ulytau Region Police Department K unit", "Zhezkazgan city police",
              "Satpayev city police", "Karazhal city police"],
    "KZ-63": ["East Kazakhstan Region Police Department K unit", "Oskemen city police",
              "Ridder city police", "Zaisan district police"],
    "KZ-71": ["Astana Police Department K unit", "Almaty district police", "Yesil district police",
              "Saryarka district police", "Baikonyr district police"],
    "KZ-75": ["Almaty Police Department K unit", "Medeu district police",
              "Bostandyk district police", "Auezov district police", "Alatau district police"],
    "KZ-79": ["Shymkent Police Department K unit", "Al-Farabi district police",
              "Abai district police", "Enbekshi district police", "Karatau district police"],
}

# Illustrative BINs from regions/data/organisations.json.
BANK_BINS: dict[str, list[str]] = {
    "kaspi": ["400301", "400302", "517901"], "halyk": ["440511", "440512", "539611"],
    "forte": ["418211", "527611"], "freedom": ["423811", "551211"], "jusan": ["427411", "535411"],
    "bcc": ["431511", "545811"], "home-credit": ["436711", "548911"], "bereke": ["441911", "557011"],
}
# 3-digit bank codes inside a KZ IBAN (invented for the demo).
_IBAN_BANK_CODES = ["722", "601", "965", "551", "998", "856", "886", "914"]
_MOBILE_CODES = ["700", "701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778"]

_FIRST = ["Aigerim", "Nurlan", "Dana", "Yerlan", "Aruzhan", "Timur", "Madina", "Daulet", "Gulnar",
          "Serik", "Zhanna", "Askar", "Saule", "Bekzat", "Alina", "Ruslan", "Kamila", "Olzhas",
          "Svetlana", "Igor", "Marina", "Dmitry", "Aizhan", "Nursultan", "Elvira", "Arman"]
_LAST = ["Sadykov", "Zhaksylykov", "Omarov", "Tulegenov", "Bekov", "Abenov", "Kassymov",
         "Nurpeisov", "Utepov", "Dzhumabayev", "Karimov", "Smagulov", "Ivanov", "Petrenko",
         "Kovalenko", "Serikbayev", "Baimukhanov", "Yesenov", "Tokhtarov", "Amanov"]
_INITIALS = ["A", "B", "D", "E", "G", "I", "K", "L", "M", "N", "O", "R", "S", "T", "U", "Zh",
             "Sh", "Ye", "Ch", "V"]

_STATUSES = ["suspended", "in_progress", "registered", "solved", "sent_to_court", "closed"]
_STATUS_W = [42, 20, 10, 8, 11, 9]

_DATE_MIN = dt.date(2022, 1, 3)
_DATE_MAX = dt.date(2026, 10, 30)

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


# --------------------------------------------------------------------------------------------
# Value builders (canonical forms) and spellings (how typists write them)

def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def tron_address(payload20: bytes) -> str:
    """A TRON address (base58check of 0x41 + 20 bytes): always starts with T."""
    raw = b"\x41" + payload20
    check = hashlib.sha256(hashlib.sha256(raw).digest()).digest()[:4]
    return b58encode(raw + check)


def kz_iban(bank_code: str, account13: str) -> str:
    """A KZ IBAN with valid ISO 7064 mod-97 check digits: KZ cc BBB + 13 alphanumerics."""
    bban = (bank_code + account13).upper()
    digits = "".join(str(int(c, 36)) for c in bban + "KZ00")
    check = 98 - int(digits) % 97
    return f"KZ{check:02d}{bban}"


def luhn_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = ord(ch) - 48
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def spell_phone(c: str, style: int) -> str:
    """c is the canonical 11-digit Kazakh number 7XXXXXXXXXX."""
    op, a, b, d = c[1:4], c[4:7], c[7:9], c[9:11]
    return [
        f"8 ({op}) {a}-{b}-{d}",
        f"+7 {op} {a}{b}{d}",
        c,
        "8" + c[1:],
        f"+7 ({op}) {a} {b} {d}",
        "+" + c,
        f"8-{op}-{a}-{b}-{d}",
        f"8 {op} {a} {b} {d}.",
        f"+7 {op} {a} {b} {d}",
    ][style % 9]


def spell_card(p: str, style: int) -> str:
    return [
        f"{p[:4]} {p[4:8]} {p[8:12]} {p[12:]}",
        f"{p[:4]}-{p[4:8]}-{p[8:12]}-{p[12:]}",
        p,
        f"{p[:4]} {p[4:8]} {p[8:12]} {p[12:]}.",
        f"{p[:4]} {p[4:]}",
    ][style % 5]


def spell_username(u: str, style: int) -> str:
    """Telegram/Instagram-like account name, u without @."""
    return [f"@{u}", f"@{u.upper()}", f"https://t.me/{u}", f"t.me/{u}", f"@{u}.",
            f"@{u[:1].upper()}{u[1:]}"][style % 6]


def spell_iban(i: str, style: int) -> str:
    grouped = " ".join(i[k:k + 4] for k in range(0, len(i), 4))
    return [i, grouped, i.lower(), grouped + "."][style % 4]


# --------------------------------------------------------------------------------------------

class _Builder:
    """Builds the dataset: `fx` drives the fixed scenarios, `rng` the seed-dependent rest."""

    def __init__(self, seed: int) -> None:
        self.fx = random.Random(_FIXED_SEED)
        self.rng = random.Random(seed)
        self.cases: list[dict[str, Any]] = []
        self.reg_taken: set[str] = set()
        self.serials: dict[tuple[int, str], int] = {}
        self.taken: set[tuple[str, str]] = set()
        self.rings: list[dict[str, Any]] = []

    # ---- registration numbers, dates -------------------------------------------------------
    def reg_number(self, r: random.Random, region: str, unit: str, date: dt.date) -> str:
        rr = region[3:]
        uu = UNITS[region].index(unit) + 1
        yy = date.year % 100
        key = (yy, rr)
        if key not in self.serials:
            self.serials[key] = r.randint(60, 900)
        while True:
            self.serials[key] += r.randint(1, 37)
            reg = f"{yy:02d}15{rr}{uu:02d}{self.serials[key]:07d}"
            if reg not in self.reg_taken:
                self.reg_taken.add(reg)
                return reg

    def reserve_reg(self, reg: str) -> str:
        assert reg not in self.reg_taken
        self.reg_taken.add(reg)
        return reg

    @staticmethod
    def date_between(r: random.Random, lo: dt.date, hi: dt.date) -> dt.date:
        return lo + dt.timedelta(days=r.randint(0, (hi - lo).days))

    # ---- fresh, unique values ------------------------------------------------------------
    def fresh(self, kind: str, make: Callable[[], str]) -> str:
        while True:
            v = make()
            if (kind, v) not in self.taken:
                self.taken.add((kind, v))
                return v

    def mobile(self, r: random.Random, codes: list[str] | None = None) -> str:
        codes = codes or _MOBILE_CODES
        return self.fresh("phone", lambda: "7" + r.choice(codes) + f"{r.randint(0, 9_999_999):07d}")

    def almaty_landline(self, r: random.Random) -> str:
        return self.fresh("phone", lambda: "7727" + str(r.choice([2, 3])) + f"{r.randint(0, 999_999):06d}")

    def card(self, r: random.Random, bank: str | None = None) -> str:
        bank = bank or r.choice(list(BANK_BINS))
        return self.fresh("card", lambda: make_card(r.choice(BANK_BINS[bank]), r))

    def iin(self, r: random.Random, birth: dt.date | None = None, sex: str | None = None) -> str:
        birth = birth or self.date_between(r, dt.date(1955, 1, 1), dt.date(2005, 12, 31))
        sex = sex or r.choice("MF")

        def make() -> str:
            while True:
                try:
                    return make_iin(birth, sex, r.randint(1, 9999))
                except ValueError:
                    continue  # the serial gave an impossible check digit; take another
        return self.fresh("iin", make)

    def iban(self, r: random.Random) -> str:
        def make() -> str:
            acct = "".join(r.choice("0123456789") for _ in range(13))
            if r.random() < 0.4:
                acct = "KZT" + acct[3:]
            return kz_iban(r.choice(_IBAN_BANK_CODES), acct)
        return self.fresh("iban", make)

    def account(self, r: random.Random) -> str:
        # A 20-digit ruble/tenge account number of the pre-IBAN kind (not an IBAN).
        return self.fresh("account", lambda: r.choice(["40817", "40820", "30233"]) +
                          f"{r.randint(0, 10**15 - 1):015d}")

    def tg_id(self, r: random.Random) -> str:
        return self.fresh("telegram", lambda: str(r.randint(1_000_000_000, 7_999_999_999)))

    def handle(self, r: random.Random, kind: str, parts: list[str]) -> str:
        """An invented account or domain name; domains get dashes, accounts underscores."""
        def make() -> str:
            a, b = r.sample(parts, 2)
            sep = r.choice(["-", ""] if kind == "url" else ["_", "", "_"])
            name = f"{a}{sep}{b}{r.choice(['', str(r.randint(1, 99)), '_kz', 'kz'])}"
            return name.replace("_", "-") if kind == "url" else name
        return self.fresh(kind, make)

    def tron(self, r: random.Random) -> str:
        return self.fresh("crypto_wallet", lambda: tron_address(r.randbytes(20)))

    def imei(self, r: random.Random) -> str:
        def make() -> str:
            tac = r.choice(["35320911", "35875110", "86769204", "35209900", "49015420"])
            body = tac + f"{r.randint(0, 999_999):06d}"
            return body + luhn_digit(body)
        return self.fresh("imei", make)

    def mobile_ip(self, r: random.Random) -> str:
        return self.fresh("ip", lambda: f"{r.choice(['37.150', '37.151', '95.56', '2.132', '92.46'])}."
                          f"{r.randint(1, 254)}.{r.randint(1, 254)}")

    def email(self, r: random.Random) -> str:
        return self.fresh("email", lambda: f"{r.choice(_FIRST).lower()}.{r.choice(_LAST).lower()}"
                          f"{r.randint(70, 2005)}@{r.choice(['mail.ru', 'gmail.com', 'inbox.kz', 'yandex.kz'])}")

    # ---- people -------------------------------------------------------------------------
    def victim(self, r: random.Random, phone: str | None = None) -> dict[str, str]:
        phone = phone or self.mobile(r)
        return {
            "name": f"{r.choice(_INITIALS)}. {r.choice(_INITIALS)}.",
            "phone": spell_phone(phone, r.randint(0, 8)),
            "iin": self.iin(r),
        }

    # ---- spelling of a mention -------------------------------------------------------------
    @staticmethod
    def spell(r: random.Random, kind: str, value: str) -> str:
        s = r.randint(0, 99)
        if kind in ("phone", "whatsapp"):
            return spell_phone(value, s) if value.startswith("7") and len(value) == 11 else value
        if kind == "card":
            return spell_card(value, s)
        if kind == "iban":
            return spell_iban(value, s)
        if kind == "telegram":
            if value.isdigit():
                return [f"id{value}", value, f"id{value}"][s % 3]
            return spell_username(value, s)
        if kind == "instagram":
            return [f"@{value}", f"https://instagram.com/{value}", f"instagram.com/{value}/",
                    f"@{value.upper()}"][s % 4]
        if kind == "ewallet":
            prov, num = value.split(":", 1)
            return [f"{prov}:+{num}", f"{prov.capitalize()}:+{num}", f"{prov}:{num}"][s % 3]
        if kind == "imei":
            return [value, f"{value[:2]}-{value[2:8]}-{value[8:14]}-{value[14]}", value][s % 3]
        if kind == "url":
            return [value, value.upper() if s % 7 == 0 else value + "/", value.replace("https://", "")][s % 3]
        if kind == "crypto_wallet":
            return [value, value + "."][s % 5 == 0]
        return value

    @staticmethod
    def mention(kind: str, value: str, role: str | None = None, note: str | None = None,
                explicit_role: bool = False) -> dict[str, str]:
        m: dict[str, str] = {"kind": kind, "value": value}
        if role is not None and (role != "suspect" or explicit_role):
            m["role"] = role
        if note:
            m["note"] = note
        return m

    # ---- a case ---------------------------------------------------------------------------
    def case(self, r: random.Random, *, region: str, date: dt.date, scheme: str, damage: int,
             identifiers: list[dict[str, str]] | None, victim: dict[str, str] | None = None,
             status: str | None = None, unit: str | None = None, alias: bool = False,
             reg: str | None = None, article: str | None = "190-2-4",
             recovered: int | None = None) -> dict[str, Any]:
        unit = unit or r.choice(UNITS[region])
        reg = reg or self.reg_number(r, region, unit, date)
        status = status or r.choices(_STATUSES, _STATUS_W)[0]
        if recovered is None:
            recovered = 0
            if status in ("solved", "sent_to_court", "closed") and damage and r.random() < 0.6:
                recovered = int(damage * r.choice([0.1, 0.25, 0.5, 1.0]))
        out: dict[str, Any] = {
            "registration_number": reg,
            "region": REGION_ALIASES[region] if alias else region,
            "unit": unit,
            "registered_at": date.isoformat(),
        }
        if article:
            out["article"] = article
        out["scheme"] = scheme
        out["status"] = status
        out["damage_kzt"] = damage
        out["recovered_kzt"] = recovered
        if victim is not None:
            out["victim"] = victim
        if identifiers is not None:
            out["identifiers"] = identifiers
        self.cases.append(out)
        return out


def _amount(r: random.Random, lo: int, hi: int) -> int:
    v = r.randint(lo, hi)
    if r.random() < 0.7:
        v = v // 1000 * 1000 or 1000
    return v


_DAMAGE = {
    "fake_bank_call": (150_000, 4_800_000), "fake_police_call": (200_000, 3_000_000),
    "fake_investment": (300_000, 9_500_000), "social_media": (10_000, 350_000),
    "credit_in_victim_name": (250_000, 3_500_000), "fake_shop_or_ad": (12_000, 450_000),
    "dropper": (0, 0), "mirror_site": (30_000, 900_000), "prize_or_lottery": (20_000, 600_000),
    "charity_or_relative": (5_000, 250_000), "other": (5_000, 500_000),
}


# --------------------------------------------------------------------------------------------
# The fixed scenarios

def _worked_example(b: _Builder) -> dict[str, Any]:
    r = b.fx
    holders_spec = [
        # (region, bank, amount, birth, sex)
        ("KZ-23", "forte", 2_500_000, dt.date(1957, 1, 11), "F"),
        ("KZ-33", "forte", 2_500_000, dt.date(2000, 6, 19), "M"),
        ("KZ-59", "kaspi", 5_827_000, dt.date(2003, 7, 2), "M"),
        ("KZ-71", "forte", 700_000, dt.date(1988, 1, 17), "M"),
        ("KZ-33", "forte", 1_822_000, dt.date(1998, 2, 21), "M"),
        ("KZ-33", "halyk", 1_303_000, dt.date(2002, 7, 6), "M"),
        ("KZ-71", "halyk", 1_900_000, dt.date(1971, 4, 16), "M"),
    ]
    names = ["Musina Nazira Tulegenkyzy", "Maratov Rakhat", "Bubenko Maksim Viktorovich",
             "Tasbolatov Mirzhan Zholamanovich", "Belgibayev Abylai Berikuly",
             "Kurmangaliyev Marlen Berikuly", "Tursunov Marat Bekovich"]
    holders = []
    for (region, bank, amount, birth, sex), name in zip(holders_spec, names):
        holders.append({
            "name": name, "region": region, "bank": bank, "amount": amount,
            "card": b.card(r, bank), "iin": b.iin(r, birth, sex),
        })
    assert sum(h["amount"] for h in holders) == 16_552_000
    tg_id = "5014762190"
    b.taken.add(("telegram", tg_id))
    tg_user = "karta_skupka_kz"
    b.taken.add(("telegram", tg_user))
    exchange = "binance:" + str(r.randint(300_000_000, 399_999_999))
    b.taken.add(("crypto_exchange_account", exchange))
    caller_phones = [b.mobile(r, ["771", "707"]) for _ in range(2)]

    # The Turkistan case: the victim D. S., 18-29 May 2022, posing as the National Bank.
    t0_reg = b.reserve_reg("221561030000457")
    card_spellings = [spell_card(h["card"], s) for h, s in zip(holders, [0, 0, 1, 0, 2, 0, 3])]
    idents = [
        b.mention("phone", spell_phone(caller_phones[0], 0), note="called the victim, posed as National Bank staff"),
        b.mention("phone", spell_phone(caller_phones[1], 1), note="called the victim, posed as National Bank staff"),
        b.mention("phone", spell_phone(SPOOFED_HOTLINE_CANON, 8),
                  note="caller ID shown to the victim: 'bank security service'"),
    ]
    for h, spelled in zip(holders, card_spellings):
        idents.append(b.mention("card", spelled, explicit_role=True, role="suspect",
                                note=f"received {h['amount']:,}; holder {h['name']} ({REGION_NAMES[h['region']]}), {h['bank']}"))
    idents += [
        b.mention("telegram", f"id{tg_id}", note="bought the cards from all seven holders"),
        b.mention("telegram", f"@{tg_user}", note="username of the same buyer"),
        b.mention("crypto_exchange_account", exchange, note="the money left through this exchange account"),
    ]
    victim = {"name": "D. S.", "phone": "+7 702 111 22 33", "iin": b.iin(r, dt.date(1985, 1, 1), "F")}
    b.taken.add(("phone", "77021112233"))
    t0 = b.case(r, region="KZ-61", date=dt.date(2022, 6, 4), scheme="fake_bank_call", damage=16_552_000,
                recovered=0, status="suspended", unit="Turkistan city police", reg=t0_reg,
                victim=victim, identifiers=idents)

    # Episodes registered where the holders live.
    H = holders
    others: list[dict[str, Any]] = []

    def ep(region: str, date: dt.date, scheme: str, damage: int, idents: list[dict[str, str]],
           unit: str, alias: bool = False, with_victim: bool = True, status: str = "suspended") -> None:
        others.append(b.case(r, region=region, date=date, scheme=scheme, damage=damage, identifiers=idents,
                             victim=b.victim(r) if with_victim else None, status=status, unit=unit,
                             alias=alias, recovered=0))

    # Atyrau: another victim paid into the Atyrau card; the holder named the buyer's t.me link.
    ep("KZ-23", dt.date(2022, 5, 30), "social_media", 340_000, [
        b.mention("card", spell_card(H[0]["card"], 2), note="victim transferred 340,000 for a 'car deposit'"),
        b.mention("telegram", f"https://t.me/{tg_user}", note="the card holder sold the card to this account"),
        b.mention("phone", spell_phone(b.mobile(r, ["702"]), 0), note="seller on a classifieds site"),
    ], unit="Atyrau city police", alias=True)
    # Jetisu: a victim of a fake shop paid into two Jetisu cards.
    ep("KZ-33", dt.date(2022, 6, 14), "fake_shop_or_ad", 186_500, [
        b.mention("card", spell_card(H[1]["card"], 1), note="first payment 90,000"),
        b.mention("card", spell_card(H[4]["card"], 4), note="second payment 96,500"),
        b.mention("instagram", "@" + b.handle(r, "instagram", ["iphone", "sale", "tehno", "almaty", "store"]),
                  note="shop page"),
    ], unit="Taldykorgan city police")
    # Jetisu: dropper case about the holder of the sixth card; the buyer typed in capitals.
    ep("KZ-33", dt.date(2022, 7, 21), "dropper", 0, [
        b.mention("card", spell_card(H[5]["card"], 0), note="card sold for 30,000 tenge"),
        b.mention("telegram", f"@{tg_user.upper()}", note="buyer of the card"),
        b.mention("iin", H[5]["iin"], note="the card holder"),
    ], unit="Jetisu Region Police Department K unit", with_victim=False, status="in_progress")
    # North Kazakhstan: a victim paid into the Kaspi card, number typed without spaces.
    ep("KZ-59", dt.date(2022, 6, 2), "fake_bank_call", 412_000, [
        b.mention("card", H[2]["card"], note="victim transferred 412,000"),
        b.mention("phone", spell_phone(b.mobile(r, ["747"]), 6), note="called the victim"),
    ], unit="Petropavl city police", alias=True)
    # Astana: a victim paid into the two Astana cards; the buyer by numeric id.
    ep("KZ-71", dt.date(2022, 6, 9), "fake_investment", 1_150_000, [
        b.mention("card", spell_card(H[3]["card"], 0), note="450,000"),
        b.mention("card", spell_card(H[6]["card"], 3), note="700,000"),
        b.mention("telegram", tg_id, note="'investment manager' in Telegram"),
    ], unit="Astana Police Department K unit")
    # Astana: dropper case about the holder of the last card.
    ep("KZ-71", dt.date(2022, 8, 3), "dropper", 0, [
        b.mention("card", spell_card(H[6]["card"], 1), note="card sold through Telegram"),
        b.mention("telegram", f"t.me/{tg_user[:1].upper()}{tg_user[1:]}", note="buyer"),
        b.mention("telegram", f"id{tg_id}", note="same buyer, numeric id"),
    ], unit="Yesil district police", alias=True, with_victim=False, status="in_progress")

    regs = [t0["registration_number"]] + [c["registration_number"] for c in others]
    return {
        "turkistan_registration_number": t0["registration_number"],
        "registration_numbers": regs,
        "cards": card_spellings,
        "card_numbers": [h["card"] for h in holders],
        "holders": [{k: h[k] for k in ("name", "region", "bank", "card", "iin", "amount")} for h in holders],
        "telegram_id": f"id{tg_id}",
        "telegram_username": f"@{tg_user}",
        "crypto_exchange_account": exchange,
        "holder_regions": ["KZ-23", "KZ-33", "KZ-59", "KZ-71"],
        "regions": sorted({"KZ-61", "KZ-23", "KZ-33", "KZ-59", "KZ-71"}),
        "damage_kzt": 16_552_000,
    }


def _liaison(b: _Builder, we: dict[str, Any]) -> dict[str, Any]:
    r = b.fx
    holder = next(h for h in we["holders"] if h["bank"] == "kaspi")
    date = dt.date(2022, 9, 12)
    own_iban = b.iban(r)
    own_phone = b.mobile(r, ["705"])
    c = b.case(r, region="KZ-55", date=date, scheme="credit_in_victim_name", damage=1_240_000,
               status="suspended", unit="Pavlodar city police", recovered=0, victim=b.victim(r),
               identifiers=[
                   b.mention("iin", holder["iin"], explicit_role=True, role="suspect",
                             note=f"holder of the receiving account, {holder['name']} (mule)"),
                   b.mention("iban", spell_iban(own_iban, 1), note="loan money was sent here"),
                   b.mention("phone", spell_phone(own_phone, 3), note="called the victim about a 'loan'"),
               ])
    return {
        "card": we["cards"][we["holders"].index(holder)],
        "card_number": holder["card"],
        "bank": "kaspi",
        "holder_name": holder["name"],
        "holder_iin": holder["iin"],
        "pavlodar_registration_number": c["registration_number"],
    }


SPOOFED_HOTLINE_CANON = "77273564120"
SPOOFED_HOTLINE = "+7 727 356 41 20"
_HOTLINE_NOTES = ["called the victim, posed as bank security", "posed as the bank's security service",
                  "'Kaspi security' call, caller ID spoofed", "caller ID shown: bank hotline"]


# --------------------------------------------------------------------------------------------
# Rings (seed-dependent)

def _chain_plan(r: random.Random, n_cases: int, n_ids: int) -> list[list[int]]:
    """For each case, indices of the ring's identifiers it mentions, so that the cases are
    connected by chains (A-B share one value, B-C another) and every identifier is used."""
    plan: list[list[int]] = []
    nxt = 0
    for i in range(n_cases):
        picks: list[int] = []
        left_cases = n_cases - i
        if nxt:
            picks.append(r.randrange(nxt))
            if nxt > 1 and r.random() < 0.2:
                picks.append(r.randrange(nxt))
        new = 0 if nxt else 1
        left_ids = n_ids - nxt - new
        if left_ids > 0:
            if left_ids >= left_cases:
                new += -(-left_ids // left_cases)
            elif r.random() < 0.45:
                new += 1
        for _ in range(new):
            if nxt < n_ids:
                picks.append(nxt)
                nxt += 1
        plan.append(sorted(set(picks)))
    return plan


def _spread_regions(r: random.Random, regions: list[str], n: int) -> list[str]:
    out = list(regions) + [r.choice(regions) for _ in range(n - len(regions))]
    head, tail = out[0], out[1:]
    r.shuffle(tail)
    return [head] + tail


def _ring(b: _Builder, name: str, scheme: str, regions: list[str], n_cases: int,
          ids: list[tuple[str, str, list[str]]], start: dt.date, months: int,
          extra: Callable[[int, list[dict[str, str]]], None] | None = None,
          hotline_cases: int = 0, description: str = "") -> dict[str, Any]:
    r = b.rng
    plan = _chain_plan(r, n_cases, len(ids))
    where = _spread_regions(r, regions, n_cases)
    end = min(start + dt.timedelta(days=30 * months), _DATE_MAX)
    dates = sorted(b.date_between(r, start, end) for _ in range(n_cases))
    hot = set(r.sample(range(n_cases), hotline_cases)) if hotline_cases else set()
    regs = []
    lo, hi = _DAMAGE[scheme]
    for i in range(n_cases):
        idents = []
        for k in plan[i]:
            kind, value, notes = ids[k]
            idents.append(b.mention(kind, b.spell(r, kind, value), note=r.choice(notes) if notes else None,
                                    role="suspect", explicit_role=r.random() < 0.3))
        if i in hot:
            idents.insert(0, b.mention("phone", spell_phone(SPOOFED_HOTLINE_CANON, r.randint(0, 8)),
                                       note=r.choice(_HOTLINE_NOTES)))
        if extra:
            extra(i, idents)
        region = where[i]
        c = b.case(r, region=region, date=dates[i], scheme=scheme,
                   damage=_amount(r, lo, hi) if hi else 0,
                   identifiers=idents, victim=b.victim(r) if scheme != "dropper" or r.random() < 0.3 else None,
                   alias=region in REGION_ALIASES and r.random() < 0.15,
                   article="190-3-2" if r.random() < 0.1 else "190-2-4")
        regs.append(c["registration_number"])
    ring = {"name": name, "scheme": scheme, "description": description, "registration_numbers": regs,
            "regions": sorted(set(where)), "kinds": sorted({k for k, _, _ in ids}),
            "spoofed_hotline_cases": [regs[i] for i in sorted(hot)]}
    b.rings.append(ring)
    return ring


def _rings(b: _Builder) -> None:
    r = b.rng
    word = ["invest", "crypto", "profit", "trade", "bonus", "money", "kz", "gold", "fast", "smart",
            "broker", "signal", "pro", "capital", "asia", "star", "club", "vip", "best", "top"]

    # 1. Fake investment: TRON wallets and a Telegram channel, "managers" on WhatsApp.
    chan = b.handle(r, "telegram", ["invest", "profit", "signals", "capital", "trade", "kz"])
    ids = [
        ("crypto_wallet", b.tron(r), ["USDT (TRC-20) deposit address", "victim sent USDT here"]),
        ("telegram", chan, ["'investment club' channel", "channel with fake payouts"]),
        ("crypto_wallet", b.tron(r), ["second deposit address", "USDT TRC-20"]),
        ("telegram", b.tg_id(r), ["personal 'manager'", "manager account"]),
        ("whatsapp", b.mobile(r), ["'analyst' on WhatsApp"]),
        ("crypto_wallet", b.tron(r), ["withdrawal 'fee' paid here"]),
        ("telegram", b.handle(r, "telegram", word), ["'support' account"]),
        ("url", f"https://{b.handle(r, 'url', ['tradex', 'invest', 'profit', 'capital', 'asia'])}-platform.com",
         ["trading platform site"]),
    ]
    _ring(b, "Fake investment platform", "fake_investment",
          ["KZ-75", "KZ-71", "KZ-35", "KZ-15", "KZ-63"], 12, ids, dt.date(2023, 2, 1), 9,
          description="Telegram channel promising crypto profits; deposits in USDT to TRON wallets")

    # 2. Fake shop: Kaspi e-wallets and a fake site.
    ids = [
        ("url", "https://" + b.handle(r, "url", ["tehno", "sale", "market", "shop", "almaty", "mega"]) + ".kz",
         ["fake shop site", "site with 'discounted' phones"]),
        ("ewallet", "kaspi:" + b.mobile(r), ["payment by Kaspi transfer to this number", "prepayment"]),
        ("instagram", b.handle(r, "instagram", ["tehno", "sale", "market", "shop", "iphone", "kz"]),
         ["ad in Instagram"]),
        ("ewallet", "kaspi:" + b.mobile(r), ["second payment number"]),
        ("phone", b.mobile(r), ["'manager' of the shop"]),
        ("card", b.card(r, "kaspi"), ["prepayment card"]),
    ]
    _ring(b, "Fake online shop", "fake_shop_or_ad", ["KZ-75", "KZ-19", "KZ-31", "KZ-79"], 9, ids,
          dt.date(2023, 10, 1), 5, description="Instagram ads for cheap phones, prepayment by Kaspi")

    # 3. Two suspects, 34 frauds against residents of 7 regions (002:L306): Kolesa.kz ads.
    ids = []
    for who in ("A", "B"):
        for _ in range(4 if who == "A" else 3):
            ids.append(("phone", b.mobile(r), [f"seller in the ad (suspect {who})", "called the victim back",
                                                "number in the Kolesa.kz ad"]))
    for _ in range(3):
        ids.append(("imei", b.imei(r), ["handset used with the seller's SIM", "IMEI from billing"]))
    order = [0, 4, 7, 1, 8, 5, 2, 9, 6, 3]
    ids = [ids[k] for k in order]

    def kolesa_ad(i: int, idents: list[dict[str, str]]) -> None:
        idents.append(b.mention("url", f"https://kolesa.kz/a/show/{b.rng.randint(100_000_000, 199_999_999)}",
                                note="ad for auto parts"))

    _ring(b, "Kostanay pair: fake auto-parts ads", "fake_shop_or_ad",
          ["KZ-39", "KZ-11", "KZ-35", "KZ-59", "KZ-15", "KZ-55", "KZ-71"], 34, ids,
          dt.date(2024, 3, 1), 8, extra=kolesa_ad,
          description="2 suspects, 34 frauds against residents of 7 regions, linked by their phones and IMEIs")

    # 4. Prize / lottery: WhatsApp numbers, one foreign.
    ids = [
        ("whatsapp", b.mobile(r), ["'prize' notification on WhatsApp"]),
        ("whatsapp", b.mobile(r), ["'lottery operator'"]),
        ("card", b.card(r), ["'prize tax' paid to this card"]),
        ("whatsapp", "+998 90 " + f"{r.randint(100, 999)} {r.randint(10, 99)} {r.randint(10, 99)}",
         ["foreign WhatsApp number"]),
        ("card", b.card(r), ["'delivery fee'"]),
    ]
    _ring(b, "Prize draw on WhatsApp", "prize_or_lottery", ["KZ-43", "KZ-61", "KZ-79"], 8, ids,
          dt.date(2024, 9, 1), 6, hotline_cases=2, description="'You won a car' messages; fees to cards")

    # 5. Credit in the victim's name: IBANs.
    ids = [
        ("iban", b.iban(r), ["loan money transferred here", "victim's credit sent to this account"]),
        ("phone", b.mobile(r), ["'bank employee'"]),
        ("iban", b.iban(r), ["second receiving account"]),
        ("iban", b.iban(r), ["microloan paid out here"]),
        ("phone", b.mobile(r), ["asked for the SMS code"]),
        ("email", b.email(r), ["email used in the loan application"]),
    ]
    _ring(b, "Loans in the victim's name", "credit_in_victim_name", ["KZ-35", "KZ-62", "KZ-10", "KZ-71"],
          10, ids, dt.date(2025, 1, 10), 7, hotline_cases=3,
          description="callers obtain SMS codes, take loans, send them to mule IBANs")

    # 6. Droppers: account numbers and cards of mules, an organiser's IIN.
    ids = [
        ("account", b.account(r), ["mule account (rubles)", "transit account"]),
        ("card", b.card(r), ["mule card"]),
        ("account", b.account(r), ["second transit account"]),
        ("iin", b.iin(r, sex="M"), ["recruiter of the mules"]),
        ("account", b.account(r), ["cash-out account"]),
        ("card", b.card(r), ["mule card"]),
    ]
    _ring(b, "Mule network", "dropper", ["KZ-47", "KZ-27", "KZ-23"], 7, ids, dt.date(2025, 5, 1), 6,
          hotline_cases=2, description="students recruited to open accounts; money moved abroad")

    # 7. Bank security calls: phones and safe-account cards.
    ids = [
        ("phone", b.mobile(r), ["called the victim", "'bank security officer'"]),
        ("card", b.card(r), ["'safe account' card"]),
        ("phone", b.mobile(r), ["second caller"]),
        ("card", b.card(r), ["'safe account' card"]),
        ("telegram", b.handle(r, "telegram", ["security", "bank", "help", "service", "kz", "support"]),
         ["sent a fake bank certificate"]),
        ("card", b.card(r), ["'safe account' card"]),
    ]
    _ring(b, "Bank security callers", "fake_bank_call", ["KZ-75", "KZ-79", "KZ-31", "KZ-11"], 8, ids,
          dt.date(2026, 1, 15), 8, hotline_cases=3,
          description="calls from a spoofed bank number, money to 'safe accounts'")


# --------------------------------------------------------------------------------------------
# Single-episode cases and noise (seed-dependent)

_SINGLE_SCHEMES = ["fake_bank_call", "fake_police_call", "fake_investment", "social_media",
                   "credit_in_victim_name", "fake_shop_or_ad", "dropper", "mirror_site",
                   "prize_or_lottery", "charity_or_relative", "other"]
_SINGLE_W = [20, 8, 10, 16, 8, 18, 4, 4, 5, 5, 2]


def _single_idents(b: _Builder, scheme: str) -> list[dict[str, str]]:
    r = b.rng
    out = []
    n = r.choices([0, 1, 2, 3], [6, 40, 38, 16])[0]
    pool: list[tuple[str, Callable[[], str], str]] = {
        "fake_bank_call": [("phone", lambda: b.mobile(r), "called the victim"),
                           ("card", lambda: b.card(r), "money sent here")],
        "fake_police_call": [("phone", lambda: b.mobile(r), "posed as a police officer"),
                             ("iban", lambda: b.iban(r), "'safe account'")],
        "fake_investment": [("telegram", lambda: b.tg_id(r), "'broker'"),
                            ("crypto_wallet", lambda: b.tron(r), "USDT sent here")],
        "social_media": [("instagram", lambda: b.handle(r, "instagram", ["aru", "dana", "shop", "kz", "life"]),
                          "hacked friend's account asked for money"),
                         ("card", lambda: b.card(r), "money sent here")],
        "credit_in_victim_name": [("iban", lambda: b.iban(r), "loan paid out here"),
                                  ("phone", lambda: b.mobile(r), "asked for the SMS code")],
        "fake_shop_or_ad": [("ewallet", lambda: "kaspi:" + b.mobile(r), "prepayment"),
                            ("phone", lambda: b.mobile(r), "seller")],
        "dropper": [("card", lambda: b.card(r), "card sold"), ("account", lambda: b.account(r), "account sold")],
        "mirror_site": [("url", lambda: "https://" + b.handle(r, "url", ["kaspi", "bank", "pay", "login",
                                                                         "secure", "online"]) + ".com",
                         "copy of a bank's site"),
                        ("card", lambda: b.card(r), "money sent here")],
        "prize_or_lottery": [("whatsapp", lambda: b.mobile(r), "'you won a prize'"),
                             ("card", lambda: b.card(r), "'prize tax'")],
        "charity_or_relative": [("card", lambda: b.card(r), "'help for a sick child'"),
                                ("instagram", lambda: b.handle(r, "instagram", ["help", "kömek", "child",
                                                                                "fond", "kz"]).replace("ö", "o"),
                                 "charity page")],
        "other": [("email", lambda: b.email(r), "correspondence"), ("phone", lambda: b.mobile(r), "called")],
    }[scheme]
    for _ in range(n):
        kind, make, note = r.choice(pool)
        out.append(b.mention(kind, b.spell(r, kind, make()), note=note, role="suspect",
                             explicit_role=r.random() < 0.2))
    return out


def _singles(b: _Builder, n: int) -> list[dict[str, Any]]:
    r = b.rng
    out = []
    for _ in range(n):
        scheme = r.choices(_SINGLE_SCHEMES, _SINGLE_W)[0]
        region = r.choice(list(REGION_NAMES))
        lo, hi = _DAMAGE[scheme]
        idents = _single_idents(b, scheme)
        c = b.case(r, region=region, date=b.date_between(r, _DATE_MIN, _DATE_MAX), scheme=scheme,
                   damage=_amount(r, lo, hi) if hi else 0,
                   identifiers=idents if idents or r.random() < 0.5 else None,
                   victim=b.victim(r) if scheme != "dropper" and r.random() < 0.92 else None,
                   alias=region in REGION_ALIASES and r.random() < 0.2,
                   article=None if r.random() < 0.05 else "190-2-4")
        out.append(c)
    return out


def _noise(b: _Builder, singles: list[dict[str, Any]]) -> None:
    """Values shared across unrelated cases that must NOT link them."""
    r = b.rng
    ring_cases = {reg: ring for ring in b.rings[1:] for reg in ring["registration_numbers"]}
    by_reg = {c["registration_number"]: c for c in b.cases}
    ring_regs = sorted(ring_cases)
    with_victim = [c for c in singles if "victim" in c]

    def idl(c: dict[str, Any]) -> list[dict[str, str]]:
        return c.setdefault("identifiers", [])

    # 1. One victim defrauded twice by two different rings: same victim phone (victim object),
    #    and the victim's own card named with role victim in both cases.
    inv = by_reg[b.rings[1]["registration_numbers"][3]]
    shop = by_reg[b.rings[2]["registration_numbers"][2]]
    vphone, vcard = b.mobile(r), b.card(r)
    viin = b.iin(r)
    for c, s in ((inv, 0), (shop, 4)):
        c["victim"] = {"name": "A. K.", "phone": spell_phone(vphone, s), "iin": viin}
        idl(c).append(b.mention("card", spell_card(vcard, s), role="victim", note="victim's own card, debited"))

    # 2. Victims sharing a phone (relatives, one line in the family) in unrelated single cases.
    for _ in range(3):
        a, c2 = r.sample(with_victim, 2)
        p = b.mobile(r)
        a["victim"]["phone"] = spell_phone(p, r.randint(0, 8))
        c2["victim"]["phone"] = spell_phone(p, r.randint(0, 8))
        idl(c2).append(b.mention("phone", spell_phone(p, r.randint(0, 8)), role="victim",
                                 note="victim's daughter's phone used for the transfer"))

    # 3. A victim-role identifier in a ring case and in an unrelated single case.
    vtg = b.tg_id(r)
    for c in (by_reg[r.choice(b.rings[4]["registration_numbers"])], r.choice(singles)):
        idl(c).append(b.mention("telegram", b.spell(r, "telegram", vtg), role="victim",
                                note="victim's own Telegram account"))

    # 4. One mobile (CGNAT) IP seen in unrelated cases: weak, never links by itself.
    ip = b.mobile_ip(r)
    for c in r.sample(singles, 5) + [by_reg[r.choice(ring_regs)] for _ in range(2)]:
        idl(c).append(b.mention("ip", ip, note="login IP of the payment (mobile operator NAT)"))

    # 5. Witness phones: a taxi driver who delivered cash for two unrelated cases.
    wp = b.mobile(r)
    for c in (r.choice(singles), by_reg[r.choice(ring_regs)]):
        idl(c).append(b.mention("phone", spell_phone(wp, r.randint(0, 8)), role="witness",
                                note="taxi driver who carried the cash"))

    # 6. The spoofed hotline also in a few single cases (it links nothing there).
    for c in r.sample(singles, 3):
        idl(c).append(b.mention("phone", spell_phone(SPOOFED_HOTLINE_CANON, r.randint(0, 8)),
                                note=r.choice(_HOTLINE_NOTES)))

    # 7. Every old letter code appears on at least one line.
    for code, alias in REGION_ALIASES.items():
        if not any(c["region"] == alias for c in b.cases):
            next(c for c in singles if c["region"] == code)["region"] = alias

    # 8. Unique weak IPs and witness values sprinkled around.
    for c in r.sample(singles, 12):
        idl(c).append(b.mention("ip", b.mobile_ip(r), note="IP of the suspect's login"))


# --------------------------------------------------------------------------------------------

def _build(seed: int) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    b = _Builder(seed)
    b.taken.add(("phone", SPOOFED_HOTLINE_CANON))
    we = _worked_example(b)
    liaison = _liaison(b, we)
    b.rings.append({"name": "Worked example: cards sold through Telegram", "scheme": "fake_bank_call",
                    "description": "000:L330-351 with invented data",
                    "registration_numbers": list(we["registration_numbers"]), "regions": we["regions"],
                    "kinds": ["card", "crypto_exchange_account", "iin", "phone", "telegram"],
                    "spoofed_hotline_cases": [we["turkistan_registration_number"]]})
    _rings(b)
    singles = _singles(b, 170)
    _noise(b, singles)
    cases = b.cases
    # Interleave the order of lines the way a combined export would be: by registration date.
    cases.sort(key=lambda c: (c["registered_at"], c["registration_number"]))
    return cases, we, liaison, b.rings


def build(seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Cases plus the ground truth for `seed`: {"cases", "worked_example", "liaison", "rings"}.
    The worked example and liaison scenario are the same for every seed; rings are not."""
    cases, we, liaison, rings = _build(seed)
    return {"cases": cases, "worked_example": we, "liaison": liaison, "rings": rings}


def generate(seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """The demo dataset: export-format case dicts, sorted by registration date."""
    return _build(seed)[0]


def write_jsonl(path: Path | str, seed: int = DEFAULT_SEED) -> int:
    """Write the demo dataset as JSON Lines; return the number of cases written."""
    cases = generate(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for c in cases:
            fh.write(json.dumps(c, ensure_ascii=False))
            fh.write("\n")
    return len(cases)


_cases0, WORKED_EXAMPLE, LIAISON_SCENARIO, RINGS = _build(DEFAULT_SEED)
del _cases0
