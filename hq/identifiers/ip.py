"""IP addresses (v4 and v6), keyed by the `ipaddress` module's compressed form.

WEAK: mobile carriers put thousands of subscribers behind one address (CGNAT), so a
shared IP is a lead to check, not a link. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes
the IPv4 address, and a `:port` or `[v6]:port` suffix from logs is dropped.
"""

from __future__ import annotations

import ipaddress
import re

from hq.identifiers.base import IdentifierKind, Strength

_V4_PORT = re.compile(r"([0-9.]+):[0-9]{1,5}")
_V6_BRACKETS = re.compile(r"\[([0-9a-fA-F:.%\w]+)\](?::[0-9]{1,5})?")


class IpKind(IdentifierKind):
    """An IPv4 or IPv6 address."""

    name = "ip"

    def clean_text(self, text: str) -> str:
        value = text.rstrip(".")
        for pattern in (_V4_PORT, _V6_BRACKETS):
            match = pattern.fullmatch(value)
            if match is not None:
                value = match.group(1)
                break
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            raise self.error("not a valid IPv4 or IPv6 address") from None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return ip.ipv4_mapped.compressed
        return ip.compressed

    def strength(self, clean: str) -> Strength:
        return Strength.WEAK
