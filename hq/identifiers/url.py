"""Web addresses: fake shops, mirror sites, ad links. Keyed by host + path.

The same site is written `https://www.Shop-Kaspi.kz/`, `shop-kaspi.kz` or
`hxxp://shop-kaspi[.]kz/?utm_source=...`, so the key drops what does not name the page:
the scheme, `www.`, default ports, the trailing slash, the fragment and the query string.
The host is lower-cased and IDNA-encoded (`idna` package, IDNA 2008 + UTS 46), so
Cyrillic domains match their punycode and look-alike domains stay visibly different.
The path keeps its case (paths are case-sensitive: short links) with canonical
percent-encoding. Defanged spellings from security reports (`hxxp`, `[.]`) are undone.

Query strings are dropped except for a few parameters that *are* the page's identity
(`_MEANINGFUL_QUERY`): without them every YouTube video or Facebook numeric profile
would collapse into one key and link unrelated cases.

Strength: a bare big-platform host (`instagram.com`, `kaspi.kz`...) says nothing, so it
is WEAK; any other site, or a page on a platform, is STRONG: a fraudster's own domain
links the cases that mention it.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import idna

from hq.identifiers.base import IdentifierError, IdentifierKind, Strength

BIG_PLATFORMS: frozenset[str] = frozenset(
    {
        "instagram.com",
        "facebook.com",
        "t.me",
        "telegram.me",
        "wa.me",
        "olx.kz",
        "kolesa.kz",
        "krisha.kz",
        "google.com",
        "youtube.com",
        "vk.com",
        "tiktok.com",
        "kaspi.kz",
        "halykbank.kz",
        "egov.kz",
    }
)

# Mobile and short hosts that serve the same pages as the main host.
HOST_ALIASES: dict[str, str] = {
    "m.facebook.com": "facebook.com",
    "fb.com": "facebook.com",
    "m.vk.com": "vk.com",
    "m.youtube.com": "youtube.com",
    "m.ok.ru": "ok.ru",
    "mobile.twitter.com": "twitter.com",
}

# (host, path) -> query parameters that identify the page and are kept in the key.
_MEANINGFUL_QUERY: dict[tuple[str, str], tuple[str, ...]] = {
    ("facebook.com", "/profile.php"): ("id",),
    ("youtube.com", "/watch"): ("v",),
}

_DEFANG = (("[.]", "."), ("(.)", "."), ("[:]", ":"), ("[dot]", "."))
_HXXP = re.compile(r"hxxp", re.IGNORECASE)
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):(?=//)", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def _host(kind: str, hostname: str) -> str:
    host = hostname.rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
    try:
        host = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise IdentifierError(kind, f"host name {hostname!r} is not valid") from None
    host = host.removeprefix("www.")
    if "." not in host or host.rsplit(".", 1)[1].isdigit():
        raise IdentifierError(kind, f"host name {hostname!r} has no domain")
    return HOST_ALIASES.get(host, host)


def url_key(kind: str, text: str) -> str:
    """`host[:port]/path[?meaningful=query]` of `text`; IdentifierError(kind, ...) if no URL."""
    for fanged, plain in _DEFANG:
        text = text.replace(fanged, plain)
    text = _HXXP.sub("http", text, count=1) if text[:4].lower() == "hxxp" else text
    text = text.strip().rstrip(".,;")  # sentence punctuation after the link
    scheme_match = _SCHEME.match(text)
    if scheme_match is None:
        text = "http://" + text.removeprefix("//")
        scheme = "http"
    else:
        scheme = scheme_match.group(1).lower()
        if scheme not in _DEFAULT_PORTS:
            raise IdentifierError(kind, f"only http and https links are accepted, not {scheme}:")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise IdentifierError(kind, "not a valid URL") from None
    if not parts.hostname:
        raise IdentifierError(kind, "URL has no host name")
    host = _host(kind, parts.hostname)
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = quote(unquote(parts.path), safe=_PATH_SAFE).rstrip("/")
    keep = _MEANINGFUL_QUERY.get((host, path), ())
    query = [(k, v) for k, v in parse_qsl(parts.query) if k in keep]
    return host + path + ("?" + urlencode(query) if query else "")


def is_big_platform(host: str) -> bool:
    return host in BIG_PLATFORMS or any(host.endswith("." + big) for big in BIG_PLATFORMS)


class UrlKind(IdentifierKind):
    """A web address: a site or a page."""

    name = "url"

    def clean_text(self, text: str) -> str:
        return url_key(self.name, text)

    def caption(self, clean: str) -> str:
        # Path readable (`/путь`), host left in punycode so look-alike domains show.
        return unquote(clean)

    def strength(self, clean: str) -> Strength:
        host, slash, _ = clean.partition("/")
        if not slash and "?" not in host and is_big_platform(host):
            return Strength.WEAK
        return Strength.STRONG
