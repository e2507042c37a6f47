"""Crypto wallet addresses, where stolen money leaves the banking system.

Checked where a checksum is cheap and a well-kept implementation exists, so typos are
caught instead of producing a key that links nothing:
- Bitcoin legacy (`1...`, `3...`) and SegWit v0 (`bc1q...`): python-stdnum's `bitcoin`
  (base58check, bech32). Taproot (`bc1p...`) uses bech32m, which stdnum does not know
  yet: same code with the bech32m constant (BIP 350), using stdnum's checksum function.
- TRON (`T` + 33 base58): base58check with version byte 0x41, decoded by stdnum.
- Ethereum and EVM chains (`0x` + 40 hex): format only, key lower-cased. The EIP-55
  mixed-case checksum needs Keccak-256, which is not in hashlib, and the lower-case
  form is the same address anyway.
- Anything else (other chains): 20-100 letters and digits, case kept (base58 is
  case-sensitive).
Bech32 addresses are lower-cased. `bitcoin:`-style URI prefixes and `?amount=` are dropped.
"""

from __future__ import annotations

import hashlib
import re

from stdnum import bitcoin
from stdnum.exceptions import ValidationError

from hq.identifiers._text import strip_trailing
from hq.identifiers.base import IdentifierKind

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST = 0x2BC830A3

_URI = re.compile(r"(?:bitcoin|ethereum|tron|litecoin|usdt):", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
_BTC_LEGACY = re.compile(rf"[13][{_BASE58}]{{24,34}}")
_BTC_BECH32 = re.compile(r"bc1[a-z0-9]{8,87}")
_TRON = re.compile(rf"T[{_BASE58}]{{33}}")
_EVM = re.compile(r"0x[0-9a-f]{40}")
_GENERIC = re.compile(r"[A-Za-z0-9]{20,100}")


def _bech32m_valid(address: str) -> bool:
    """BIP 350 check of a `bc1p...` (witness v1+) address."""
    if any(c not in _BECH32 for c in address[3:]):
        return False
    data = [_BECH32.index(c) for c in address[3:]]
    hrp = [ord(c) >> 5 for c in "bc"] + [0] + [ord(c) & 31 for c in "bc"]
    return data[0] >= 1 and bitcoin.bech32_checksum(hrp + data) == _BECH32M_CONST


def _tron_valid(address: str) -> bool:
    raw = bitcoin.b58decode(address)
    if len(raw) != 25 or raw[0] != 0x41:
        return False
    return hashlib.sha256(hashlib.sha256(raw[:-4]).digest()).digest()[:4] == raw[-4:]


class CryptoWalletKind(IdentifierKind):
    """A cryptocurrency address (BTC, ETH/EVM, TRON, or another chain's)."""

    name = "crypto_wallet"

    def clean_text(self, text: str) -> str:
        value = _WHITESPACE.sub("", strip_trailing(text))
        uri = _URI.match(value)
        if uri is not None:
            value = value[uri.end() :].split("?", 1)[0]
        lowered = value.lower()
        if lowered.startswith("0x"):
            if not _EVM.fullmatch(lowered):
                raise self.error("Ethereum/EVM address must be 0x and 40 hex digits")
            return lowered
        if lowered.startswith("bc1"):
            return self._bech32(lowered)
        if _BTC_LEGACY.fullmatch(value):
            if not bitcoin.is_valid(value):
                raise self.error("Bitcoin address checksum is wrong")
            return value
        if _TRON.fullmatch(value):
            if not _tron_valid(value):
                raise self.error("TRON address checksum is wrong")
            return value
        if not _GENERIC.fullmatch(value):
            raise self.error("wallet address must be 20-100 Latin letters and digits")
        return value

    def _bech32(self, address: str) -> str:
        if not _BTC_BECH32.fullmatch(address):
            raise self.error("Bitcoin bech32 address has the wrong length or characters")
        if address.startswith("bc1p"):
            if not _bech32m_valid(address):
                raise self.error("Bitcoin address checksum is wrong")
            return address
        try:
            return bitcoin.validate(address)
        except ValidationError:
            raise self.error("Bitcoin address checksum is wrong") from None
