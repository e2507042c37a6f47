"""Telegram, Instagram, other social profiles, URLs, e-mail and IP addresses."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hq.identifiers import Strength, normalise

from tests.identifiers.support import PEPPER, error


# --- telegram -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["id5014785358", "ID5014785358", "5014785358", "id 5014785358", "5014785358."]
)
def test_telegram_numeric_id(raw: str) -> None:
    n = normalise("telegram", raw, pepper=PEPPER)
    assert (n.key, n.display, n.strength) == ("id5014785358", "id5014785358", Strength.STRONG)


@pytest.mark.parametrize(
    "raw",
    [
        "@SomeBuyer",
        "SomeBuyer",
        "somebuyer",
        "t.me/SomeBuyer",
        "https://t.me/SomeBuyer",
        "http://telegram.me/SomeBuyer/",
        "https://t.me/SomeBuyer...",
        "T.ME/SOMEBUYER",
        "https://t.me/s/SomeBuyer",
        "https://t.me/SomeBuyer/1234",
        "https://t.me/SomeBuyer?start=ref",
        "t.me/@SomeBuyer",
        "tg://resolve?domain=SomeBuyer",
        " @SomeBuyer. ",
    ],
)
def test_telegram_username(raw: str) -> None:
    n = normalise("telegram", raw, pepper=PEPPER)
    assert (n.key, n.display, n.strength) == ("@somebuyer", "@somebuyer", Strength.STRONG)


def test_telegram_id_and_username_are_different_identifiers() -> None:
    assert (
        normalise("telegram", "5014785358", pepper=PEPPER).key
        != normalise("telegram", "@SomeBuyer", pepper=PEPPER).key
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("@abc", "username"),  # too short
        ("@1buyer", "username"),  # must start with a letter
        ("@some-buyer", "username"),
        ("@" + "a" * 33, "username"),
        ("1234", "username"),  # too short for an id, not a username either
        (
            "+7 701 123 45 67",
            "looks like a phone number, not a Telegram id or username; use kind phone",
        ),
        ("https://t.me/+AbCdEfGh", "an invite or service link, not an account"),
        ("https://t.me/joinchat/AbCdEf", "an invite or service link, not an account"),
    ],
)
def test_telegram_invalid(raw: str, reason: str) -> None:
    got = error("telegram", raw).reason
    if reason == "username":
        assert got.startswith("expected a numeric id (id123...) or a username of 5-32")
    else:
        assert got == reason


# --- instagram ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "@some.shop_kz",
        "Some.Shop_KZ",
        "instagram.com/some.shop_kz/",
        "https://www.instagram.com/Some.Shop_kz?igsh=MWx2bXBz",
        "https://instagram.com/some.shop_kz/?hl=ru",
        "https://www.instagram.com/stories/some.shop_kz/31234/",
        "some.shop_kz.",
    ],
)
def test_instagram(raw: str) -> None:
    n = normalise("instagram", raw, pepper=PEPPER)
    assert (n.key, n.display, n.strength) == ("some.shop_kz", "@some.shop_kz", Strength.STRONG)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (
            "https://www.instagram.com/p/C1a2B3c4/",
            "link does not name a profile (a post, reel or page link?)",
        ),
        ("instagram.com", "link does not name a profile (a post, reel or page link?)"),
        ("@bad name", "username must be 1-30 letters, digits, dots and underscores"),
        ("a" * 31, "username must be 1-30 letters, digits, dots and underscores"),
    ],
)
def test_instagram_invalid(raw: str, reason: str) -> None:
    assert error("instagram", raw).reason == reason


# --- social ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "vk.com/some.profile",
        "https://vk.com/some.profile",
        "https://www.VK.com/Some.Profile/",
        "http://m.vk.com/some.profile?from=search#wall",
        "vk.com/some.profile.",
    ],
)
def test_social_profile(raw: str) -> None:
    n = normalise("social", raw, pepper=PEPPER)
    assert (n.key, n.display, n.strength) == (
        "vk.com/some.profile",
        "vk.com/some.profile",
        Strength.STRONG,
    )


def test_social_keeps_meaningful_query() -> None:
    a = normalise(
        "social", "https://m.facebook.com/profile.php?id=100012345&ref=bookmarks", pepper=PEPPER
    )
    b = normalise("social", "facebook.com/profile.php?id=100099999", pepper=PEPPER)
    assert a.key == "facebook.com/profile.php?id=100012345"
    assert a.key != b.key


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("https://vk.com/", "a profile link needs the profile's path, e.g. vk.com/some.profile"),
        ("ftp://vk.com/x", "only http and https links are accepted, not ftp:"),
        ("not a url", "host name 'not a url' is not valid"),
    ],
)
def test_social_invalid(raw: str, reason: str) -> None:
    assert error("social", raw).reason == reason


# --- url ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "kaspi-bonus.kz",
        "https://kaspi-bonus.kz",
        "https://www.Kaspi-Bonus.KZ/",
        "http://kaspi-bonus.kz:80/?utm_source=sms#top",
        "https://kaspi-bonus.kz:443",
        "hxxps://kaspi-bonus[.]kz/",
        "//kaspi-bonus.kz/",
        "https://kaspi-bonus.kz.",
    ],
)
def test_url_site(raw: str) -> None:
    n = normalise("url", raw, pepper=PEPPER)
    assert (n.key, n.display, n.strength) == ("kaspi-bonus.kz", "kaspi-bonus.kz", Strength.STRONG)


@pytest.mark.parametrize(
    ("raw", "key", "strength"),
    [
        (
            "https://kaspi-bonus.kz/pay/Step1/",
            "kaspi-bonus.kz/pay/Step1",
            Strength.STRONG,
        ),  # path case kept
        ("http://shop.kz:8080/a", "shop.kz:8080/a", Strength.STRONG),
        ("https://kaspi.kz", "kaspi.kz", Strength.WEAK),
        ("www.instagram.com/", "instagram.com", Strength.WEAK),
        ("https://m.facebook.com", "facebook.com", Strength.WEAK),
        ("https://kaspi.kz/shop/p/123456/", "kaspi.kz/shop/p/123456", Strength.STRONG),
        (
            "https://olx.kz/d/obyavlenie/iphone-ID12345.html",
            "olx.kz/d/obyavlenie/iphone-ID12345.html",
            Strength.STRONG,
        ),
        (
            "https://youtube.com/watch?v=dQw4w9WgXcQ&t=42",
            "youtube.com/watch?v=dQw4w9WgXcQ",
            Strength.STRONG,
        ),
        ("http://kaspi.kz@evil-site.com/", "evil-site.com", Strength.STRONG),  # userinfo trick
        ("http://185.12.3.4/login", "185.12.3.4/login", Strength.STRONG),
        ("http://[2001:db8::1]/x", "[2001:db8::1]/x", Strength.STRONG),
        ("https://пример.қаз/", "xn--e1afmkfd.xn--80ao21a", Strength.STRONG),
        ("https://example.com/a%20b", "example.com/a%20b", Strength.STRONG),
        ("https://example.com/a b", "example.com/a%20b", Strength.STRONG),
    ],
)
def test_url_keys_and_strength(raw: str, key: str, strength: Strength) -> None:
    n = normalise("url", raw, pepper=PEPPER)
    assert (n.key, n.strength) == (key, strength)


def test_url_caption_is_readable_and_round_trips() -> None:
    n = normalise("url", "https://пример.қаз/путь/", pepper=PEPPER)
    assert n.key == "xn--e1afmkfd.xn--80ao21a/%D0%BF%D1%83%D1%82%D1%8C"
    assert n.display == "xn--e1afmkfd.xn--80ao21a/путь"
    assert normalise("url", n.display, pepper=PEPPER).key == n.key


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("ftp://shop.kz", "only http and https links are accepted, not ftp:"),
        ("localhost", "host name 'localhost' has no domain"),
        ("http://shop_kz.kz", "host name 'shop_kz.kz' is not valid"),
        ("http://shop.kz:99999/", "not a valid URL"),
        ("https:///path", "URL has no host name"),
    ],
)
def test_url_invalid(raw: str, reason: str) -> None:
    assert error("url", raw).reason == reason


def test_url_too_long_for_the_key_column() -> None:
    assert "longer than 200" in error("url", "https://shop.kz/" + "a" * 300).reason


# --- email ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "ivan.petrov@gmail.com",
        " Ivan.Petrov@Gmail.COM ",
        "IVAN.PETROV@GMAIL.COM.",
        "mailto:Ivan.Petrov@gmail.com",
    ],
)
def test_email(raw: str) -> None:
    n = normalise("email", raw, pepper=PEPPER)
    assert (n.key, n.strength) == ("ivan.petrov@gmail.com", Strength.STRONG)


def test_email_idna_domain() -> None:
    assert normalise("email", "Иван@Пример.рф", pepper=PEPPER).key == "иван@xn--e1afmkfd.xn--p1ai"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("ivan.petrov", "e-mail address must contain exactly one @"),
        ("a@b@c.kz", "e-mail address must contain exactly one @"),
        ("ivan@localhost", "e-mail domain must contain a dot"),
        ("@gmail.com", "e-mail address has an invalid part before the @"),
        ("iv an@gmail.com", "e-mail address has an invalid part before the @"),
        ("ivan@gm_ail.com", "e-mail domain 'gm_ail.com' is not valid"),
    ],
)
def test_email_invalid(raw: str, reason: str) -> None:
    assert error("email", raw).reason == reason


# --- ip -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("185.12.3.4", "185.12.3.4"),
        (" 185.12.3.4. ", "185.12.3.4"),
        ("185.12.3.4:443", "185.12.3.4"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("[2001:db8::1]:8443", "2001:db8::1"),
        ("::ffff:185.12.3.4", "185.12.3.4"),
        ("10.0.0.1", "10.0.0.1"),  # private addresses are valid too
    ],
)
def test_ip(raw: str, key: str) -> None:
    n = normalise("ip", raw, pepper=PEPPER)
    assert (n.key, n.display, n.strength) == (key, key, Strength.WEAK)


@pytest.mark.parametrize(
    "raw", ["999.1.1.1", "185.12.3", "2001:db8:::1", "example.com", "010.1.1.1"]
)
def test_ip_invalid(raw: str) -> None:
    assert error("ip", raw).reason == "not a valid IPv4 or IPv6 address"


@settings(max_examples=500, deadline=None)
@given(st.ip_addresses())
def test_every_ip_address_is_accepted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    n = normalise("ip", address.exploded, pepper=PEPPER)
    assert ipaddress.ip_address(n.key) in (address, getattr(address, "ipv4_mapped", None))
    assert normalise("ip", n.key, pepper=PEPPER).key == n.key
