"""``vaccination.due`` reminders: a week before a dose becomes due and when it becomes overdue
(:func:`backend.vaccination.engine.reminders` says which and when), to the patient, or for a child (under
18) to the parents holding an active guardian grant with the vaccination scope.

The daily job (beat ``vaccination-reminders``, 07:00 UTC = 10:00 in Moscow) walks the patients this domain
knows (those whose vaccinations were read or imported) in batches, refreshes their register data when due,
and sends each reminder whose day has come once per (patient, recipient, key): the row in
``vaccination_reminders`` is written with the notification's outbox row in one transaction, under a unique
key, so a repeated or overlapping run sends nothing twice. Quiet hours are the notifications domain's: a
reminder is not urgent, so its SMS waits for the morning in the region's time zone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select

from backend.booking import service as booking
from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.identity.policy import SCOPE_VACCINATION
from backend.identity.proxies import grants_of_principal
from backend.vaccination.engine import ReminderKind, reminders
from backend.vaccination.models import VaccinationRegisterState, VaccinationReminder
from backend.vaccination.service.records import PatientVaccinations, assess, ensure_imported, vaccinations_of
from notifications import service as notifications
from notifications.preferences import insert_ignore

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

EVENT = "vaccination.due"
BATCH = 200
ADULT_AGE = 18


@dataclass
class ReminderRun:
    patients: int = 0
    sent: int = 0
    failed: int = 0


async def recipients(runtime: Runtime, patient_id: uuid.UUID, birth_date: date, today: date) -> list[uuid.UUID]:
    """Who is told: an adult themself; a child's parents with an active guardian grant covering vaccination
    (the child themself when there is none)."""
    age = today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
    if age >= ADULT_AGE:
        return [patient_id]
    at = runtime.now()
    async with runtime.sessionmaker() as session:
        grants = await grants_of_principal(session, patient_id)
    parents = [
        g.proxy_id
        for g in grants
        if g.kind.startswith("guardian")
        and g.status == "active"
        and SCOPE_VACCINATION in g.scopes
        and (g.expires_at is None or g.expires_at > at)
    ]
    return list(dict.fromkeys(parents)) or [patient_id]


async def send_due(runtime: Runtime, patient_id: uuid.UUID, data: PatientVaccinations | None = None) -> int:
    """Send the patient's reminders whose day has come (idempotent); the number sent now. ``data``: the
    patient's vaccinations when the caller has read them already (a batch)."""
    today = booking.local_day(runtime, runtime.now())
    if data is None:
        data = (await vaccinations_of(runtime, [patient_id])).get(patient_id)
    if data is None:
        return 0
    planned = [r for r in reminders(assess(data, today)) if r.send_on <= today]
    if not planned:
        return 0
    to = await recipients(runtime, patient_id, data.patient.birth_date, today)
    child = to != [patient_id]
    zone = ZoneInfo(runtime.settings.region_timezone)
    sent = 0
    ctx = RequestContext.for_system("vaccination.reminders")
    async with UnitOfWork(runtime, ctx) as uow:
        for reminder in planned:
            for recipient in to:
                inserted = await insert_ignore(
                    uow.session,
                    VaccinationReminder,
                    {
                        "id": uuid.uuid4(),
                        "patient_id": patient_id,
                        "recipient_id": recipient,
                        "key": reminder.key,
                        "kind": reminder.kind.value,
                        "infection": reminder.infection,
                        "dose_number": reminder.dose_number,
                        "send_on": reminder.send_on,
                        "sent_at": runtime.now(),
                    },
                    ["patient_id", "recipient_id", "key"],
                )
                if not inserted:
                    continue
                payload: dict[str, object] = {"vaccine": reminder.data["vaccine"]}
                if "due_on" in reminder.data and reminder.kind is ReminderKind.DUE_SOON:
                    # «до 25.10.2026»: the template reads an aware moment, shown as the region's day
                    day = date.fromisoformat(reminder.data["due_on"])
                    payload["due_on"] = datetime.combine(day, time(12, 0), tzinfo=zone)
                if child:
                    payload["for_name"] = f"{data.patient.first_name} {data.patient.last_name}"
                notifications.notify(
                    uow,
                    patient_id=recipient,
                    event=EVENT,
                    data=payload,
                    dedupe_key=f"{reminder.key}:{patient_id}",
                )
                sent += 1
        if sent:
            uow.audit("vaccination.reminded", subject_id=patient_id, details={"sent": sent})
    return sent


async def run_reminders(runtime: Runtime, *, batch: int = BATCH) -> ReminderRun:
    """The daily job: every patient this domain knows, in batches by id."""
    run = ReminderRun()
    after: uuid.UUID | None = None
    while True:
        query = select(VaccinationRegisterState.patient_id).order_by(VaccinationRegisterState.patient_id).limit(batch)
        if after is not None:
            query = query.where(VaccinationRegisterState.patient_id > after)
        async with runtime.sessionmaker() as session:
            ids = list(await session.scalars(query))
        if not ids:
            return run
        after = ids[-1]
        await ensure_imported(runtime, ids)
        batch_data = await vaccinations_of(runtime, ids)
        for patient_id in ids:
            run.patients += 1
            try:
                run.sent += await send_due(runtime, patient_id, batch_data.get(patient_id))
            except Exception:
                run.failed += 1
                log.exception("vaccination.reminders_failed", patient_id=str(patient_id))
