"""The demo dataset (hq/demo_data.py) and the national benchmark generator (bench/datagen.py)."""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.datagen import HUB_PHONES, generate_national  # noqa: E402
from hq import demo_data  # noqa: E402
from hq.identifiers import normalise  # noqa: E402
from hq.identifiers.base import Strength  # noqa: E402

PEPPER = b"test-pepper"
NUMERIC = set(demo_data.REGION_NAMES)
ALIAS_TO_CODE = {v: k for k, v in demo_data.REGION_ALIASES.items()}
VALID_REGIONS = NUMERIC | set(ALIAS_TO_CODE)
SCHEMES = {"fake_bank_call", "fake_police_call", "fake_investment", "social_media",
           "credit_in_victim_name", "fake_shop_or_ad", "dropper", "mirror_site", "prize_or_lottery",
           "charity_or_relative", "other"}
STATUSES = {"registered", "in_progress", "suspended", "solved", "sent_to_court", "closed"}
KINDS = {"phone", "card", "iban", "account", "telegram", "whatsapp", "instagram", "social", "ewallet",
         "ip", "crypto_wallet", "crypto_exchange_account", "imei", "iin", "email", "url"}


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    return demo_data.generate()


@pytest.fixture(scope="module")
def by_reg(cases) -> dict[str, dict]:
    return {c["registration_number"]: c for c in cases}


def code_of(region: str) -> str:
    return ALIAS_TO_CODE.get(region, region)


def key(kind: str, value: str) -> tuple[str, str]:
    n = normalise(kind, value, pepper=PEPPER)
    return n.kind, n.key


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def add(self, x: str) -> None:
        self.parent.setdefault(x, x)

    def find(self, x: str) -> str:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb

    def groups(self) -> list[set[str]]:
        out: dict[str, set[str]] = collections.defaultdict(set)
        for x in self.parent:
            out[self.find(x)].add(x)
        return list(out.values())


def link_components(cases, *, exclude: set[tuple[str, str]] = frozenset(),
                    extra_edges: list[tuple[str, str]] = ()) -> list[set[str]]:
    """Cases joined by shared suspect-side values of strong (and phone) strength only."""
    owners: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    uf = UnionFind()
    for c in cases:
        uf.add(c["registration_number"])
        for m in c.get("identifiers") or []:
            if m.get("role", "suspect") != "suspect":
                continue
            n = normalise(m["kind"], m["value"], pepper=PEPPER)
            if n.strength is Strength.WEAK or (n.kind, n.key) in exclude:
                continue
            owners[(n.kind, n.key)].add(c["registration_number"])
    for regs in owners.values():
        first, *rest = sorted(regs)
        for other in rest:
            uf.union(first, other)
    for a, b in extra_edges:
        uf.union(a, b)
    return uf.groups()


HOTLINE_KEY = ("phone", "+77273564120")


# --------------------------------------------------------------------------------------------
# demo_data: shape of the export

def test_deterministic_and_seeded():
    a = demo_data.generate(2022)
    b = demo_data.generate(2022)
    assert a == b
    assert json.dumps(a) == json.dumps(b)
    other = demo_data.generate(99)
    assert other != a
    # The fixed scenarios are the same for every seed.
    other_regs = {c["registration_number"] for c in other}
    assert set(demo_data.WORKED_EXAMPLE["registration_numbers"]) <= other_regs
    assert demo_data.LIAISON_SCENARIO["pavlodar_registration_number"] in other_regs
    assert demo_data.build(99)["worked_example"] == demo_data.WORKED_EXAMPLE


def test_size_and_unique_registration_numbers(cases):
    assert 250 <= len(cases) <= 350
    regs = [c["registration_number"] for c in cases]
    assert len(set(regs)) == len(regs)


def test_registration_number_scheme(cases):
    # YY 15 RR UU NNNNNNN
    for c in cases:
        reg = c["registration_number"]
        assert re.fullmatch(r"[0-9]{15}", reg), reg
        assert reg[:2] == c["registered_at"][2:4], reg
        assert reg[2:4] == "15"
        assert reg[4:6] == code_of(c["region"])[3:], (reg, c["region"])
        units = demo_data.UNITS[code_of(c["region"])]
        assert units[int(reg[6:8]) - 1] == c["unit"], (reg, c["unit"])


def test_required_fields_and_values(cases):
    for c in cases:
        for f in ("registration_number", "region", "registered_at"):
            assert c.get(f), (f, c)
        assert c["region"] in VALID_REGIONS
        d = dt.date.fromisoformat(c["registered_at"])
        assert dt.date(2022, 1, 1) <= d <= dt.date(2026, 10, 31)
        assert c.get("scheme") in SCHEMES
        assert c.get("status") in STATUSES
        assert isinstance(c["damage_kzt"], int) and c["damage_kzt"] >= 0
        assert isinstance(c["recovered_kzt"], int) and 0 <= c["recovered_kzt"] <= c["damage_kzt"]
        assert set(c) <= {"registration_number", "region", "unit", "registered_at", "article", "scheme",
                          "status", "damage_kzt", "recovered_kzt", "victim", "identifiers"}
        for m in c.get("identifiers") or []:
            assert m["kind"] in KINDS
            assert m.get("role", "suspect") in {"suspect", "victim", "witness"}
            assert set(m) <= {"kind", "value", "role", "note"}


def test_status_mix_and_aliases(cases):
    statuses = collections.Counter(c["status"] for c in cases)
    assert statuses["suspended"] == max(statuses.values())
    assert len(statuses) == len(STATUSES)
    regions = {c["region"] for c in cases}
    assert {"KZ-YUZ", "KZ-ATY", "KZ-AST", "KZ-SEV"} <= regions
    assert NUMERIC <= {code_of(r) for r in regions}


def test_every_value_normalises(cases):
    kinds = collections.Counter()
    for c in cases:
        for m in c.get("identifiers") or []:
            normalise(m["kind"], m["value"], pepper=PEPPER)
            kinds[m["kind"]] += 1
        v = c.get("victim")
        if v:
            assert re.fullmatch(r"[A-Z][a-z]?\. [A-Z][a-z]?\.", v["name"]), v["name"]
            normalise("phone", v["phone"], pepper=PEPPER)
            normalise("iin", v["iin"], pepper=PEPPER)
    # every kind the scenarios need is present
    assert {"phone", "card", "iban", "account", "telegram", "whatsapp", "instagram", "ewallet", "ip",
            "crypto_wallet", "crypto_exchange_account", "imei", "iin", "email", "url"} <= set(kinds)


def test_messy_spellings_present(cases):
    values = [m["value"] for c in cases for m in c.get("identifiers") or []]
    values += [c["victim"]["phone"] for c in cases if c.get("victim")]
    assert any(re.fullmatch(r"8 \(7\d\d\) \d{3}-\d\d-\d\d", v) for v in values)
    assert any(re.fullmatch(r"\+7 7\d\d \d{7}", v) for v in values)
    assert any(re.fullmatch(r"77\d{9}", v) for v in values)
    assert any(re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", v) for v in values)
    assert any(re.fullmatch(r"\d{4}-\d{4}-\d{4}-\d{4}", v) for v in values)
    assert any(v.startswith("https://t.me/") for v in values)
    assert any(v.startswith("@") and v[1:].isupper() for v in values)
    assert any(v.endswith(".") for v in values)


def test_parses_with_case_record(cases):
    case_record = pytest.importorskip("hq.case_record")
    regions = pytest.importorskip("regions")
    directory = regions.load_directory()
    for c in cases:
        rec = case_record.parse_case(c, directory, pepper=PEPPER)
        assert rec.unit_id is not None, c["unit"]


def test_write_jsonl(tmp_path):
    path = tmp_path / "demo.jsonl"
    n = demo_data.write_jsonl(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert n == len(lines)
    assert [json.loads(x) for x in lines] == demo_data.generate()


# --------------------------------------------------------------------------------------------
# demo_data: the scenarios

def test_worked_example(by_reg):
    we = demo_data.WORKED_EXAMPLE
    assert len(we["cards"]) == 7
    card_keys = {key("card", c) for c in we["cards"]}
    assert len(card_keys) == 7
    holder_regions = {h["region"] for h in we["holders"]}
    assert holder_regions == {"KZ-23", "KZ-33", "KZ-59", "KZ-71"}
    assert sum(h["amount"] for h in we["holders"]) == 16_552_000
    regs = we["registration_numbers"]
    assert 6 <= len(regs) <= 7 + 1
    covered = {code_of(by_reg[r]["region"]) for r in regs}
    assert covered >= holder_regions | {"KZ-61"}

    t0 = by_reg[we["turkistan_registration_number"]]
    assert code_of(t0["region"]) == "KZ-61"
    assert t0["damage_kzt"] == 16_552_000 and t0["status"] == "suspended"
    t0_keys = {key(m["kind"], m["value"]) for m in t0["identifiers"]}
    assert card_keys <= t0_keys
    tg_keys = {key("telegram", we["telegram_id"]), key("telegram", we["telegram_username"])}
    assert tg_keys <= t0_keys
    assert key("crypto_exchange_account", we["crypto_exchange_account"]) in t0_keys

    with_buyer = 0
    for r in regs:
        keys = {key(m["kind"], m["value"]) for m in by_reg[r]["identifiers"]}
        assert keys & card_keys, r  # every episode names at least one of the seven cards
        with_buyer += bool(keys & tg_keys)
    assert with_buyer >= 3
    # different spellings of the buyer
    raw = {m["value"] for r in regs for m in by_reg[r]["identifiers"] if m["kind"] == "telegram"}
    assert len(raw) >= 4


def test_rings_are_exactly_the_strong_components(cases):
    comps = link_components(cases, exclude={HOTLINE_KEY})
    multi = sorted((sorted(g) for g in comps if len(g) > 1))
    expected = sorted(sorted(r["registration_numbers"]) for r in demo_data.RINGS)
    assert multi == expected
    assert sorted(demo_data.WORKED_EXAMPLE["registration_numbers"]) in multi
    assert 5 <= len(demo_data.RINGS) - 1 <= 8
    singles = sum(1 for g in comps if len(g) == 1)
    assert singles >= 140


def test_ring_shapes():
    for ring in demo_data.RINGS[1:]:
        assert 3 <= len(ring["registration_numbers"]) <= 35
        assert 2 <= len(ring["regions"]) <= 7
    kolesa = next(r for r in demo_data.RINGS if "34" in r["description"])
    assert len(kolesa["registration_numbers"]) == 34 and len(kolesa["regions"]) == 7


def test_rings_are_chains_not_stars(by_reg):
    # Not every case of a ring names every shared value.
    for ring in demo_data.RINGS[1:]:
        per_case = [{key(m["kind"], m["value"]) for m in by_reg[r]["identifiers"]
                     if m.get("role", "suspect") == "suspect"} for r in ring["registration_numbers"]]
        common = set.intersection(*per_case)
        assert not common - {HOTLINE_KEY}, ring["name"]


def test_spoofed_hotline_is_a_hub_not_a_link(cases):
    hot = key("phone", demo_data.SPOOFED_HOTLINE)
    assert hot == HOTLINE_KEY
    ring_of = {r: ring["name"] for ring in demo_data.RINGS for r in ring["registration_numbers"]}
    mentioning = [c["registration_number"] for c in cases
                  if any(key(m["kind"], m["value"]) == hot for m in c.get("identifiers") or [])]
    rings = {ring_of[r] for r in mentioning if r in ring_of}
    assert len(rings - {demo_data.RINGS[0]["name"]}) >= 4
    spellings = {m["value"] for c in cases for m in c.get("identifiers") or []
                 if m["kind"] == "phone" and key("phone", m["value"]) == hot}
    assert len(spellings) >= 3
    # Counting the hotline as a link would merge unrelated rings: that is why it is a hub.
    with_hub = link_components(cases)
    assert max(len(g) for g in with_hub) > max(len(r["registration_numbers"]) for r in demo_data.RINGS)


def test_liaison_scenario(cases, by_reg):
    ls = demo_data.LIAISON_SCENARIO
    we = demo_data.WORKED_EXAMPLE
    assert ls["bank"] == "kaspi"
    assert ls["card"] in we["cards"]
    assert ls["card_number"][:6] in demo_data.BANK_BINS["kaspi"]
    normalise("iin", ls["holder_iin"], pepper=PEPPER)
    pav = by_reg[ls["pavlodar_registration_number"]]
    assert code_of(pav["region"]) == "KZ-55"
    kinds = {m["kind"] for m in pav["identifiers"]}
    assert {"iin", "iban", "phone"} <= kinds
    iin_key = key("iin", ls["holder_iin"])
    assert iin_key in {key(m["kind"], m["value"]) for m in pav["identifiers"]}
    # Not linked to the worked example by anything (of any strength or role) ...
    pav_keys = {key(m["kind"], m["value"]) for m in pav["identifiers"]}
    for r in we["registration_numbers"]:
        assert not pav_keys & {key(m["kind"], m["value"]) for m in by_reg[r]["identifiers"]}
    comps = link_components(cases, exclude={HOTLINE_KEY})
    comp_of = {r: frozenset(g) for g in comps for r in g}
    assert comp_of[pav["registration_number"]] == {pav["registration_number"]}
    # ... until the bank answers "holder of card X has IIN Y".
    joined = link_components(cases, exclude={HOTLINE_KEY},
                             extra_edges=[(we["turkistan_registration_number"], pav["registration_number"])])
    big = next(g for g in joined if we["turkistan_registration_number"] in g)
    assert big == set(we["registration_numbers"]) | {pav["registration_number"]}


def test_noise_must_not_link(cases):
    ring_of = {r: i for i, ring in enumerate(demo_data.RINGS) for r in ring["registration_numbers"]}

    def group(reg: str) -> object:
        return ring_of.get(reg, reg)

    victim_side: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    weak: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    witness: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for c in cases:
        reg = c["registration_number"]
        if c.get("victim"):
            victim_side[key("phone", c["victim"]["phone"])].add(reg)
        for m in c.get("identifiers") or []:
            n = normalise(m["kind"], m["value"], pepper=PEPPER)
            role = m.get("role", "suspect")
            if role == "victim":
                victim_side[(n.kind, n.key)].add(reg)
            elif role == "witness":
                witness[(n.kind, n.key)].add(reg)
            elif n.strength is Strength.WEAK:
                weak[(n.kind, n.key)].add(reg)
    shared_victim = [regs for regs in victim_side.values() if len({group(r) for r in regs}) >= 2]
    assert len(shared_victim) >= 3
    # a victim defrauded by two different rings
    assert any(len({group(r) for r in regs if r in ring_of}) >= 2 for regs in shared_victim)
    assert any(len({group(r) for r in regs}) >= 5 for regs in weak.values())
    assert any(len({group(r) for r in regs}) >= 2 for regs in witness.values())


# --------------------------------------------------------------------------------------------
# bench/datagen.py

@pytest.fixture(scope="module")
def national():
    truth: dict[str, int] = {}
    return list(generate_national(2000, seed=7, truth=truth)), truth


def test_national_count_mentions_and_determinism(national):
    cases, truth = national
    assert len(cases) == 2000
    avg = sum(len(c["identifiers"]) for c in cases) / len(cases)
    assert 3.5 <= avg <= 4.5
    regs = [c["registration_number"] for c in cases]
    assert len(set(regs)) == len(regs) == len(truth)
    assert list(generate_national(2000, seed=7)) == cases
    assert list(generate_national(2000, seed=8)) != cases


def test_national_values_valid_and_fields(national):
    cases, _ = national
    for c in cases:
        assert c["region"] in {"KZ-ALA", "KZ-PAV"} | VALID_REGIONS
        assert re.fullmatch(r"[0-9]{15}", c["registration_number"])
        assert c["scheme"] in SCHEMES and c["status"] in STATUSES
        dt.date.fromisoformat(c["registered_at"])
        normalise("phone", c["victim"]["phone"], pepper=PEPPER)
        normalise("iin", c["victim"]["iin"], pepper=PEPPER)
        for m in c["identifiers"]:
            normalise(m["kind"], m["value"], pepper=PEPPER)


def test_national_truth_matches_strong_components(national):
    cases, truth = national
    sizes = collections.Counter(truth.values())
    singles = sum(1 for s in sizes.values() if s == 1)
    assert 0.3 <= singles / len(cases) <= 0.5
    assert max(sizes.values()) >= 10
    hubs = {("phone", h) for h in HUB_PHONES}
    comps = link_components(cases, exclude=hubs)
    for g in comps:
        assert len({truth[r] for r in g}) == 1
    assert len(comps) == len(sizes)


def test_national_hubs_at_scale():
    groups: dict[str, set[int]] = collections.defaultdict(set)
    truth: dict[str, int] = {}
    hubs = set(HUB_PHONES)
    for c in generate_national(20_000, seed=3, truth=truth):
        for m in c["identifiers"]:
            if m["kind"] == "phone":
                k = key("phone", m["value"])[1]
                if k in hubs:
                    groups[k].add(truth[c["registration_number"]])
    assert set(groups) == hubs
    assert min(len(g) for g in groups.values()) >= 20
