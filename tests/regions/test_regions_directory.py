"""Tests for the region / unit / organisation directory."""

from __future__ import annotations

import re

import pytest

from regions import Directory, Region, Unit, UnknownRegion, load_directory

DOMAIN_CODES = {
    "KZ-10": "Abai", "KZ-11": "Akmola", "KZ-15": "Aktobe", "KZ-19": "Almaty Region",
    "KZ-23": "Atyrau", "KZ-27": "West Kazakhstan", "KZ-31": "Jambyl", "KZ-33": "Jetisu",
    "KZ-35": "Karaganda", "KZ-39": "Kostanay", "KZ-43": "Kyzylorda", "KZ-47": "Mangystau",
    "KZ-55": "Pavlodar", "KZ-59": "North Kazakhstan", "KZ-61": "Turkistan", "KZ-62": "Ulytau",
    "KZ-63": "East Kazakhstan", "KZ-71": "Astana", "KZ-75": "Almaty", "KZ-79": "Shymkent",
}

LETTER_ALIASES = {
    "KZ-ALA": "KZ-75", "KZ-ALM": "KZ-19", "KZ-AKM": "KZ-11", "KZ-AKT": "KZ-15",
    "KZ-ATY": "KZ-23", "KZ-ZAP": "KZ-27", "KZ-MAN": "KZ-47", "KZ-AST": "KZ-71",
    "KZ-PAV": "KZ-55", "KZ-KAR": "KZ-35", "KZ-KUS": "KZ-39", "KZ-KZY": "KZ-43",
    "KZ-VOS": "KZ-63", "KZ-SEV": "KZ-59", "KZ-YUZ": "KZ-61", "KZ-ZHA": "KZ-31",
    "KZ-SHY": "KZ-79",
}

CYRILLIC = re.compile(r"[\u0400-\u04FF]")


@pytest.fixture(scope="module")
def d() -> Directory:
    return load_directory()


# Regions ---------------------------------------------------------------------


def test_exactly_twenty_regions_with_domain_codes(d: Directory) -> None:
    assert len(d.regions) == 20
    assert {r.code for r in d.regions} == set(DOMAIN_CODES)


@pytest.mark.parametrize("code,name", sorted(DOMAIN_CODES.items()))
def test_region_code_has_expected_english_name(d: Directory, code: str, name: str) -> None:
    assert d.region(code).name_en.startswith(name)


@pytest.mark.parametrize("alias,code", sorted(LETTER_ALIASES.items()))
def test_letter_alias_resolves(d: Directory, alias: str, code: str) -> None:
    assert d.region(alias).code == code
    assert d.region(alias.lower()).code == code


def test_aliases_are_exactly_the_domain_ones(d: Directory) -> None:
    listed = {a: r.code for r in d.regions for a in r.aliases}
    assert listed == LETTER_ALIASES
    for code in ("KZ-10", "KZ-33", "KZ-62"):  # created in 2022, no letter code
        assert d.region(code).aliases == ()


def test_region_lookup_is_case_insensitive(d: Directory) -> None:
    assert d.region("kz-61") == d.region("KZ-61") == d.region("KZ-YUZ") == d.region(" kz-yuz ")
    assert isinstance(d.region("KZ-61"), Region)


def test_unknown_region_message(d: Directory) -> None:
    with pytest.raises(UnknownRegion) as err:
        d.region("KZ-99")
    assert isinstance(err.value, ValueError)
    assert "KZ-99" in str(err.value)
    assert "ISO 3166-2:KZ" in str(err.value)
    assert "KZ-61" in str(err.value)


def test_names_in_three_languages(d: Directory) -> None:
    for r in d.regions:
        assert r.name_en.strip() and r.name_ru.strip() and r.name_kk.strip() and r.centre.strip()
        assert CYRILLIC.search(r.name_kk) and CYRILLIC.search(r.name_ru)
        assert not CYRILLIC.search(r.name_en)
    turkistan = d.region("KZ-61")
    assert (turkistan.name_kk, turkistan.name_ru, turkistan.name_en) == (
        "Түркістан облысы", "Туркестанская область", "Turkistan Region")
    assert turkistan.centre == "Turkistan"


# Units -----------------------------------------------------------------------


def test_unit_ids_unique_and_well_formed(d: Directory) -> None:
    ids = [u.id for u in d.units]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9-]+", i) for i in ids)


def test_every_region_has_one_head_and_a_k_unit(d: Directory) -> None:
    for r in d.regions:
        units = d.units_of(r.code)
        heads = [u for u in units if u.head]
        assert len(heads) == 1, r.code
        head = d.head_unit(r.code)
        assert head == heads[0]
        assert head.kind == "police_department" and head.id == f"{r.code.lower()}-dp"
        assert head.parent_id == "hq"
        k = [u for u in units if u.kind == "cyber_unit"]
        assert [u.id for u in k] == [f"{r.code.lower()}-k"]
        assert k[0].parent_id == head.id
        local = [u for u in units if u.kind in ("city_police", "district_police")]
        assert 2 <= len(local) <= 4, r.code
        assert all(u.parent_id == head.id for u in local)


def test_head_unit_accepts_alias(d: Directory) -> None:
    assert d.head_unit("KZ-YUZ").id == "kz-61-dp"


def test_only_police_departments_are_heads(d: Directory) -> None:
    assert all(u.kind == "police_department" for u in d.units if u.head)


def test_hq_and_transport(d: Directory) -> None:
    hq = d.unit("hq")
    assert hq.parent_id is None and hq.region_code is None
    assert hq.name_en == "Cyberpol (Cybercrime Department, MIA)"
    transport = d.unit("transport")
    assert transport.kind == "transport_police"
    assert transport.parent_id == "hq" and transport.region_code is None
    branches = [u for u in d.units if u.parent_id == "transport"]
    assert branches and all(u.region_code for u in branches)


def test_parents_exist_and_tree_has_no_cycles(d: Directory) -> None:
    by_id = {u.id: u for u in d.units}
    roots = [u for u in d.units if u.parent_id is None]
    assert [u.id for u in roots] == ["hq"]
    for unit in d.units:
        seen: set[str] = set()
        current: Unit | None = unit
        while current is not None:
            assert current.id not in seen, f"cycle through {current.id}"
            seen.add(current.id)
            if current.parent_id is None:
                break
            assert current.parent_id in by_id, f"{current.id}: missing parent"
            current = by_id[current.parent_id]
        assert current is not None and current.id == "hq"


def test_unit_names_nonempty_and_unique(d: Directory) -> None:
    for lang in ("name_en", "name_ru", "name_kk"):
        names = [getattr(u, lang).casefold() for u in d.units]
        assert all(n.strip() for n in names)
        assert len(names) == len(set(names)), lang


def test_find_unit_by_id_and_names(d: Directory) -> None:
    assert d.find_unit("kz-61-turkistan-city") is not None
    assert d.find_unit("Turkistan city police").id == "kz-61-turkistan-city"
    assert d.find_unit("  TURKISTAN   City Police ").id == "kz-61-turkistan-city"
    assert d.find_unit("управление полиции города туркестан").id == "kz-61-turkistan-city"
    assert d.find_unit("ОТДЕЛ ПОЛИЦИИ САЙРАМСКОГО РАЙОНА").id == "kz-61-sairam-district"
    assert d.find_unit("түркістан қаласының полиция басқармасы").id == "kz-61-turkistan-city"
    assert d.find_unit("Atyrau city police").region_code == "KZ-23"
    assert d.find_unit("Kentau city police", region_code="KZ-YUZ").id == "kz-61-kentau-city"


def test_find_unit_misses(d: Directory) -> None:
    assert d.find_unit("Kentau city police", region_code="KZ-23") is None
    assert d.find_unit("Gotham city police") is None
    assert d.find_unit("") is None


def test_find_unit_ambiguous_name_needs_region() -> None:
    a = Unit("a", "city_police", "KZ-61", None, "Same police", "Та же", "Сол")
    b = Unit("b", "city_police", "KZ-23", None, "Same police", "Та же", "Сол")
    regions = [load_directory().region("KZ-61"), load_directory().region("KZ-23")]
    small = Directory(regions, [a, b], [])
    assert small.find_unit("same police") is None
    assert small.find_unit("same police", region_code="KZ-23") == b


def test_directory_rejects_bad_parent() -> None:
    orphan = Unit("x", "city_police", None, "missing", "X", "Х", "Х")
    with pytest.raises(ValueError, match="unknown parent"):
        Directory([], [orphan], [])


# Organisations -----------------------------------------------------------------


def test_organisation_kinds(d: Directory) -> None:
    banks = {o.id for o in d.organisations_of_kind("bank")}
    assert {"kaspi", "halyk", "forte", "freedom", "jusan", "bcc", "home-credit",
            "bereke", "eurasian", "rbk", "otbasy"} <= banks
    assert {o.id for o in d.organisations_of_kind("mobile_operator")} == {
        "kcell", "beeline", "tele2-altel"}
    for kind in ("microfinance", "payment_provider", "ewallet", "platform", "crypto_exchange", "other"):
        assert d.organisations_of_kind(kind), kind
    with pytest.raises(ValueError):
        d.organisations_of_kind("casino")
    ids = [o.id for o in d.organisations]
    assert len(ids) == len(set(ids))


def test_every_bank_has_bins(d: Directory) -> None:
    for bank in d.organisations_of_kind("bank"):
        assert bank.card_bins, bank.id
        assert all(re.fullmatch(r"\d{6}", b) for b in bank.card_bins)


def test_bank_for_card(d: Directory) -> None:
    for bank in d.organisations_of_kind("bank"):
        for bin_ in bank.card_bins:
            assert d.bank_for_card(bin_) == bank
            assert d.bank_for_card(f"{bin_[:4]} {bin_[4:]}12 3456 7890") == bank
    assert d.bank_for_card("999999") is None
    assert d.bank_for_card("4003") is None
    assert d.bank_for_card("") is None


@pytest.mark.parametrize(
    "phone,operator",
    [
        ("+77011234567", "kcell"),
        ("8 702 123 45 67", "kcell"),
        ("+7 (775) 123-45-67", "kcell"),
        ("77781234567", "kcell"),
        ("+77051234567", "beeline"),
        ("87711234567", "beeline"),
        ("+7 776 1234567", "beeline"),
        ("+77771234567", "beeline"),
        ("+77071234567", "tele2-altel"),
        ("+77471234567", "tele2-altel"),
        ("+77001234567", "tele2-altel"),
        ("+77081234567", "tele2-altel"),
    ],
)
def test_operator_for_phone(d: Directory, phone: str, operator: str) -> None:
    found = d.operator_for_phone(phone)
    assert found is not None and found.id == operator


def test_operator_for_phone_misses(d: Directory) -> None:
    assert d.operator_for_phone("+77172123456") is None  # Astana landline
    assert d.operator_for_phone("+1 202 555 0100") is None
    assert d.operator_for_phone("123") is None


def test_load_directory_is_cached() -> None:
    assert load_directory() is load_directory()
