"""A fast synthetic NATIONAL dataset in the regional export format, for the linking benchmark.

    python bench/datagen.py --cases 1000000 --out /tmp/national.jsonl

Structure (all values invented, all valid for their kind, written in messy spellings):

* rings of cases sharing strong identifiers in chains (case A and B share a card, B and C a
  Telegram account...), sizes from a heavy-tailed (Pareto) distribution: most 2-10 cases,
  a few hundreds; each ring spread over 1-7 regions;
* about 40 % single-episode cases with identifiers of their own;
* a few hub phones (spoofed bank hotlines) mentioned by thousands of cases of unrelated
  rings; they must not join those rings;
* victim-side noise: victims' phones (victim object and `role: "victim"` mentions) drawn
  from a pool, so they repeat across unrelated cases; weak mobile IPs shared by many cases;
  witness phones.

About 4 identifier mentions per case. Speed comes from building values from counters with
cheap bijections (no collision checks needed) and precomputed Luhn tables, not from
per-case validation: 1M cases take a few seconds on one core.

Ground truth: pass a dict as `truth` and it receives, for every registration number, the
id of its group (ring id; a single-episode case is a group of its own). Values shared only
through hubs, victims, witnesses or weak IPs do not make a group.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Iterator

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hq.demo_data import b58encode  # noqa: E402
from hq.identifiers.iin import make_iin  # noqa: E402

REGIONS: list[tuple[str, list[str]]] = [
    ("KZ-10", ["Abai Region Police Department K unit", "Semey city police", "Ayagoz district police"]),
    ("KZ-11", ["Akmola Region Police Department K unit", "Kokshetau city police", "Burabay district police"]),
    ("KZ-15", ["Aktobe Region Police Department K unit", "Aktobe city police", "Khromtau district police"]),
    ("KZ-19", ["Almaty Region Police Department K unit", "Konaev city police", "Talgar district police"]),
    ("KZ-23", ["Atyrau Region Police Department K unit", "Atyrau city police", "Zhylyoi district police"]),
    ("KZ-27", ["West Kazakhstan Region Police Department K unit", "Oral city police", "Burli district police"]),
    ("KZ-31", ["Jambyl Region Police Department K unit", "Taraz city police", "Shu district police"]),
    ("KZ-33", ["Jetisu Region Police Department K unit", "Taldykorgan city police", "Tekeli city police"]),
    ("KZ-35", ["Karaganda Region Police Department K unit", "Karaganda city police", "Temirtau city police"]),
    ("KZ-39", ["Kostanay Region Police Department K unit", "Kostanay city police", "Rudny city police"]),
    ("KZ-43", ["Kyzylorda Region Police Department K unit", "Kyzylorda city police", "Aral district police"]),
    ("KZ-47", ["Mangystau Region Police Department K unit", "Aktau city police", "Zhanaozen city police"]),
    ("KZ-55", ["Pavlodar Region Police Department K unit", "Pavlodar city police", "Ekibastuz city police"]),
    ("KZ-59", ["North Kazakhstan Region Police Department K unit", "Petropavl city police",
               "Kyzylzhar district police"]),
    ("KZ-61", ["Turkistan Region Police Department K unit", "Turkistan city police", "Kentau city police"]),
    ("KZ-62", ["Ulytau Region Police Department K unit", "Zhezkazgan city police", "Satpayev city police"]),
    ("KZ-63", ["East Kazakhstan Region Police Department K unit", "Oskemen city police", "Ridder city police"]),
    ("KZ-71", ["Astana Police Department K unit", "Yesil district police", "Almaty district police"]),
    ("KZ-75", ["Almaty Police Department K unit", "Medeu district police", "Auezov district police"]),
    ("KZ-79", ["Shymkent Police Department K unit", "Al-Farabi district police", "Enbekshi district police"]),
]
ALIASES = {"KZ-61": "KZ-YUZ", "KZ-23": "KZ-ATY", "KZ-71": "KZ-AST", "KZ-59": "KZ-SEV",
           "KZ-75": "KZ-ALA", "KZ-55": "KZ-PAV"}

SCHEMES = ["fake_bank_call", "fake_police_call", "fake_investment", "social_media",
           "credit_in_victim_name", "fake_shop_or_ad", "dropper", "mirror_site", "prize_or_lottery",
           "charity_or_relative", "other"]
_SCHEME_W = [22, 7, 11, 14, 8, 20, 5, 3, 5, 4, 1]
_STATUS_W = {"suspended": 45, "in_progress": 20, "registered": 10, "solved": 7, "sent_to_court": 10,
             "closed": 8}

# Strong kinds a ring shares, with weights (out of 100).
_RING_KINDS_W = {"phone": 26, "card": 30, "telegram": 12, "iban": 8, "ewallet": 6, "whatsapp": 6,
                 "crypto_wallet": 4, "imei": 3, "account": 5}

_OPS = ["700", "701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778"]
_BINS = ["400301", "400302", "517901", "440511", "440512", "539611", "418211", "527611", "423811",
         "551211", "427411", "535411", "431511", "545811", "436711", "548911", "441911", "557011"]
_TACS = ["35320911", "35875110", "86769204", "35209900", "49015420", "35391110", "86012345",
         "35693803", "35445206", "86891503"]
_IBAN_BANKS = ["722", "601", "965", "551", "998", "856", "886", "914", "949", "470"]
_TG_WORDS = ["invest", "profit", "karta", "skupka", "bonus", "trade", "crypto", "helper", "manager",
             "support", "market", "dengi", "zaim", "credit", "lucky", "prize", "seller", "agent",
             "broker", "signal", "almaty", "astana", "shymkent", "capital", "exchange", "wallet",
             "cashout", "drop", "work", "smart"]
_INITIALS = ["A", "B", "D", "E", "G", "I", "K", "L", "M", "N", "O", "R", "S", "T", "U", "Zh", "Sh", "Ye"]

# Spoofed bank/police hotlines (landlines): each is mentioned by ~1.2 % of all cases.
HUB_PHONES = ["+77273564120", "+77272598811", "+77172555001", "+77273001122", "+77122301020"]

_VICTIM_PHONE_BASE = 60_000_000  # suspects' phone counters stay below, victims' above: never equal
_D0 = dt.date(2022, 1, 3)
_D1 = dt.date(2026, 10, 30)


def _table(weights: dict[str, int]) -> list[str]:
    out: list[str] = []
    for k, w in weights.items():
        out += [k] * w
    return out


def _luhn_block_tables(payload_len: int, starts: list[int]) -> list[list[int]]:
    """For each 3-digit block at payload index s: the Luhn contribution of 000..999."""
    tables = []
    for s in starts:
        t = []
        for v in range(1000):
            digits = f"{v:03d}"
            total = 0
            for k, ch in enumerate(digits):
                d = ord(ch) - 48
                if (payload_len - 1 - (s + k)) % 2 == 0:  # doubled (rightmost payload digit is)
                    d *= 2
                    if d > 9:
                        d -= 9
                total += d
            t.append(total)
        tables.append(t)
    return tables


def _luhn_prefix_sum(prefix: str, payload_len: int) -> int:
    total = 0
    for i, ch in enumerate(prefix):
        d = ord(ch) - 48
        if (payload_len - 1 - i) % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total


class _Values:
    """Unique valid values from counters: each `next_*` call returns a value never returned
    before (bijective scrambles of the counter), in a random messy spelling."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.r = rng.random
        self.phone_c = 0
        self.card_c = 0
        self.imei_c = 0
        self.iban_c = 0
        self.tg_c = 0
        self.wallet_c = 0
        self.acct_c = 0
        self.card_tables = _luhn_block_tables(15, [6, 9, 12])
        self.bin_sums = [_luhn_prefix_sum(b, 15) for b in _BINS]
        self.imei_tables = _luhn_block_tables(14, [8, 11])
        self.tac_sums = [_luhn_prefix_sum(t, 14) for t in _TACS]

    # phones ------------------------------------------------------------------------------
    @staticmethod
    def phone_digits(c: int) -> str:
        x = (c * 7_654_321 + 48_611_257) % 120_000_000  # bijective on 0..12*10^7-1
        return f"{_OPS[x % 12]}{x // 12:07d}"

    def spell_phone(self, n10: str) -> str:
        x = self.r()
        if x < 0.22:
            return f"8 ({n10[:3]}) {n10[3:6]}-{n10[6:8]}-{n10[8:]}"
        if x < 0.40:
            return f"+7 {n10[:3]} {n10[3:]}"
        if x < 0.55:
            return "7" + n10
        if x < 0.70:
            return "8" + n10
        if x < 0.82:
            return f"+7 ({n10[:3]}) {n10[3:6]} {n10[6:8]} {n10[8:]}"
        if x < 0.92:
            return "+7" + n10
        return f"8 {n10[:3]} {n10[3:6]} {n10[6:8]} {n10[8:]}"

    def next_phone(self) -> str:
        c = self.phone_c
        self.phone_c = c + 1
        return self.spell_phone(self.phone_digits(c))

    # cards -------------------------------------------------------------------------------
    def card_digits(self, c: int) -> str:
        nb = len(_BINS)
        x = (c * 123_456_791 + 987_654_321) % (nb * 1_000_000_000)  # bijective
        b = x % nb
        body = x // nb
        t0, t1, t2 = self.card_tables
        s = self.bin_sums[b] + t0[body // 1_000_000] + t1[body // 1000 % 1000] + t2[body % 1000]
        return f"{_BINS[b]}{body:09d}{(10 - s % 10) % 10}"

    def spell_card(self, p: str) -> str:
        x = self.r()
        if x < 0.55:
            return f"{p[:4]} {p[4:8]} {p[8:12]} {p[12:]}"
        if x < 0.80:
            return p
        if x < 0.92:
            return f"{p[:4]}-{p[4:8]}-{p[8:12]}-{p[12:]}"
        return f"{p[:4]} {p[4:8]} {p[8:12]} {p[12:]}."

    def next_card(self) -> str:
        c = self.card_c
        self.card_c = c + 1
        return self.card_digits(c)

    # others ------------------------------------------------------------------------------
    def next_imei(self) -> str:
        c = self.imei_c
        self.imei_c = c + 1
        nt = len(_TACS)
        x = (c * 7_919_003 + 4_242_421) % (nt * 1_000_000)  # bijective
        t = x % nt
        serial = x // nt
        t0, t1 = self.imei_tables
        s = self.tac_sums[t] + t0[serial // 1000] + t1[serial % 1000]
        return f"{_TACS[t]}{serial:06d}{(10 - s % 10) % 10}"

    def next_iban(self) -> str:
        c = self.iban_c
        self.iban_c = c + 1
        x = (c * 7_777_777_777 + 1_000_003) % (len(_IBAN_BANKS) * 10**13)  # bijective
        bank = _IBAN_BANKS[x % len(_IBAN_BANKS)]
        acct = x // len(_IBAN_BANKS)
        bban = f"{bank}{acct:013d}"
        check = 98 - int(bban + "203500") % 97  # "KZ00" moved to the end: K=20, Z=35
        iban = f"KZ{check:02d}{bban}"
        if self.r() < 0.3:
            return " ".join(iban[i:i + 4] for i in range(0, 20, 4))
        return iban

    def next_telegram(self) -> str:
        c = self.tg_c
        self.tg_c = c + 1
        x = self.r()
        if c % 2:
            tid = 1_000_000_000 + (c * 48_271) % 6_000_000_000
            return f"id{tid}" if x < 0.7 else str(tid)
        name = f"{_TG_WORDS[c // 2 % 30]}_{_TG_WORDS[c // 60 % 30]}{c // 1800:x}"
        if x < 0.5:
            return "@" + name
        if x < 0.7:
            return "@" + name.upper()
        if x < 0.85:
            return "https://t.me/" + name
        return "t.me/" + name

    def next_wallet(self) -> str:
        c = self.wallet_c
        self.wallet_c = c + 1
        if c % 4 == 0:  # TRON, base58check (the slow kind, kept to a quarter)
            raw = b"\x41" + ((c * 0x9E3779B97F4A7C15 + 1) % (1 << 160)).to_bytes(20, "big")
            return b58encode(raw + hashlib.sha256(hashlib.sha256(raw).digest()).digest()[:4])
        return f"0x{(c * 0x9E3779B97F4A7C15F39CC0605CEDC835 + 7) % (1 << 160):040x}"

    def next_account(self) -> str:
        c = self.acct_c
        self.acct_c = c + 1
        return f"40817{(c * 998_244_353 + 12_345) % 10**15:015d}"

    def next_value(self, kind: str) -> tuple[str, str]:
        """(export kind, spelled value) of a fresh value of a ring kind."""
        if kind == "phone":
            return "phone", self.next_phone()
        if kind == "card":
            return "card", self.spell_card(self.next_card())
        if kind == "telegram":
            return "telegram", self.next_telegram()
        if kind == "iban":
            return "iban", self.next_iban()
        if kind == "ewallet":
            return "ewallet", "kaspi:+7" + self.phone_digits(self._bump_phone())
        if kind == "whatsapp":
            return "whatsapp", self.next_phone()
        if kind == "crypto_wallet":
            return "crypto_wallet", self.next_wallet()
        if kind == "imei":
            return "imei", self.next_imei()
        return "account", self.next_account()

    def _bump_phone(self) -> int:
        c = self.phone_c
        self.phone_c = c + 1
        return c


def _iin_pool(rng: random.Random, size: int) -> list[str]:
    out = []
    for _ in range(size):
        birth = _D0.replace(year=1950) + dt.timedelta(days=rng.randrange(20_000))
        out.append(make_iin(birth, "MF"[rng.randrange(2)], rng.randrange(10_000)))
    return out


def generate_national(n_cases: int = 1_000_000, seed: int = 7,
                      truth: dict[str, int] | None = None) -> Iterator[dict[str, Any]]:
    """Yield `n_cases` export-format case dicts (see the module doc for the structure).

    `truth`, if given, is filled with registration_number -> group id (ring id; singles get
    an id of their own)."""
    if n_cases > 9_999_999:
        raise ValueError("at most 9,999,999 cases (7-digit serials)")
    rng = random.Random(seed)
    r = rng.random
    vals = _Values(rng)

    ndays = (_D1 - _D0).days + 1
    dates = [(_D0 + dt.timedelta(days=k)) for k in range(ndays)]
    date_iso = [d.isoformat() for d in dates]
    date_yy = [f"{d.year % 100:02d}" for d in dates]
    nreg = len(REGIONS)
    reg_codes = [code for code, _ in REGIONS]
    reg_rr = [code[3:] for code in reg_codes]
    reg_alias = [ALIASES.get(code, code) for code in reg_codes]
    units = [u for _, u in REGIONS]
    status_t = _table(_STATUS_W)
    scheme_t = _table(dict(zip(SCHEMES, _SCHEME_W)))
    kind_t = _table(_RING_KINDS_W)
    initials = [f"{a}. {b}." for a in _INITIALS for b in _INITIALS]
    single_kinds = _table({"phone": 30, "card": 30, "telegram": 10, "iban": 8, "ewallet": 8,
                           "whatsapp": 6, "crypto_wallet": 3, "account": 5})

    n_victim_phones = max(50, n_cases // 3)
    iins = _iin_pool(rng, min(50_000, max(100, n_cases // 10)))
    n_iin = len(iins)
    n_ips = max(20, n_cases // 500)
    ips = [f"{('37.150', '37.151', '95.56', '2.132', '92.46', '178.89')[k % 6]}.{k // 6 // 254 % 254 + 1}."
           f"{k // 6 % 254 + 1}" for k in range(n_ips)]
    hubs = [h[1:] for h in HUB_PHONES]
    hub_spell = [[f"+7 {h[1:4]} {h[4:7]} {h[7:9]} {h[9:]}", "8" + h[1:], "+" + h,
                  f"8 ({h[1:4]}) {h[4:7]}-{h[7:9]}-{h[9:]}"] for h in hubs]
    hub_notes = ["called the victim, posed as bank security", "caller ID: bank hotline",
                 "posed as National Bank staff"]
    amounts = [k * 1000 for k in range(5, 3000)]

    serial = 0
    group = 0
    singles = 0
    while serial < n_cases:
        left = n_cases - serial
        if singles < 0.4 * serial or left == 1:
            size = 1
        else:
            size = min(left, 600, int(2 * rng.paretovariate(1.25)))
            if size < 2:
                size = 2
        group += 1
        if size == 1:
            singles += 1
            ring_regions = [int(r() * nreg)]
            ring_vals: list[tuple[str, str]] = []
            m = 0
        else:
            k = 1 + min(6, int(rng.expovariate(0.7)))
            ring_regions = [int(r() * nreg) for _ in range(k)]
            m = size  # one new shared value per case, each case also re-mentions an earlier one
            ring_vals = []
        scheme = scheme_t[int(r() * len(scheme_t))]
        start = int(r() * ndays)
        span = 20 + int(r() * 240)
        nr = len(ring_regions)
        for j in range(size):
            serial += 1
            ri = ring_regions[int(r() * nr)] if nr > 1 else ring_regions[0]
            ui = int(r() * 3)
            di = start + int(r() * span)
            if di >= ndays:
                di = ndays - 1 - int(r() * 30)
            regno = f"{date_yy[di]}15{reg_rr[ri]}{ui + 1:02d}{serial:07d}"
            idents: list[dict[str, str]] = []
            if size > 1:
                # chain: one value an earlier case of the ring used, one new value
                if j:
                    kd, v = ring_vals[int(r() * len(ring_vals))]
                    idents.append({"kind": kd, "value": v, "note": "same as in an earlier episode"})
                if len(ring_vals) < m:
                    kd, v = vals.next_value(kind_t[int(r() * 100)])
                    ring_vals.append((kd, v))
                    idents.append({"kind": kd, "value": v})
                x = r()
                own = 1 if x < 0.5 else (2 if x < 0.9 else 0)
            else:
                x = r()
                own = 3 if x < 0.4 else (4 if x < 0.8 else 2)
            for _ in range(own):
                kd, v = vals.next_value(single_kinds[int(r() * 100)])
                idents.append({"kind": kd, "value": v, "role": "suspect"})
            if r() < 0.45:
                vp = vals.phone_digits(_VICTIM_PHONE_BASE + int(r() * n_victim_phones))
                idents.append({"kind": "phone", "value": vals.spell_phone(vp), "role": "victim",
                               "note": "victim's own number"})
            if r() < 0.3:
                idents.append({"kind": "ip", "value": ips[int(r() * n_ips)], "note": "login IP (mobile NAT)"})
            if r() < 0.012:
                h = int(r() * 5)
                idents.append({"kind": "phone", "value": hub_spell[h][int(r() * 4)],
                               "note": hub_notes[h % 3]})
            if r() < 0.04:
                idents.append({"kind": "phone", "value": vals.next_phone(), "role": "witness",
                               "note": "taxi driver"})
            status = status_t[int(r() * 100)]
            damage = 0 if scheme == "dropper" else amounts[int(r() * r() * 2995)]
            vphone = vals.phone_digits(_VICTIM_PHONE_BASE + int(r() * n_victim_phones))
            case = {
                "registration_number": regno,
                "region": reg_alias[ri] if r() < 0.05 else reg_codes[ri],
                "unit": units[ri][ui],
                "registered_at": date_iso[di],
                "article": "190-2-4",
                "scheme": scheme,
                "status": status,
                "damage_kzt": damage,
                "recovered_kzt": damage // 2 if status == "solved" else 0,
                "victim": {"name": initials[int(r() * 324)], "phone": vals.spell_phone(vphone),
                           "iin": iins[int(r() * n_iin)]},
                "identifiers": idents,
            }
            if truth is not None:
                truth[regno] = group
            yield case


def write_jsonl(path: Path | str, n_cases: int = 1_000_000, seed: int = 7,
                stats: dict[str, float] | None = None) -> int:
    """Write the national dataset as JSON Lines; return the number of cases.

    `stats`, if given, receives "generate_s" (time spent generating the dicts) and
    "total_s" (generation, JSON encoding and writing)."""
    dumps = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), check_circular=False).encode
    clock = time.perf_counter
    t_start = clock()
    t_gen = 0.0
    n = 0
    buf: list[str] = []
    gen = generate_national(n_cases, seed)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the dicts hold no reference cycles; the collector would only rescan them
    try:
        with open(path, "w", encoding="utf-8") as fh:
            while True:
                t0 = clock()
                case = next(gen, None)
                t_gen += clock() - t0
                if case is None:
                    break
                buf.append(dumps(case))
                n += 1
                if len(buf) >= 20_000:
                    buf.append("")
                    fh.write("\n".join(buf))
                    buf.clear()
            if buf:
                buf.append("")
                fh.write("\n".join(buf))
    finally:
        if gc_was_enabled:
            gc.enable()
    if stats is not None:
        stats["generate_s"] = t_gen
        stats["total_s"] = clock() - t_start
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate a synthetic national case export (JSON Lines).")
    ap.add_argument("--cases", type=int, default=1_000_000, help="number of cases (default 1,000,000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, required=True, help="output .jsonl path")
    args = ap.parse_args(argv)
    stats: dict[str, float] = {}
    n = write_jsonl(args.out, args.cases, args.seed, stats)
    gen_s, total_s = stats["generate_s"], stats["total_s"]
    size = args.out.stat().st_size
    print(f"{n} cases: generation {gen_s:.1f} s ({n / max(gen_s, 1e-9):,.0f} cases/s); "
          f"with JSON encoding and writing {total_s:.1f} s ({n / max(total_s, 1e-9):,.0f} cases/s); "
          f"{size / 1e6:.0f} MB -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
