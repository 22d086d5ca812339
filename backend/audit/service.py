"""One helper every domain uses to write the audit log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.audit.models import AuditEvent
from backend.core.context import RequestContext


def record(
    session: AsyncSession,
    ctx: RequestContext,
    action: str,
    *,
    outcome: str = "ok",
    object_type: str | None = None,
    object_id: str | uuid.UUID | None = None,
    subject_id: uuid.UUID | None = None,
    purpose: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit row to ``session``: it commits (or rolls back) with the change it describes."""
    event = AuditEvent(
        actor_kind=ctx.actor.kind.value,
        actor_id=ctx.actor.id,
        subject_id=subject_id or ctx.actor.subject_id,
        channel=ctx.actor.channel.value,
        action=action,
        outcome=outcome,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        purpose=purpose,
        request_id=ctx.request_id,
        details=details or {},
    )
    session.add(event)
    return event


async def record_now(
    sessionmaker: async_sessionmaker[AsyncSession], ctx: RequestContext, action: str, **kwargs: Any
) -> None:
    """Write an audit row in its own transaction: for reads, and for failures whose change rolled back."""
    async with sessionmaker() as session, session.begin():
        record(session, ctx, action, **kwargs)


async def events_for_subject(session: AsyncSession, subject_id: uuid.UUID, *, limit: int = 50) -> Sequence[AuditEvent]:
    rows = await session.scalars(
        select(AuditEvent).where(AuditEvent.subject_id == subject_id).order_by(AuditEvent.at.desc()).limit(limit)
    )
    return rows.all()
