"""Statuses kept in step with the hub (GetPatientHistory), and holds past their expiry closed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import func, select, update

from backend.booking.models import LIVE_STATES, Appointment, AppointmentState, HoldStatus, SlotHold
from backend.booking.service.appointments import emit_event
from backend.booking.service.base import hub, now
from backend.booking.service.holds import bridge_hold
from backend.booking.service.hooks import keeps_freed_slots, slot_freed, visited
from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from integrations.fer import AppointmentStatus, FerError

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)


_STATE_OF_HUB: dict[AppointmentStatus, AppointmentState] = {
    AppointmentStatus.CANCELLED_BY_MO: AppointmentState.CANCELLED_BY_MO,
    AppointmentStatus.CANCELLED_BY_PATIENT: AppointmentState.CANCELLED_BY_PATIENT,
    AppointmentStatus.RESCHEDULED: AppointmentState.RESCHEDULED,
    AppointmentStatus.VISITED: AppointmentState.VISITED,
    AppointmentStatus.NO_SHOW: AppointmentState.NO_SHOW,
}


@dataclass
class SyncReport:
    patients: int = 0
    changed: int = 0
    failures: int = 0
    cancelled_by_mo: list[uuid.UUID] = field(default_factory=list)


SYNC_BATCH = 100
SYNC_MIN_INTERVAL = timedelta(minutes=5)


async def sync_statuses(
    runtime: Runtime, *, batch: int = SYNC_BATCH, min_interval: timedelta = SYNC_MIN_INTERVAL
) -> SyncReport:
    """Poll GetPatientHistory for a bounded batch of (patient, clinic) pairs with live appointments that
    were not compared for ``min_interval``; apply visited / no-show / cancelled (a clinic's cancellation
    is told to the patient)."""
    at = now(runtime)
    report = SyncReport()
    async with runtime.sessionmaker() as session:
        rows = await session.execute(
            select(
                Appointment.patient_id,
                Appointment.mo_id,
                Appointment.hub_patient_id,
                func.min(Appointment.status_synced_at),
            )
            .where(
                Appointment.status.in_(LIVE_STATES),
                (Appointment.status_synced_at.is_(None)) | (Appointment.status_synced_at < at - min_interval),
            )
            .group_by(Appointment.patient_id, Appointment.mo_id, Appointment.hub_patient_id)
            .order_by(func.min(Appointment.status_synced_at).nulls_first())
            .limit(batch)
        )
        groups = [(p, m, h) for p, m, h, _ in rows]
    booking_hub = hub(runtime)
    ctx = RequestContext.for_system("booking.sync_statuses")
    for patient_id, mo_id, hub_patient in groups:
        report.patients += 1
        try:
            history = await booking_hub.get_history(mo_id, hub_patient)
        except FerError:
            report.failures += 1
            log.warning("booking.sync_failed", mo_id=mo_id, exc_info=True)
            continue
        statuses = {h.appointment_id: h.status for h in history}
        await _bridge_cancelled(runtime, patient_id, mo_id, statuses)
        freed: list[Appointment] = []
        async with UnitOfWork(runtime, ctx) as uow:
            live = await uow.session.scalars(
                select(Appointment).where(
                    Appointment.patient_id == patient_id,
                    Appointment.mo_id == mo_id,
                    Appointment.status.in_(LIVE_STATES),
                )
            )
            for appointment in live:
                appointment.status_synced_at = at
                hub_status = statuses.get(appointment.slot_id)
                if hub_status is None:
                    continue
                state = _STATE_OF_HUB[hub_status]
                if appointment.status == AppointmentState.CANCEL_PENDING.value and state in (
                    AppointmentState.CANCELLED_BY_PATIENT,
                    AppointmentState.RESCHEDULED,
                ):
                    continue  # ours: the outbox handler closes it
                appointment.status = state.value
                appointment.updated_at = at
                if state in (AppointmentState.CANCELLED_BY_MO, AppointmentState.CANCELLED_BY_PATIENT):
                    appointment.cancelled_at = at
                report.changed += 1
                uow.audit(
                    "booking.status_synced",
                    object_type="appointment",
                    object_id=appointment.id,
                    subject_id=patient_id,
                    details={"status": state.value},
                )
                if state is AppointmentState.CANCELLED_BY_MO:
                    report.cancelled_by_mo.append(appointment.id)
                    emit_event(uow, "appointment.cancelled", appointment, urgent=True)
                if state in (AppointmentState.CANCELLED_BY_MO, AppointmentState.CANCELLED_BY_PATIENT):
                    freed.append(appointment)
                if state is AppointmentState.VISITED:
                    await visited(uow, appointment)
        for appointment in freed:
            await slot_freed(runtime, appointment)
    return report


_CANCELLED = (AppointmentState.CANCELLED_BY_MO, AppointmentState.CANCELLED_BY_PATIENT)


async def _bridge_cancelled(
    runtime: Runtime, patient_id: uuid.UUID, mo_id: str, statuses: dict[str, AppointmentStatus | None]
) -> None:
    """The slots the hub says were cancelled, kept for the waitlist (bridge holds, see :mod:`.hooks`),
    committed before the appointments leave the live set (as ``on_cancel_upstream`` does)."""
    cancelled = [s for s, status in statuses.items() if status is not None and _STATE_OF_HUB[status] in _CANCELLED]
    if not cancelled or not keeps_freed_slots():
        return
    async with runtime.sessionmaker() as session, session.begin():
        rows = await session.scalars(
            select(Appointment).where(
                Appointment.patient_id == patient_id,
                Appointment.mo_id == mo_id,
                Appointment.slot_id.in_(cancelled),
                Appointment.status == AppointmentState.BOOKED.value,
            )
        )
        for appointment in list(rows):
            await bridge_hold(session, runtime, appointment)


async def expire_holds(runtime: Runtime) -> int:
    """Mark every hold past its expiry as expired (holds also expire lazily when their slot is wanted)."""
    at = now(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        result = await session.execute(
            update(SlotHold)
            .where(SlotHold.status == HoldStatus.HELD.value, SlotHold.expires_at <= at)
            .values(status=HoldStatus.EXPIRED.value, closed_at=at)
            .execution_options(synchronize_session=False)
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
