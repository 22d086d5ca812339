"""No-show rules, visible and contestable.

The clinic marks a visit as a no-show at the hub (``AppointmentStatusType`` 5); :mod:`.sync` brings it
here (``AppointmentState.NO_SHOW``). The rule, as data (:data:`NO_SHOW_RULE`):

    **3 no-shows within 90 days limit online booking (the app, EPGU) for 30 days after the third.**

What we chose, and why. The sources name the idea, not the numbers. Three in 90 days is a pattern, not an
accident (one or two missed visits a quarter happen to anyone); 30 days is long enough to matter and short
enough not to keep anyone from care. The limit is on *online* booking only: the patient can still book by
phone at 122, at a kiosk in the clinic or at the registry desk, where a person (or the patient in person)
takes the booking — never a silent block, and never a block on care.

Never silent: the refusal (:class:`~backend.booking.problems.OnlineBookingLimited`) names the no-shows'
dates, the last day of the limit and how to contest; ``myNoShowStatus`` shows the same with each no-show.

Contestable: the patient contests one no-show (one contest per visit) with a reason; the contest is a
tracked request to the clinic (pending → upheld / rejected, decided by the clinic's staff with a note, the
patient told). An upheld contest takes the visit out of the count at once, so the limit it triggered lifts.
A pending contest still counts: the clinic's record stands until the clinic says otherwise.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.booking.models import Appointment, AppointmentState, ContestStatus, NoShowContest
from backend.booking.problems import AppointmentMissing, InvalidInput, OnlineBookingLimited, fail
from backend.booking.service.base import local_day, now
from backend.core.context import Channel
from backend.core.uow import UnitOfWork
from notifications import service as notifications

if TYPE_CHECKING:
    from backend.runtime import Runtime


@dataclass(frozen=True)
class NoShowRule:
    """``count`` no-shows within ``window_days`` limit online booking on ``channels`` for ``limit_days``
    from the day of the no-show that completed the count (that day is day 1)."""

    version: str
    count: int
    window_days: int
    limit_days: int
    channels: frozenset[Channel] = field(default_factory=lambda: frozenset({Channel.MOBILE, Channel.EPGU}))

    def describe(self) -> str:
        return (
            f"{self.count} неявки на прием за {self.window_days} дней ограничивают онлайн-запись "
            f"(приложение, Госуслуги) на {self.limit_days} дней. Запись по телефону 122, через инфомат "
            "и в регистратуре остается доступной."
        )


NO_SHOW_RULE = NoShowRule(version="2026-1", count=3, window_days=90, limit_days=30)

MAX_REASON = 1000


@dataclass(frozen=True)
class NoShow:
    appointment: Appointment
    day: date  # the visit's day in the region
    contest: NoShowContest | None

    @property
    def counts(self) -> bool:
        return self.contest is None or self.contest.status != ContestStatus.UPHELD.value


@dataclass(frozen=True)
class NoShowStatus:
    rule: NoShowRule
    no_shows: list[NoShow]  # within the rule's reach, newest first
    triggering: list[NoShow]  # the no-shows that completed the count (oldest first), when limited
    until: date | None  # the last day of the limit, when limited

    @property
    def limited(self) -> bool:
        return self.until is not None


def _reach(rule: NoShowRule) -> timedelta:
    return timedelta(days=rule.window_days + rule.limit_days)


async def no_show_status(
    runtime: Runtime, session: AsyncSession, patient_id: uuid.UUID, *, rule: NoShowRule = NO_SHOW_RULE
) -> NoShowStatus:
    """The patient's no-shows that can still matter, their contests, and the limit in force (one statement)."""
    at = now(runtime)
    today = local_day(runtime, at)
    rows = await session.execute(
        select(Appointment, NoShowContest)
        .outerjoin(NoShowContest, NoShowContest.appointment_id == Appointment.id)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status == AppointmentState.NO_SHOW.value,
            Appointment.slot_start >= at - _reach(rule),
        )
        .order_by(Appointment.slot_start.desc())
    )
    items = [NoShow(a, local_day(runtime, a.slot_start), c) for a, c in rows.tuples()]
    counting = sorted((n for n in items if n.counts), key=lambda n: n.day)
    triggering: list[NoShow] = []
    until: date | None = None
    for i in range(rule.count - 1, len(counting)):
        first, last = counting[i - rule.count + 1], counting[i]
        if (last.day - first.day).days < rule.window_days:
            end = last.day + timedelta(days=rule.limit_days - 1)
            if end >= today and (until is None or end >= until):
                until, triggering = end, counting[i - rule.count + 1 : i + 1]
    return NoShowStatus(rule, items, triggering, until)


def _ru(day: date) -> str:
    return day.strftime("%d.%m.%Y")


async def check_online_booking_allowed(uow: UnitOfWork, patient_id: uuid.UUID) -> None:
    """Refuse online booking while the no-show limit is in force, saying why and until when; other channels
    (122, kiosk, registry) are never limited, and cost nothing here."""
    if uow.ctx.actor.channel not in NO_SHOW_RULE.channels:
        return
    status = await no_show_status(uow.runtime, uow.session, patient_id)
    if status.until is not None:
        uow.audit(
            "booking.online_limited",
            object_type="patient",
            object_id=patient_id,
            subject_id=patient_id,
            details={"until": status.until.isoformat(), "rule": NO_SHOW_RULE.version},
        )
        raise fail(OnlineBookingLimited.of([_ru(n.day) for n in status.triggering], _ru(status.until)))


async def contest(uow: UnitOfWork, patient_id: uuid.UUID, appointment_id: uuid.UUID, reason: str) -> NoShowContest:
    """The patient contests one no-show: a pending request to the clinic (a repeat answers the same one)."""
    text = reason.strip()
    if not text or len(text) > MAX_REASON:
        raise fail(InvalidInput.of("reason", f"Опишите, почему это не неявка (до {MAX_REASON} символов)."))
    session = uow.session
    appointment = await session.get(Appointment, appointment_id)
    if appointment is None or appointment.patient_id != patient_id:
        raise fail(AppointmentMissing.default())
    if appointment.status != AppointmentState.NO_SHOW.value:
        raise fail(InvalidInput.of("appointmentId", "Оспорить можно только запись, отмеченную как неявка."))
    existing = await session.scalar(select(NoShowContest).where(NoShowContest.appointment_id == appointment_id))
    if existing is not None:
        return existing
    row = NoShowContest(
        id=uuid.uuid4(),
        appointment_id=appointment_id,
        patient_id=patient_id,
        mo_id=appointment.mo_id,
        reason=text,
        status=ContestStatus.PENDING.value,
        created_at=now(uow.runtime),
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent contest of the same visit won: the unit of work rolls back
        raise fail(InvalidInput.of("appointmentId", "Эта неявка уже оспаривается.")) from None
    uow.audit(
        "booking.no_show_contested",
        object_type="appointment",
        object_id=appointment_id,
        subject_id=patient_id,
        details={"contest_id": str(row.id), "mo_id": appointment.mo_id},
    )
    return row


async def pending_contests(session: AsyncSession, *, mo_id: str | None = None, limit: int = 100) -> list[NoShowContest]:
    """The clinic's queue: pending contests, oldest first."""
    query = select(NoShowContest).where(NoShowContest.status == ContestStatus.PENDING.value)
    if mo_id is not None:
        query = query.where(NoShowContest.mo_id == mo_id)
    return list(await session.scalars(query.order_by(NoShowContest.created_at).limit(limit)))


async def decide(
    uow: UnitOfWork, staff_id: str, contest_id: uuid.UUID, *, upheld: bool, note: str | None
) -> NoShowContest:
    """The clinic decides a contest; an upheld one no longer counts (the limit it caused lifts at once).
    The patient is told either way."""
    session = uow.session
    row = await session.get(NoShowContest, contest_id)
    if row is None:
        raise fail(InvalidInput.of("contestId", "Обращение не найдено."))
    if row.status != ContestStatus.PENDING.value:
        raise fail(InvalidInput.of("contestId", "По этому обращению уже принято решение."))
    clean = (note or "").strip() or None
    if clean is not None and len(clean) > MAX_REASON:
        raise fail(InvalidInput.of("note", f"Комментарий — до {MAX_REASON} символов."))
    row.status = (ContestStatus.UPHELD if upheld else ContestStatus.REJECTED).value
    row.decided_at = now(uow.runtime)
    row.decided_by = staff_id
    row.decision_note = clean
    appointment = await session.get(Appointment, row.appointment_id)
    uow.audit(
        "booking.no_show_contest_decided",
        object_type="appointment",
        object_id=row.appointment_id,
        subject_id=row.patient_id,
        details={"contest_id": str(row.id), "status": row.status},
    )
    notifications.notify(
        uow,
        patient_id=row.patient_id,
        event="appointment.no_show_contest_decided",
        data={
            "upheld": upheld,
            "starts_at": appointment.slot_start if appointment else row.created_at,
            "clinic": appointment.mo_name if appointment else "",
            "note": clean or "",
        },
        dedupe_key=f"no_show_contest:{row.id}:decided",
    )
    return row


@dataclass(frozen=True)
class PastVisit:
    """A past visit for :func:`record_demo_no_shows` (the demo's history; a real one comes from the hub)."""

    start: datetime
    mo_id: str
    mo_name: str
    doctor_id: str
    doctor_name: str
    specialty_code: str
    specialty_name: str


async def record_demo_no_shows(runtime: Runtime, patient_id: uuid.UUID, visits: list[PastVisit]) -> int:
    """``seed-demo``: past appointments the clinic marked as no-shows, as :mod:`.sync` leaves them (once: a
    patient who has no-shows already gets none more). Returns how many were written."""
    async with runtime.sessionmaker() as session, session.begin():
        known = await session.scalar(
            select(Appointment.id).where(
                Appointment.patient_id == patient_id, Appointment.status == AppointmentState.NO_SHOW.value
            )
        )
        if known is not None:
            return 0
        for visit in visits:
            session.add(
                Appointment(
                    id=uuid.uuid4(), patient_id=patient_id, mo_id=visit.mo_id, mo_name=visit.mo_name,
                    doctor_id=visit.doctor_id, doctor_name=visit.doctor_name, specialty_code=visit.specialty_code,
                    specialty_name=visit.specialty_name, slot_id=f"demo-{uuid.uuid4().hex[:12]}",
                    slot_start=visit.start, slot_end=visit.start + timedelta(minutes=15), room=None, address=None,
                    hub_patient_id="demo", status=AppointmentState.NO_SHOW.value, channel=Channel.MOBILE.value,
                    source_type=5, actor_kind="patient", actor_id=str(patient_id), on_behalf=False,
                    created_at=visit.start - timedelta(days=7), updated_at=visit.start, status_synced_at=visit.start,
                )
            )  # fmt: skip
    return len(visits)
