"""What each request kind is, whom it goes to, what it asks about and what it needs.

One table so the rules are read in one place (and printed in the README/schema docs).

Sanction table (prosecutor's sanction required before a request can be sent):

| kind                       | sanction | why                                                          |
|----------------------------|----------|--------------------------------------------------------------|
| subscriber_identification  | no       | who holds a number and where: subscriber data, not content   |
| call_billing               | yes      | traffic data of communications (privacy of communications)   |
| account_holder             | yes      | account holder and movements are bank secrecy (Law on Banks  |
|                            |          | art. 50): released to prosecuting bodies with a sanction     |
| cashout_cctv               | no       | place and video of a cash-out, not account data              |
| ewallet_logs               | yes      | e-money transactions are payment secrecy, like movements     |
| hold_funds                 | yes      | restricts property: never without a prosecutor's sanction    |
| ip_attribution             | no       | who used an IP at a time: subscriber data                    |

A kind's identifiers are validated with `hq.identifiers.normalise`, like imports; the
addressee must be an organisation of one of the kinds listed (a bank gets no call
billing request). Only `account_holder` may be fanned out to every bank ("which bank
holds this card/account").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class RequestKind(str, enum.Enum):
    SUBSCRIBER_IDENTIFICATION = "subscriber_identification"
    CALL_BILLING = "call_billing"
    ACCOUNT_HOLDER = "account_holder"
    CASHOUT_CCTV = "cashout_cctv"
    EWALLET_LOGS = "ewallet_logs"
    HOLD_FUNDS = "hold_funds"
    IP_ATTRIBUTION = "ip_attribution"


@dataclass(frozen=True, slots=True)
class KindRule:
    needs_sanction: bool
    identifier_kinds: tuple[str, ...]
    addressee_kinds: tuple[str, ...]
    needs_period: bool = False
    fan_out: bool = False
    summary: str = ""


_MONEY_ORGS = ("bank", "microfinance", "payment_provider", "ewallet")
_TELECOM = ("mobile_operator",)

RULES: dict[str, KindRule] = {
    RequestKind.SUBSCRIBER_IDENTIFICATION.value: KindRule(
        False, ("phone",), _TELECOM, summary="owner and location of a number"),
    RequestKind.CALL_BILLING.value: KindRule(
        True, ("phone", "imei"), _TELECOM, needs_period=True, summary="calls and messages for a period"),
    RequestKind.ACCOUNT_HOLDER.value: KindRule(
        True, ("card", "iban", "account"), _MONEY_ORGS, fan_out=True,
        summary="holder of a card or account and its movements for a period"),
    RequestKind.CASHOUT_CCTV.value: KindRule(
        False, ("card", "iban", "account"), _MONEY_ORGS, summary="cash-out place and its CCTV"),
    RequestKind.EWALLET_LOGS.value: KindRule(
        True, ("ewallet", "phone", "email", "account"), ("ewallet", "payment_provider", "bank", "crypto_exchange"),
        needs_period=True, summary="e-wallet registration, logins, transactions and login IPs"),
    RequestKind.HOLD_FUNDS.value: KindRule(
        True, ("card", "iban", "account"), ("bank", "microfinance", "payment_provider", "ewallet"),
        summary="hold of funds, up to 5 business days"),
    RequestKind.IP_ATTRIBUTION.value: KindRule(
        False, ("ip",), ("mobile_operator", "other"), summary="who used an IP address at a time"),
}

KINDS = frozenset(RULES)

DEFAULT_LEGAL_BASIS = (
    "Criminal Procedure Code of the Republic of Kazakhstan, art. 34(5): demands of the body "
    "conducting criminal prosecution are binding and must be fulfilled within the set period, "
    "no later than three days."
)

SIGNER_ROLES = ("investigator", "head_of_body")


def rule(kind: str) -> KindRule:
    """The rule of a kind; KeyError for an unknown kind (callers turn it into a field error)."""
    return RULES[kind]
