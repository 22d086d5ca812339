"""Sessions behind our tokens, and refresh-token families.

A mobile login opens an :class:`AuthSession` (the family) and issues an access token (``sid`` = the
session) and an opaque refresh token (stored as a SHA-256 digest). Using a refresh token marks it used
and issues the next one in the same family; presenting a used one again is a reuse: the whole family is
revoked (RFC 6819 5.2.2.3, OAuth 2.0 Security BCP 4.14), which also ends its access tokens, since
:mod:`backend.identity.authn` checks the session on every request.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import ActorKind, Channel
from backend.identity import tokens
from backend.identity.models import AuthSession, RefreshToken

if TYPE_CHECKING:
    from backend.runtime import Runtime


class SessionKind(enum.StrEnum):
    MOBILE = "mobile"  # a patient's own login (mobile app, EPGU web)
    STAFF = "staff"  # an operator's login, about nobody
    ON_BEHALF = "on_behalf"  # an operator acting for an identified caller
    KIOSK_DEVICE = "kiosk_device"  # a kiosk's own client-credentials session
    KIOSK = "kiosk"  # a patient identified at a kiosk


_ACTOR_KIND = {
    SessionKind.MOBILE: ActorKind.PATIENT,
    SessionKind.STAFF: ActorKind.OPERATOR,
    SessionKind.ON_BEHALF: ActorKind.OPERATOR,
    SessionKind.KIOSK_DEVICE: ActorKind.KIOSK,
    SessionKind.KIOSK: ActorKind.KIOSK,
}


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str | None
    session_id: uuid.UUID
    scopes: frozenset[str]

    def as_oauth(self) -> dict[str, object]:
        body: dict[str, object] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": " ".join(sorted(self.scopes)),
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


async def open_session(
    session: AsyncSession,
    *,
    kind: SessionKind,
    channel: Channel,
    at: datetime,
    ttl_s: int,
    scopes: Iterable[str],
    patient_id: uuid.UUID | None = None,
    actor_id: str | None = None,
    client_id: str | None = None,
    idle_timeout_s: int | None = None,
    esia_session_id: str | None = None,
    parent_session_id: uuid.UUID | None = None,
) -> AuthSession:
    row = AuthSession(
        id=uuid.uuid4(),
        kind=kind.value,
        channel=channel.value,
        patient_id=patient_id,
        actor_id=actor_id,
        client_id=client_id,
        scopes=sorted(set(scopes)),
        esia_session_id=esia_session_id,
        created_at=at,
        expires_at=at + timedelta(seconds=ttl_s),
        last_seen_at=at,
        idle_timeout_s=idle_timeout_s,
        parent_session_id=parent_session_id,
    )
    session.add(row)
    await session.flush()
    return row


def access_token(runtime: Runtime, row: AuthSession, *, ttl_s: int | None = None) -> tuple[str, int]:
    """An access token of session ``row`` (never outliving it)."""
    kind = SessionKind(row.kind)
    if row.patient_id is not None:
        subject, actor_id = str(row.patient_id), (None if kind is SessionKind.MOBILE else row.actor_id)
    else:
        subject, actor_id = str(row.actor_id), None
    remaining = int((row.expires_at - tokens.now(runtime)).total_seconds())
    lifetime = min(ttl_s or runtime.settings.jwt_access_ttl_s, max(remaining, 1))
    return tokens.issue_access_token(
        runtime,
        subject=subject,
        kind=_ACTOR_KIND[kind],
        channel=Channel(row.channel),
        scopes=row.scopes,
        actor_id=actor_id,
        session_id=row.id,
        ttl_s=lifetime,
    )


@dataclass(frozen=True)
class IssuedSession:
    """A session just opened or changed, with an access token of it."""

    session_id: uuid.UUID
    access_token: str
    expires_in: int
    scopes: list[str]


def issued(runtime: Runtime, row: AuthSession) -> IssuedSession:
    token, expires_in = access_token(runtime, row)
    return IssuedSession(session_id=row.id, access_token=token, expires_in=expires_in, scopes=sorted(row.scopes))


async def issue_refresh_token(session: AsyncSession, runtime: Runtime, row: AuthSession, *, at: datetime) -> str:
    secret = tokens.new_secret()
    session.add(
        RefreshToken(
            id=uuid.uuid4(),
            session_id=row.id,
            token_hash=tokens.digest(secret),
            created_at=at,
            expires_at=min(row.expires_at, at + timedelta(seconds=runtime.settings.refresh_ttl_s)),
        )
    )
    await session.flush()
    return secret


async def token_pair(
    session: AsyncSession, runtime: Runtime, row: AuthSession, *, at: datetime, with_refresh: bool
) -> TokenPair:
    token, expires_in = access_token(runtime, row)
    refresh = await issue_refresh_token(session, runtime, row, at=at) if with_refresh else None
    return TokenPair(token, expires_in, refresh, row.id, frozenset(row.scopes))


class RefreshOutcome(enum.Enum):
    ROTATED = "ok"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    REUSED = "reused"  # the family was revoked just now
    WRONG_CLIENT = "wrong_client"


@dataclass(frozen=True)
class RefreshResult:
    outcome: RefreshOutcome
    pair: TokenPair | None = None
    session_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None


async def rotate(  # noqa: PLR0911 - one outcome per refusal
    session: AsyncSession, runtime: Runtime, secret: str, *, client_id: str
) -> RefreshResult:
    """Use a refresh token once. A reused token revokes its family (the caller must commit that)."""
    at = tokens.now(runtime)
    token = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == tokens.digest(secret)).with_for_update()
    )
    if token is None:
        return RefreshResult(RefreshOutcome.UNKNOWN)
    family = await session.get_one(AuthSession, token.session_id, with_for_update=True)
    sid, pid = family.id, family.patient_id
    if family.client_id != client_id:
        return RefreshResult(RefreshOutcome.WRONG_CLIENT, session_id=sid, patient_id=pid)
    if family.revoked_at is not None:
        return RefreshResult(RefreshOutcome.REVOKED, session_id=sid, patient_id=pid)
    if token.used_at is not None:
        await revoke(session, family.id, reason="refresh_reuse", at=at)
        return RefreshResult(RefreshOutcome.REUSED, session_id=sid, patient_id=pid)
    if token.expires_at <= at or family.expires_at <= at:
        return RefreshResult(RefreshOutcome.EXPIRED, session_id=sid, patient_id=pid)
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # a concurrent use won the race: a reuse
        await revoke(session, family.id, reason="refresh_reuse", at=at)
        return RefreshResult(RefreshOutcome.REUSED, session_id=sid, patient_id=pid)
    pair = await token_pair(session, runtime, family, at=at, with_refresh=True)
    return RefreshResult(RefreshOutcome.ROTATED, pair=pair, session_id=sid, patient_id=pid)


async def revoke(session: AsyncSession, session_id: uuid.UUID, *, reason: str, at: datetime) -> bool:
    """Revoke a session (a refresh family): its refresh and access tokens stop working. True if it was live."""
    result = await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=at, revoke_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def find_by_refresh_token(session: AsyncSession, secret: str) -> AuthSession | None:
    token = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == tokens.digest(secret)))
    return None if token is None else await session.get(AuthSession, token.session_id)
