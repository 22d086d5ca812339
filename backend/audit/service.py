"""One helper every domain uses to write the audit log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.audit.models import AuditEvent
from backend.core.context import RequestContext
from backend.core.db import HotStatement, insert_all, utcnow


def row(
    ctx: RequestContext,
    action: str,
    *,
    outcome: str = "ok",
    object_type: str | None = None,
    object_id: str | uuid.UUID | None = None,
    subject_id: uuid.UUID | None = None,
    purpose: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The column values of one audit row (every column, ready for :data:`INSERT`)."""
    return {
        "id": uuid.uuid4(),
        "at": utcnow(),
        "actor_kind": ctx.actor.kind.value,
        "actor_id": ctx.actor.id,
        "subject_id": subject_id or ctx.actor.subject_id,
        "channel": ctx.actor.channel.value,
        "action": action,
        "outcome": outcome,
        "object_type": object_type,
        "object_id": str(object_id) if object_id is not None else None,
        "purpose": purpose,
        "request_id": ctx.request_id,
        "details": details or {},
    }


#: Audit rows a unit of work collected, written in one round trip just before it commits.
INSERT = HotStatement(insert_all(cast("Table", AuditEvent.__table__)))


def record(session: AsyncSession, ctx: RequestContext, action: str, **kwargs: Any) -> AuditEvent:
    """Add an audit row to ``session``: it commits (or rolls back) with the change it describes.
    ``kwargs`` are those of :func:`row`."""
    event = AuditEvent(**row(ctx, action, **kwargs))
    session.add(event)
    return event


async def record_now(
    sessionmaker: async_sessionmaker[AsyncSession], ctx: RequestContext, action: str, **kwargs: Any
) -> None:
    """Write an audit row on its own (one statement, committed by itself): for reads, and for failures whose
    change rolled back."""
    await INSERT.alone(sessionmaker, row(ctx, action, **kwargs))


async def record_many_now(sessionmaker: async_sessionmaker[AsyncSession], rows: Sequence[dict[str, Any]]) -> None:
    """Write several audit rows (of :func:`row`) on their own, in one multi-row INSERT: a read that concerns
    several people, each of whom sees it in their access log."""
    if not rows:
        return
    async with sessionmaker() as session, session.begin():
        await session.execute(insert(cast("Table", AuditEvent.__table__)).values(list(rows)))


async def events_for_subject(session: AsyncSession, subject_id: uuid.UUID, *, limit: int = 50) -> Sequence[AuditEvent]:
    rows = await session.scalars(
        select(AuditEvent).where(AuditEvent.subject_id == subject_id).order_by(AuditEvent.at.desc()).limit(limit)
    )
    return rows.all()


def one_per_mutation(rows: Sequence[AuditEvent], *, per_subject: bool = True) -> list[AuditEvent]:
    """``rows`` without the row ``@atomic`` writes under a mutation's name (``bookAppointment``) when the same
    request wrote the domain's own (``booking.appointment_booked``), which says it better. ``per_subject``: when
    the domain's row is about the same person (a person's access log); otherwise a success beside the domain's
    success of the same request (an operator's actions in a call, where the mutation's row may name nobody; a
    refusal always stays)."""

    def key(r: AuditEvent) -> tuple[Any, ...]:
        return (r.request_id, r.subject_id) if per_subject else (r.request_id, r.outcome)

    domain_requests = {key(r) for r in rows if r.request_id and "." in r.action}
    if not per_subject:  # a refusal stays: the domain's row of that request may say something else it refused
        return [r for r in rows if "." in r.action or r.outcome != "ok" or key(r) not in domain_requests]
    return [r for r in rows if "." in r.action or key(r) not in domain_requests]


async def events_by_actor(
    session: AsyncSession, actor_id: str, start: datetime, end: datetime | None = None
) -> Sequence[AuditEvent]:
    """What ``actor_id`` did from ``start`` (to ``end``), oldest first: a call's actions (backend/call_record)."""
    query = select(AuditEvent).where(AuditEvent.actor_id == actor_id, AuditEvent.at >= start)
    if end is not None:
        query = query.where(AuditEvent.at <= end)
    rows = await session.scalars(query.order_by(AuditEvent.at, AuditEvent.id))
    return rows.all()
