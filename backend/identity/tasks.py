"""Identity's periodic housekeeping: forget what has expired (logins in flight, used assertion ids, codes,
refresh tokens of ended sessions), hourly from the beat schedule."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, or_, select

from backend.celery_app import TaskName
from backend.identity import tokens
from backend.identity.models import AuthSession, OAuthLogin, RefreshToken, UsedAssertion, VerificationCode
from backend.worker import async_task

if TYPE_CHECKING:
    from backend.runtime import Runtime

PURGE_TASK = TaskName.IDENTITY_PURGE
KEEP_ENDED_SESSIONS = timedelta(days=30)  # ended sessions stay a while for investigations


async def purge_expired(runtime: Runtime) -> dict[str, int]:
    """Delete expired rows; returns how many of each kind went."""
    at = tokens.now(runtime)
    counts: dict[str, int] = {}
    async with runtime.sessionmaker() as session, session.begin():
        for name, statement in (
            ("used_assertions", delete(UsedAssertion).where(UsedAssertion.expires_at < at)),
            ("codes", delete(VerificationCode).where(VerificationCode.expires_at < at - timedelta(days=1))),
            (
                "logins",
                delete(OAuthLogin).where(
                    OAuthLogin.expires_at < at - timedelta(days=1), OAuthLogin.session_id.is_(None)
                ),
            ),
        ):
            result = await session.execute(statement.execution_options(synchronize_session=False))
            counts[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        ended = select(AuthSession.id).where(
            or_(AuthSession.expires_at < at, AuthSession.revoked_at.is_not(None)),
            AuthSession.created_at < at - KEEP_ENDED_SESSIONS,
        )
        result = await session.execute(
            delete(RefreshToken).where(RefreshToken.session_id.in_(ended)).execution_options(synchronize_session=False)
        )
        counts["refresh_tokens"] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return counts


@async_task(PURGE_TASK)
async def purge_expired_task(runtime: Runtime) -> dict[str, int]:
    """The hourly beat job: :func:`purge_expired` on the worker's runtime."""
    return await purge_expired(runtime)
