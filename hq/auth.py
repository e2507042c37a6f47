"""API tokens: random and opaque, stored only as a keyed hash, revocable.

A token is shown once, when created. The database holds HMAC-SHA256(pepper, token), so a
copy of the database alone does not let anyone log in, and lookup is one indexed query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hq.models import Organisation, Principal, Role, Unit, utcnow

TOKEN_PREFIX = "hq_"


def hash_token(token: str, pepper: bytes) -> str:
    return hmac.new(pepper, token.encode(), hashlib.sha256).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is making a request: what every access rule is decided on."""

    principal_id: int
    name: str
    role: Role
    unit_id: str | None
    region_code: str | None
    org_id: str | None

    @property
    def is_hq(self) -> bool:
        return self.role in (Role.HQ_ANALYST, Role.ADMIN)


class PrincipalError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


async def create_principal(
    session: AsyncSession,
    *,
    name: str,
    role: str,
    pepper: bytes,
    unit_id: str | None = None,
    org_id: str | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[Principal, str]:
    """Create a principal and return it with its token (the only time the token exists)."""
    try:
        role_enum = Role(role)
    except ValueError:
        raise PrincipalError("role", f"must be one of {', '.join(r.value for r in Role)}") from None
    if role_enum is Role.REGIONAL_OFFICER and not unit_id:
        raise PrincipalError("unit", "a regional_officer must be bound to a unit (--unit)")
    if role_enum is Role.LIAISON and not org_id:
        raise PrincipalError("org", "a liaison must be bound to an organisation (--org)")
    if role_enum is not Role.REGIONAL_OFFICER and unit_id and role_enum is not Role.HQ_ANALYST:
        raise PrincipalError("unit", f"a {role} is not bound to a unit")
    if role_enum is not Role.LIAISON and org_id:
        raise PrincipalError("org", f"a {role} is not bound to an organisation")
    if unit_id and await session.get(Unit, unit_id) is None:
        raise PrincipalError("unit", f"unknown unit {unit_id!r} (see `hq directory units`)")
    if org_id and await session.get(Organisation, org_id) is None:
        raise PrincipalError("org", f"unknown organisation {org_id!r} (see `hq directory orgs`)")
    token = new_token()
    principal = Principal(
        name=name, role=role_enum.value, unit_id=unit_id, org_id=org_id,
        token_hash=hash_token(token, pepper), expires_at=expires_at,
    )
    session.add(principal)
    await session.flush()
    return principal, token


async def revoke_principal(session: AsyncSession, principal_id: int) -> bool:
    res = await session.execute(
        update(Principal)
        .where(Principal.id == principal_id, Principal.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(res.rowcount)


async def authenticate(session: AsyncSession, token: str | None, pepper: bytes) -> Caller | None:
    """Return the caller for a valid, unrevoked, unexpired token, else None."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = (
        await session.execute(select(Principal).where(Principal.token_hash == hash_token(token, pepper)))
    ).scalar_one_or_none()
    if row is None:
        row = await _rotated_principal(session, hash_token(token, pepper))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None:
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.timezone.utc)
        if expires <= utcnow():
            return None
    return Caller(
        principal_id=row.id,
        name=row.name,
        role=Role(row.role),
        unit_id=row.unit_id,
        region_code=row.unit.region_code if row.unit else None,
        org_id=row.org_id,
    )


async def _rotated_principal(session: AsyncSession, token_hash: str) -> Principal | None:
    """The principal whose previous token this is, while its rotation grace period lasts."""
    from hq.hardening.models import RetiredToken

    return (await session.execute(
        select(Principal).join(RetiredToken, RetiredToken.principal_id == Principal.id)
        .where(RetiredToken.token_hash == token_hash, RetiredToken.valid_until > utcnow())
    )).scalar_one_or_none()


async def rotate_principal(session: AsyncSession, principal_id: int, pepper: bytes, *, grace_seconds: float,
                           expires_at: dt.datetime | None = None) -> str | None:
    """Give a principal a new token; the old one keeps working for `grace_seconds`.

    Returns the new token (shown once), or None if there is no such unrevoked principal.
    `expires_at`, if given, is the new token's expiry; otherwise the old expiry is kept.
    """
    from hq.hardening.models import RetiredToken

    row = await session.get(Principal, principal_id, with_for_update=True)
    if row is None or row.revoked_at is not None:
        return None
    token = new_token()
    if grace_seconds > 0:
        session.add(RetiredToken(token_hash=row.token_hash, principal_id=row.id,
                                 valid_until=utcnow() + dt.timedelta(seconds=grace_seconds)))
    row.token_hash = hash_token(token, pepper)
    if expires_at is not None:
        row.expires_at = expires_at
    await session.flush()
    return token


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None
