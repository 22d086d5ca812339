"""Infomat kiosks: registered devices authenticating with ``private_key_jwt`` (RFC 7523 / OIDC Core 9).

The kiosk signs a client assertion (``iss`` = ``sub`` = its client id, ``aud`` = our token endpoint,
a short ``exp``, a unique ``jti``) with its private key; we verify it with the registered public key and
accept each ``jti`` once. The kiosk then identifies patients (OMS policy + birth date) and gets short
sessions with an idle timeout.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.identity.models import KioskDevice, UsedAssertion

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ["ES256", "RS256", "PS256"]
MAX_ASSERTION_LIFETIME = timedelta(minutes=5)
LEEWAY_S = 30


class ClientAssertionError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class KioskView:
    id: uuid.UUID
    client_id: str
    name: str
    medical_organisation_ref: str


async def register_kiosk(
    session: AsyncSession,
    *,
    client_id: str,
    name: str,
    medical_organisation_ref: str,
    public_key_pem: str,
    at: datetime,
) -> KioskDevice:
    serialization.load_pem_public_key(public_key_pem.encode("ascii"))  # refuse a bad key at registration
    row = KioskDevice(
        id=uuid.uuid4(),
        client_id=client_id,
        name=name,
        medical_organisation_ref=medical_organisation_ref,
        public_key_pem=public_key_pem,
        active=True,
        created_at=at,
    )
    session.add(row)
    await session.flush()
    return row


async def verify_client_assertion(session: AsyncSession, assertion: str, *, audience: str, at: datetime) -> KioskView:
    """The kiosk that signed ``assertion``; :class:`ClientAssertionError` otherwise. Records the ``jti``."""
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise ClientAssertionError("malformed") from exc
    client_id = unverified.get("iss")
    if not isinstance(client_id, str) or unverified.get("sub") != client_id:
        raise ClientAssertionError("iss_sub")
    if header.get("alg") not in ASSERTION_ALGORITHMS:
        raise ClientAssertionError("algorithm")
    # A write first: on SQLite a transaction that reads and then writes fails at once («database is locked»,
    # without waiting) when another writer committed in between; one that writes first waits for the lock.
    await session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at < at))
    device = await session.scalar(select(KioskDevice).where(KioskDevice.client_id == client_id))
    if device is None or not device.active:
        raise ClientAssertionError("unknown_client")
    key: Any = serialization.load_pem_public_key(device.public_key_pem.encode("ascii"))
    try:
        claims = jwt.decode(
            assertion,
            key,
            algorithms=ASSERTION_ALGORITHMS,
            audience=audience,
            issuer=client_id,
            options={"require": ["exp", "jti", "iss", "sub", "aud"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidAudienceError as exc:
        raise ClientAssertionError("audience") from exc
    except jwt.PyJWTError as exc:
        raise ClientAssertionError("signature") from exc
    exp = claims.get("exp")
    moment = at.timestamp()
    if not isinstance(exp, int | float) or exp + LEEWAY_S <= moment:
        raise ClientAssertionError("expired")
    if exp - moment > MAX_ASSERTION_LIFETIME.total_seconds() + LEEWAY_S:
        raise ClientAssertionError("lifetime")
    jti = str(claims["jti"])
    if not jti or len(jti) > 128:
        raise ClientAssertionError("jti")
    try:
        async with session.begin_nested():
            session.add(
                UsedAssertion(
                    jti=f"{client_id}:{jti}"[:128],
                    client_id=client_id,
                    expires_at=datetime.fromtimestamp(float(exp) + LEEWAY_S, UTC),
                )
            )
            await session.flush()
    except IntegrityError as exc:
        raise ClientAssertionError("replay") from exc
    return KioskView(
        id=device.id,
        client_id=device.client_id,
        name=device.name,
        medical_organisation_ref=device.medical_organisation_ref,
    )


def _view(device: KioskDevice) -> KioskView:
    return KioskView(
        id=device.id,
        client_id=device.client_id,
        name=device.name,
        medical_organisation_ref=device.medical_organisation_ref,
    )


async def kiosk_by_client_id(session: AsyncSession, client_id: str) -> KioskView | None:
    device = await session.scalar(select(KioskDevice).where(KioskDevice.client_id == client_id))
    if device is None:
        return None
    return KioskView(
        id=device.id,
        client_id=device.client_id,
        name=device.name,
        medical_organisation_ref=device.medical_organisation_ref,
    )


async def kiosk_names(session: AsyncSession, client_ids: set[str]) -> dict[str, str]:
    if not client_ids:
        return {}
    rows = await session.execute(
        select(KioskDevice.client_id, KioskDevice.name).where(KioskDevice.client_id.in_(client_ids))
    )
    return dict(rows.tuples().all())
