"""Compensation: what the hub accepted but our transaction did not keep is cancelled upstream."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import bindparam, select

from backend.booking.models import Appointment, is_live
from backend.booking.service.base import TOPIC_COMPENSATE, hub
from backend.booking.service.slots import release_slot_marker
from backend.core.context import RequestContext
from backend.core.db import HotStatement
from backend.core.uow import UnitOfWork
from backend.outbox import service as outbox
from backend.outbox.service import Envelope
from integrations.fer import AppointmentNotFound

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)


@dataclass
class UpstreamBooking:
    mo_id: str
    hub_patient_id: str
    slot_id: str
    uncertain: bool = False  # a timeout: the hub may or may not have booked it


@dataclass
class _Pending:
    items: list[tuple[UnitOfWork, UpstreamBooking]] = field(default_factory=list)
    # Writes that must stand although the unit of work rolls back (a released hold): run after it ended.
    after_rollback: list[tuple[UnitOfWork, Callable[[], Awaitable[None]]]] = field(default_factory=list)
    # What the hub's answers taught whatever the unit's outcome (backend/directory/service/referrals.py).
    after_unit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


_PENDING: contextvars.ContextVar[_Pending | None] = contextvars.ContextVar("booking_pending_upstream", default=None)


def register_upstream(uow: UnitOfWork, booking: UpstreamBooking) -> None:
    """An upstream booking that must be cancelled again unless ``uow`` commits."""
    pending = _PENDING.get()
    if pending is None:
        raise RuntimeError(
            "booking mutations run inside compensation_scope() (the schema's @booking_mutation, or booking_unit())"
        )
    pending.items.append((uow, booking))


def after_rollback(uow: UnitOfWork, action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` (its own transaction) once ``uow`` has ended without committing.

    Not inside ``uow``: on SQLite a second writer would wait on the first; on PostgreSQL on its row locks.
    """
    pending = _PENDING.get()
    if pending is None:
        raise RuntimeError(
            "booking mutations run inside compensation_scope() (the schema's @booking_mutation, or booking_unit())"
        )
    pending.after_rollback.append((uow, action))


def after_unit(action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` (its own transaction, best effort) once the unit of work has ended, committed or not."""
    pending = _PENDING.get()
    if pending is not None:  # outside a scope (a test's bare unit) there is nothing to learn for
        pending.after_unit.append(action)


@contextlib.asynccontextmanager
async def compensation_scope(runtime: Runtime) -> AsyncIterator[None]:
    """Cancel upstream, through the outbox, what the hub accepted but our transaction did not keep."""
    pending = _Pending()
    token = _PENDING.set(pending)
    try:
        yield
    finally:
        _PENDING.reset(token)
        lost = [booking for uow, booking in pending.items if not uow.committed]
        if lost:
            await _write_compensations(runtime, lost)
        for uow, action in pending.after_rollback:
            if not uow.committed:
                try:
                    await action()
                except Exception:
                    log.exception("booking.after_rollback_failed")
        for action in pending.after_unit:
            try:
                await action()
            except Exception:
                log.warning("booking.after_unit_failed", exc_info=True)


async def _write_compensations(runtime: Runtime, bookings: Sequence[UpstreamBooking]) -> None:
    try:
        async with runtime.sessionmaker() as session, session.begin():
            for b in bookings:
                outbox.add(
                    session,
                    TOPIC_COMPENSATE,
                    {
                        "mo_id": b.mo_id,
                        "hub_patient_id": b.hub_patient_id,
                        "slot_id": b.slot_id,
                        "uncertain": b.uncertain,
                    },
                )
            ids = outbox.take_pending_ids(session)
    except Exception:
        log.exception("booking.compensation_write_failed", slots=[b.slot_id for b in bookings])
        raise
    log.warning("booking.compensating", slots=[b.slot_id for b in bookings])
    await runtime.relay.enqueue(ids)


@contextlib.asynccontextmanager
async def booking_unit(runtime: Runtime, ctx: RequestContext) -> AsyncIterator[UnitOfWork]:
    """A unit of work for booking calls made outside GraphQL (jobs, bench, tests): with compensation."""
    async with compensation_scope(runtime), UnitOfWork(runtime, ctx) as uow:
        yield uow


COMPENSATION_NOT_FOUND_RETRIES = 3


_KEPT = HotStatement(
    select(Appointment.id)
    .where(
        Appointment.mo_id == bindparam("mo_id"),
        Appointment.slot_id == bindparam("slot_id"),
        Appointment.hub_patient_id == bindparam("hub_patient_id"),
        is_live(Appointment.status),
    )
    .limit(1)
)


async def kept_here(runtime: Runtime, mo_id: str, slot_id: str, hub_patient_id: str) -> bool:
    """Whether our database holds, committed, a live appointment of this hub booking (a fresh connection)."""
    params = {"mo_id": mo_id, "slot_id": slot_id, "hub_patient_id": hub_patient_id}
    return bool(await _KEPT.alone(runtime.sessionmaker, params))


async def on_compensate(envelope: Envelope, runtime: Runtime) -> None:
    """Cancel at the hub a booking our database did not keep.

    "Did not keep" is read again here, on a connection of its own: a commit whose reply was lost raised
    in the request, yet the booking is ours. Such a booking is left alone (the patient has it, and a
    repeat with the same idempotency key answers it); a read that fails raises, and the outbox retries."""
    p = envelope.payload
    if await kept_here(runtime, p["mo_id"], p["slot_id"], p["hub_patient_id"]):
        log.warning("booking.compensation_not_needed", slot=p["slot_id"], mo_id=p["mo_id"])
        return
    try:
        await hub(runtime).cancel(p["mo_id"], p["hub_patient_id"], p["slot_id"])
    except AppointmentNotFound:
        # After a timeout the hub may still be writing the booking: look again a few times.
        if p.get("uncertain") and envelope.attempt < COMPENSATION_NOT_FOUND_RETRIES:
            raise
    await release_slot_marker(runtime, p["mo_id"], p["slot_id"])  # the slot is free again: bookable at once
    log.info("booking.compensated", slot=p["slot_id"], mo_id=p["mo_id"])
