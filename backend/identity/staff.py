"""122 operators: password (scrypt) + TOTP (pyotp), behind a pluggable :class:`StaffIdentityProvider`.

The local provider checks our ``staff_accounts``; a regional OIDC IdP can replace it (``set_staff_provider``)
as long as it answers the same question: who is this, and may they work as an operator.
"""

from __future__ import annotations

import base64
import hmac
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import pyotp
from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.identity.models import StaffAccount

if TYPE_CHECKING:
    from backend.runtime import Runtime

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
TOTP_STEP_S = 30

# scrypt: N=2^15, r=8, p=1 (32 MiB, OWASP's minimum is N=2^17 with p=1 or 2^15 r=8 p=3-ish; we store
# the parameters with each hash so they can be raised later without breaking existing hashes).
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _SCRYPT_LEN = 2**15, 8, 1, 32


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    key = Scrypt(salt=salt, length=_SCRYPT_LEN, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P).derive(password.encode())
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, key = encoded.split("$")
        if scheme != "scrypt":
            return False
        kdf = Scrypt(salt=base64.b64decode(salt), length=len(base64.b64decode(key)), n=int(n), r=int(r), p=int(p))
        kdf.verify(password.encode(), base64.b64decode(key))
    except (ValueError, InvalidKey):
        return False
    return True


# A hash to verify against when the login is unknown, so both paths cost the same.
_DUMMY_HASH = hash_password(uuid.uuid4().hex)


@dataclass(frozen=True)
class StaffPrincipal:
    id: str
    login: str
    full_name: str
    role: str  # operator | registrar | doctor
    snils: str | None = None  # a doctor's SNILS


class StaffAuthError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # bad_credentials | totp_reused | unknown_login | locked | inactive


class StaffIdentityProvider(Protocol):
    async def authenticate(
        self, session: AsyncSession, *, login: str, password: str, totp_code: str, at: datetime
    ) -> StaffPrincipal:
        """The staff member, or :class:`StaffAuthError`. May write (failure counters) into ``session``.

        ``unknown_login``: no such account (the caller counts and locks those as accounts are locked, so
        the answers do not tell which logins exist)."""
        ...


class LocalStaffIdentityProvider:
    """Our own accounts: scrypt passwords, TOTP (one use per code), a lockout after repeated failures."""

    async def authenticate(
        self, session: AsyncSession, *, login: str, password: str, totp_code: str, at: datetime
    ) -> StaffPrincipal:
        row = await session.scalar(select(StaffAccount).where(StaffAccount.login == login).with_for_update())
        if row is None:
            verify_password(password, _DUMMY_HASH)
            raise StaffAuthError("unknown_login")
        if row.locked_until is not None and row.locked_until > at:
            verify_password(password, _DUMMY_HASH)  # as long as an unknown login's answer
            raise StaffAuthError("locked")
        if not row.active:
            raise StaffAuthError("inactive")
        step = _totp_step(row.totp_secret, totp_code, at)
        password_ok = verify_password(password, row.password_hash)
        reused = step is not None and row.last_totp_step is not None and step <= row.last_totp_step
        if not password_ok or step is None or reused:
            row.failed_attempts += 1
            if row.failed_attempts >= MAX_FAILED_LOGINS:
                row.locked_until, row.failed_attempts = at + LOCKOUT, 0
            await session.flush()
            # A code already used gets its own hint (whatever the password: it tells nothing of it).
            raise StaffAuthError("totp_reused" if reused else "bad_credentials")
        row.failed_attempts, row.locked_until, row.last_totp_step = 0, None, step
        await session.flush()
        return StaffPrincipal(id=str(row.id), login=row.login, full_name=row.full_name, role=row.role, snils=row.snils)


def _totp_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step ``code`` is valid for (±1 step), or None."""
    totp = pyotp.TOTP(secret, interval=TOTP_STEP_S)
    code = (code or "").strip()
    for offset in (0, -1, 1):
        moment = at + timedelta(seconds=offset * TOTP_STEP_S)
        if hmac.compare_digest(totp.at(moment), code):
            return int(moment.timestamp()) // TOTP_STEP_S
    return None


def set_staff_provider(runtime: Runtime, provider: StaffIdentityProvider) -> None:
    runtime.adapters.staff_provider = provider


def staff_provider(runtime: Runtime) -> StaffIdentityProvider:
    provider = runtime.adapters.staff_provider
    if provider is None:
        provider = LocalStaffIdentityProvider()
        runtime.adapters.staff_provider = provider
    return provider


async def create_staff(
    session: AsyncSession,
    *,
    login: str,
    full_name: str,
    password: str,
    role: str = "operator",
    totp_secret: str | None = None,
    snils: str | None = None,
    at: datetime,
) -> tuple[StaffAccount, str]:
    """Create an account; returns it and its TOTP secret (to enrol in an authenticator app)."""
    secret = totp_secret or pyotp.random_base32()
    row = StaffAccount(
        id=uuid.uuid4(),
        login=login,
        full_name=full_name,
        role=role,
        snils=snils,
        password_hash=hash_password(password),
        totp_secret=secret,
        active=True,
        failed_attempts=0,
        created_at=at,
    )
    session.add(row)
    await session.flush()
    return row, secret


def provisioning_uri(login: str, secret: str) -> str:
    return pyotp.TOTP(secret, interval=TOTP_STEP_S).provisioning_uri(name=login, issuer_name="Мое здоровье 122")


def _uuids(ids: set[str]) -> list[uuid.UUID]:
    valid = []
    for raw in ids:
        try:
            valid.append(uuid.UUID(raw))
        except ValueError:
            continue
    return valid


async def staff_members(session: AsyncSession, ids: set[str]) -> dict[str, StaffPrincipal]:
    """The staff among ``ids`` (one query), with role and SNILS: other domains read doctors here."""
    valid = _uuids(ids)
    if not valid:
        return {}
    rows = await session.scalars(select(StaffAccount).where(StaffAccount.id.in_(valid)))
    return {
        str(r.id): StaffPrincipal(id=str(r.id), login=r.login, full_name=r.full_name, role=r.role, snils=r.snils)
        for r in rows
    }


async def doctors_among(session: AsyncSession, *, ids: set[str], snils: set[str]) -> list[StaffPrincipal]:
    """The doctors (``role = doctor``) with one of ``ids`` or one of ``snils`` (one query)."""
    valid = _uuids(ids)
    if not valid and not snils:
        return []
    rows = await session.scalars(
        select(StaffAccount).where(
            StaffAccount.role == "doctor", or_(StaffAccount.id.in_(valid), StaffAccount.snils.in_(sorted(snils)))
        )
    )
    return [
        StaffPrincipal(id=str(r.id), login=r.login, full_name=r.full_name, role=r.role, snils=r.snils) for r in rows
    ]


async def staff_names(session: AsyncSession, ids: set[str]) -> dict[str, str]:
    valid = []
    for raw in ids:
        try:
            valid.append(uuid.UUID(raw))
        except ValueError:
            continue
    if not valid:
        return {}
    rows = await session.execute(select(StaffAccount.id, StaffAccount.full_name).where(StaffAccount.id.in_(valid)))
    return {str(i): name for i, name in rows.tuples()}
