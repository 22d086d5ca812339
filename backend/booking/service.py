"""Booking: search, hold, confirm, book, cancel, reschedule; statuses kept in step with the hub.

Who guards what
---------------
* The database: partial unique indexes (see :mod:`backend.booking.models`). A one-step booking inserts
  its appointment row (the claim: ``INSERT … WHERE no running hold … ON CONFLICT DO NOTHING``) *before*
  calling the hub, a hold does the same with its hold row, so concurrent attempts at one slot serialise
  on the index: the first goes on to the hub, the others wait and then fail with :class:`SlotTaken`.
  The appointment's audit row and the patient's notification are written by the same statement
  (:meth:`~backend.core.uow.UnitOfWork.claim`), and roll back with it if the hub then refuses.
* The hub: its own uniqueness per slot (SetAppointment answers SLOT_TAKEN).
* The cache's marker (Redis ``SET NX`` or in-process, with each process's own view in front) only turns
  away early the attempts at a slot that someone is booking right now or just booked; it is never what
  prevents a double booking.

Upstream effects and our transaction
------------------------------------
A booking accepted by the hub is registered with :func:`register_upstream`. If our transaction then
does not commit (a typed problem, an integrity error, a failed commit), :func:`compensation_scope`
writes an outbox row in a transaction of its own that cancels it upstream. A cancellation goes to the
hub only through the outbox (``cancel_pending`` meanwhile, retried with backoff while the hub is down).

Times: the hub's slot times are naive local times of the region; here they are aware UTC.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import contextvars
import functools
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, cast
from zoneinfo import ZoneInfo

import strawberry
import structlog
from sqlalchemy import Table, and_, bindparam, func, literal_column, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from backend.api.problems import InvalidInput, Problem, ProblemError
from backend.booking.cache import booking_cache
from backend.booking.models import LIVE_STATES, Appointment, AppointmentState, HoldStatus, SlotHold, is_live
from backend.core.context import ActorKind, Channel, RequestContext
from backend.core.db import GUID, HotStatement, detached, insert_or_skip, utcnow
from backend.core.uow import UnitOfWork
from backend.outbox import service as outbox
from backend.outbox.service import Envelope
from integrations.fer import (
    AppointmentNotFound,
    AppointmentStatus,
    BookingChannel,
    BookingHub,
    BookingResult,
    FerError,
    HubTransportError,
    PatientNotFound,
    ReferralRequired,
    Slot,
    SlotUnavailable,
)
from notifications import service as notifications

if TYPE_CHECKING:
    from backend.directory.models import Doctor, MedicalOrganisation
    from backend.directory.service import DoctorCard
    from backend.identity.service import PatientView
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

HOLD_TTL = timedelta(minutes=5)
SLOT_MARKER_TTL_S = 10.0
CLOCK_KEY = "booking.clock"
ADULT_AGE = 18
PEDIATRICIAN = "49"
THERAPIST = "76"

TOPIC_CANCEL_UPSTREAM = "booking.cancel_upstream"
TOPIC_COMPENSATE = "booking.compensate_upstream"

# What the patient reads about each channel; and whether the booking was made remotely (KPI 1.3 of the
# strategy, 001:341: «Доля записей на прием к врачу, совершенных гражданами дистанционно»). Remote means
# "without coming to the clinic" (001:833 «Отсутствие необходимости очного визита для записи на прием»):
# the app, EPGU and the 122 phone line are remote; an infomat stands in the clinic, so it is not.
REMOTE_CHANNELS: frozenset[str] = frozenset({Channel.MOBILE.value, Channel.EPGU.value, Channel.CALLCENTRE.value})

_SOURCE_OF_CHANNEL: dict[Channel, BookingChannel] = {
    Channel.MOBILE: BookingChannel.INTERNET,
    Channel.EPGU: BookingChannel.INTERNET,
    Channel.CALLCENTRE: BookingChannel.CALL_CENTRE,
    Channel.KIOSK: BookingChannel.INFOMAT,
    Channel.SYSTEM: BookingChannel.OTHER,
}

_STATE_OF_HUB: dict[AppointmentStatus, AppointmentState] = {
    AppointmentStatus.CANCELLED_BY_MO: AppointmentState.CANCELLED_BY_MO,
    AppointmentStatus.CANCELLED_BY_PATIENT: AppointmentState.CANCELLED_BY_PATIENT,
    AppointmentStatus.RESCHEDULED: AppointmentState.RESCHEDULED,
    AppointmentStatus.VISITED: AppointmentState.VISITED,
    AppointmentStatus.NO_SHOW: AppointmentState.NO_SHOW,
}


def source_of(channel: Channel) -> BookingChannel:
    """The hub's AppointmentSourceType for one of our channels."""
    return _SOURCE_OF_CHANNEL[channel]


# ---------------------------------------------------------------------------------------------- clock


def now(runtime: Runtime) -> datetime:
    """The booking domain's clock (aware UTC); tests inject one with :func:`set_clock`."""
    clock: Callable[[], datetime] | None = runtime.services.get(CLOCK_KEY)
    return clock() if clock is not None else utcnow()


def set_clock(runtime: Runtime, clock: Callable[[], datetime]) -> None:
    runtime.services[CLOCK_KEY] = clock


def _tz(runtime: Runtime) -> ZoneInfo:
    return _zone(runtime.settings.region_timezone)


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_utc(runtime: Runtime, local: datetime) -> datetime:
    """A hub time (naive, the region's local time) as aware UTC."""
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    return local.replace(tzinfo=_tz(runtime)).astimezone(UTC)


def local_day(runtime: Runtime, moment: datetime) -> date:
    return moment.astimezone(_tz(runtime)).date()


def hub(runtime: Runtime) -> BookingHub:
    from backend.integrations_registry import booking_hub

    return booking_hub(runtime)


# ---------------------------------------------------------------------------------------------- problems


@strawberry.type(description="Талон уже занят или недоступен.")
class SlotTaken(Problem):
    CODE: ClassVar[str] = "SLOT_TAKEN"
    MESSAGE: ClassVar[str] = "Этот талон уже занят. Выберите другое время."


@strawberry.type(description="Бронь талона не найдена.")
class HoldNotFound(Problem):
    CODE: ClassVar[str] = "HOLD_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Бронь талона не найдена. Выберите талон заново."


@strawberry.type(description="Время брони истекло.")
class HoldExpired(Problem):
    CODE: ClassVar[str] = "HOLD_EXPIRED"
    MESSAGE: ClassVar[str] = "Время брони талона истекло. Выберите талон заново."


@strawberry.type(description="Уже есть активная запись к врачу этой специальности.")
class SameSpecialtyActive(Problem):
    @classmethod
    def of(cls, specialty_name: str) -> SameSpecialtyActive:
        return cls(
            code="SAME_SPECIALTY_ACTIVE",
            message=(
                f"У вас уже есть активная запись к врачу этой специальности ({specialty_name}). "
                "Отмените или перенесите её, чтобы записаться снова."
            ),
        )


@strawberry.type(description="Возраст пациента не подходит этой медицинской организации или врачу.")
class AgeRestricted(Problem):
    @classmethod
    def of(cls, message: str) -> AgeRestricted:
        return cls(code="AGE_RESTRICTED", message=message)


@strawberry.type(description="Пациент не найден в медицинской организации.")
class PatientNotFoundAtClinic(Problem):
    CODE: ClassVar[str] = "PATIENT_NOT_FOUND_AT_CLINIC"
    MESSAGE: ClassVar[str] = (
        "Не удалось найти вас в медицинской организации по полису ОМС и дате рождения. "
        "Проверьте данные полиса в профиле или обратитесь в регистратуру."
    )


@strawberry.type(description="Нужно направление врача.")
class ReferralNeeded(Problem):
    CODE: ClassVar[str] = "REFERRAL_REQUIRED"
    MESSAGE: ClassVar[str] = "Запись к этому специалисту возможна только по направлению лечащего врача."


@strawberry.type(description="Сервис записи временно недоступен; можно повторить.")
class BookingServiceUnavailable(Problem):
    CODE: ClassVar[str] = "BOOKING_SERVICE_UNAVAILABLE"
    MESSAGE: ClassVar[str] = "Сервис записи к врачу временно недоступен. Попробуйте еще раз через несколько минут."


@strawberry.type(description="Запись на прием не найдена.")
class AppointmentMissing(Problem):
    CODE: ClassVar[str] = "APPOINTMENT_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Запись на прием не найдена."


@strawberry.type(description="Запись уже отменена, перенесена или прием состоялся.")
class AppointmentNotActive(Problem):
    CODE: ClassVar[str] = "APPOINTMENT_NOT_ACTIVE"
    MESSAGE: ClassVar[str] = "Эту запись уже нельзя изменить: она отменена, перенесена или прием уже прошел."


@strawberry.type(description="Ключ идемпотентности уже использован для другого запроса.")
class IdempotencyKeyReused(Problem):
    CODE: ClassVar[str] = "IDEMPOTENCY_KEY_REUSED"
    MESSAGE: ClassVar[str] = (
        "Этот ключ запроса уже использован для другого действия. Повторите действие с новым ключом."
    )


PROBLEM_TYPES: tuple[type[Problem], ...] = (
    SlotTaken,
    HoldNotFound,
    HoldExpired,
    SameSpecialtyActive,
    AgeRestricted,
    PatientNotFoundAtClinic,
    ReferralNeeded,
    BookingServiceUnavailable,
    AppointmentMissing,
    AppointmentNotActive,
    IdempotencyKeyReused,
    InvalidInput,
)
#: Problems that say "try again", never stored as an idempotent result.
TRANSIENT_CODES = frozenset({"BOOKING_SERVICE_UNAVAILABLE"})


def fail(problem: Problem) -> ProblemError:
    return ProblemError(problem)


# ---------------------------------------------------------------------------------------------- slot refs


@dataclass(frozen=True)
class SlotRef:
    """What a client sends back to hold or book a slot it found: opaque text for the client."""

    mo_id: str
    doctor_id: str
    slot_id: str
    day: date

    def encode(self) -> str:
        raw = "\x1f".join((self.mo_id, self.doctor_id, self.slot_id, self.day.isoformat())).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> SlotRef:
        """Raise ``ValueError`` for anything that is not a slot reference made here."""
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            mo_id, doctor_id, slot_id, day = raw.split("\x1f")
            if not (mo_id and doctor_id and slot_id):
                raise ValueError("bad slot reference")
            return cls(mo_id, doctor_id, slot_id, date.fromisoformat(day))
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise ValueError("bad slot reference") from exc


def parse_ref(value: str) -> SlotRef:
    try:
        return SlotRef.decode(value)
    except ValueError:
        raise fail(InvalidInput.of("slot", "Талон указан неверно. Выберите его заново из расписания.")) from None


# ---------------------------------------------------------------------------------------------- availability


def _slot_to_json(slot: Slot) -> dict[str, Any]:
    return {
        "id": slot.id,
        "mo_id": slot.mo_id,
        "doctor_id": slot.doctor_id,
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
        "room": slot.room,
        "address": slot.address,
        "num": slot.num,
    }


def _slot_from_json(data: dict[str, Any]) -> Slot:
    return Slot(
        id=data["id"],
        mo_id=data["mo_id"],
        doctor_id=data["doctor_id"],
        start=datetime.fromisoformat(data["start"]),
        end=datetime.fromisoformat(data["end"]),
        room=data["room"],
        address=data["address"],
        num=int(data["num"]),
    )


async def _cached_slots(runtime: Runtime, mo_id: str, doctor_id: str, start: date, end: date) -> list[dict[str, Any]]:
    booking_hub = hub(runtime)

    async def fetch() -> list[dict[str, Any]]:
        return [_slot_to_json(s) for s in await booking_hub.get_slots(mo_id, doctor_id, start, end)]

    key = f"slots:{mo_id}:{doctor_id}:{start.isoformat()}:{end.isoformat()}"
    rows: list[dict[str, Any]] = await booking_cache(runtime).get_or_fetch(key, fetch)
    return rows


DECODED_KEY = "booking.decoded_slots"


async def doctor_slots(runtime: Runtime, mo_id: str, doctor_id: str, start: date, end: date) -> list[Slot]:
    """Free slots of a doctor within [start, end] through the stale-while-revalidate cache.

    The list is decoded once per value the cache hands out (its near cache gives the same list object
    until the entry changes) and shared: callers must not change it."""
    raw = await _cached_slots(runtime, mo_id, doctor_id, start, end)
    decoded: dict[tuple[str, str, date, date], tuple[list[dict[str, Any]], list[Slot]]] = runtime.services.setdefault(
        DECODED_KEY, {}
    )
    key = (mo_id, doctor_id, start, end)
    known = decoded.get(key)
    if known is not None and known[0] is raw:
        return known[1]
    slots = [_slot_from_json(r) for r in raw]
    if len(decoded) >= booking_cache(runtime).LOCAL_MAX:
        decoded.clear()
    decoded[key] = (raw, slots)
    return slots


async def find_slot(runtime: Runtime, ref: SlotRef) -> Slot | None:
    """The slot behind a reference if the hub still lists it free (cache first, then the hub itself)."""
    try:
        for row in await _cached_slots(runtime, ref.mo_id, ref.doctor_id, ref.day, ref.day):
            if row["id"] == ref.slot_id:
                return _slot_from_json(row)
    except HubTransportError:
        raise fail(BookingServiceUnavailable.default()) from None
    except FerError:
        return None
    try:
        fresh = await hub(runtime).get_slots(ref.mo_id, ref.doctor_id, ref.day, ref.day)
    except HubTransportError:
        raise fail(BookingServiceUnavailable.default()) from None
    except FerError:
        return None
    return next((s for s in fresh if s.id == ref.slot_id), None)


# ---------------------------------------------------------------------------------------------- who acts


@dataclass(frozen=True)
class Acting:
    """Who makes a booking for whom, through what."""

    channel: Channel
    actor_kind: str
    actor_id: str | None
    on_behalf: bool

    @classmethod
    def of(cls, ctx: RequestContext, patient_id: uuid.UUID) -> Acting:
        actor = ctx.actor
        on_behalf = actor.kind is not ActorKind.PATIENT or actor.subject_id != patient_id
        return cls(actor.channel, actor.kind.value, actor.id, on_behalf)


# ---------------------------------------------------------------------------------------------- compensation


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


_PENDING: contextvars.ContextVar[_Pending | None] = contextvars.ContextVar("booking_pending_upstream", default=None)


def register_upstream(uow: UnitOfWork, booking: UpstreamBooking) -> None:
    """An upstream booking that must be cancelled again unless ``uow`` commits."""
    pending = _PENDING.get()
    if pending is None:
        raise RuntimeError(
            "booking mutations run inside compensation_scope() (the schema's @booking_mutation opens one)"
        )
    pending.items.append((uow, booking))


def after_rollback(uow: UnitOfWork, action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` (its own transaction) once ``uow`` has ended without committing.

    Not inside ``uow``: on SQLite a second writer would wait on the first; on PostgreSQL on its row locks.
    """
    pending = _PENDING.get()
    if pending is None:
        raise RuntimeError(
            "booking mutations run inside compensation_scope() (the schema's @booking_mutation opens one)"
        )
    pending.after_rollback.append((uow, action))


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


# ---------------------------------------------------------------------------------------------- rules


async def doctor_info(uow: UnitOfWork, mo_id: str, doctor_id: str) -> DoctorCard:
    from backend.directory.service import doctor_card

    card = await doctor_card(uow.runtime, uow.session, mo_id, doctor_id)
    if card is None:
        raise fail(InvalidInput.of("slot", "Врач не найден в справочнике медицинских организаций."))
    return card


async def load_patient(session: AsyncSession, patient_id: uuid.UUID) -> PatientView:
    from backend.identity.service import get_patient

    patient = await get_patient(session, patient_id)
    if patient is None:
        raise fail(PatientNotFoundAtClinic.default())
    return patient


def check_age(patient: PatientView, info: DoctorCard, visit_day: date) -> None:
    """Children's clinics and paediatricians see patients under 18; adults' clinics and therapists from 18."""
    age = patient.age_on(visit_day)
    kind = (info.mo_kind or "").lower()
    if kind == "children_polyclinic" and age >= ADULT_AGE:
        raise fail(
            AgeRestricted.of("Детская поликлиника принимает пациентов до 18 лет. Выберите взрослую поликлинику.")
        )
    if kind == "polyclinic" and age < ADULT_AGE:
        raise fail(
            AgeRestricted.of(
                "Взрослая поликлиника принимает пациентов с 18 лет. Для ребенка выберите детскую поликлинику."
            )
        )
    if info.specialty_code == PEDIATRICIAN and age >= ADULT_AGE:
        raise fail(AgeRestricted.of("Педиатр принимает пациентов до 18 лет. Запишитесь к терапевту."))
    if info.specialty_code == THERAPIST and age < ADULT_AGE:
        raise fail(AgeRestricted.of("Терапевт принимает пациентов с 18 лет. Запишите ребенка к педиатру."))


async def check_live_appointments(
    session: AsyncSession,
    patient_id: uuid.UUID,
    info: DoctorCard,
    *,
    slot: tuple[str, str] | None = None,
    except_id: uuid.UUID | None = None,
) -> None:
    """The patient has no live appointment of this specialty (but ``except_id``, the one being moved), and
    ``slot`` (mo, slot id) is not booked here: one statement, the same indexes the database guards with."""
    mo_id, slot_id = slot if slot is not None else ("", "")  # no slot: an id that never matches
    found = await _LIVE_CHECK.first(
        session,
        {
            "patient_id": patient_id,
            "specialty_code": info.specialty_code,
            "except_id": except_id or _NO_ID,
            "mo_id": mo_id,
            "slot_id": slot_id,
        },
    )
    same_specialty, slot_booked = found if found is not None else (False, False)
    if same_specialty:
        raise fail(SameSpecialtyActive.of(info.specialty_name))
    if slot_booked:
        raise fail(SlotTaken.default())


async def _flush_or(session: AsyncSession, problem: Callable[[IntegrityError], Problem]) -> None:
    """Flush; a unique-index violation becomes the typed problem (the whole unit of work then rolls back,
    so no savepoint is needed: nothing after it runs in this transaction)."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise fail(problem(exc)) from None


# ---------------------------------------------------------------------------------------------- statements
# The booking path's statements are built once and executed with parameters: building SQLAlchemy
# expressions per call cost more than running them (bench P2).

_HOLDS = cast("Table", SlotHold.__table__)
_APPOINTMENTS = cast("Table", Appointment.__table__)
_NO_ID = uuid.UUID(int=0)


_CLAIM_HOLD = HotStatement(insert_or_skip(_HOLDS).returning(_HOLDS.c.id))
_LIVE_CHECK = HotStatement(
    select(
        select(Appointment.id)
        .where(
            Appointment.patient_id == bindparam("patient_id"),
            Appointment.specialty_code == bindparam("specialty_code"),
            is_live(Appointment.status),
            Appointment.id != bindparam("except_id"),
        )
        .exists(),
        select(Appointment.id)
        .where(
            Appointment.mo_id == bindparam("mo_id"),
            Appointment.slot_id == bindparam("slot_id"),
            is_live(Appointment.status),
        )
        .exists(),
    )
)
# An appointment claims its slot: inserted unless the slot has a live appointment (the partial unique
# indexes: a concurrent claim waits for the other transaction, then skips) or a running hold other than
# ``except_hold`` (the caller's own). Nothing returned: refused; see _claim_appointment.
_CLAIM_APPOINTMENT = HotStatement(
    insert_or_skip(
        _APPOINTMENTS,
        where=~select(_HOLDS.c.id)
        .where(
            _HOLDS.c.mo_id == bindparam("mo_id"),
            _HOLDS.c.slot_id == bindparam("slot_id"),
            _HOLDS.c.status == literal_column(f"'{HoldStatus.HELD.value}'"),
            _HOLDS.c.expires_at > bindparam("created_at"),
            _HOLDS.c.id != bindparam("except_hold", type_=GUID),
        )
        .exists(),
    ).returning(_APPOINTMENTS.c.id)
)
_SET_HUB_IDS = HotStatement(
    update(_APPOINTMENTS)
    .where(_APPOINTMENTS.c.id == bindparam("appointment_id"))
    .values(slot_id=bindparam("hub_slot_id"), hub_patient_id=bindparam("hub_patient"))
)
_CONFIRM_HOLD = HotStatement(
    update(_HOLDS)
    .where(_HOLDS.c.id == bindparam("hold_id"))
    .values(status=HoldStatus.CONFIRMED.value, closed_at=bindparam("at"))
)


# ---------------------------------------------------------------------------------------------- holds


async def _expire_stale_holds(session: AsyncSession, at: datetime, *, mo_id: str, slot_id: str) -> None:
    await session.execute(
        update(SlotHold)
        .where(
            SlotHold.mo_id == mo_id,
            SlotHold.slot_id == slot_id,
            SlotHold.status == HoldStatus.HELD.value,
            SlotHold.expires_at <= at,
        )
        .values(status=HoldStatus.EXPIRED.value, closed_at=at)
        .execution_options(synchronize_session=False)
    )


async def _insert_hold(
    uow: UnitOfWork,
    patient_id: uuid.UUID,
    slot: Slot,
    info: DoctorCard,
    *,
    ttl: timedelta,
    reschedule_of: uuid.UUID | None = None,
) -> SlotHold:
    """Insert a live hold: the slot's serialisation point (a concurrent attempt waits on the unique index
    until this transaction ends, then finds the slot held or booked). A live hold in the way that has
    expired is closed as expired and the claim tried once more; one still running means SlotTaken."""
    runtime = uow.runtime
    at = now(runtime)
    acting = Acting.of(uow.ctx, patient_id)
    session = uow.session
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "patient_id": patient_id,
        "mo_id": slot.mo_id,
        "doctor_id": slot.doctor_id,
        "specialty_code": info.specialty_code,
        "slot_id": slot.id,
        "slot_start": to_utc(runtime, slot.start),
        "slot_end": to_utc(runtime, slot.end),
        "room": slot.room or None,
        "address": slot.address or None,
        "status": HoldStatus.HELD.value,
        "expires_at": at + ttl,
        "channel": acting.channel.value,
        "actor_kind": acting.actor_kind,
        "actor_id": acting.actor_id,
        "reschedule_of_id": reschedule_of,
        "created_at": at,
        "closed_at": None,
    }
    if await _CLAIM_HOLD.first(session, values) is None:
        await _expire_stale_holds(session, at, mo_id=slot.mo_id, slot_id=slot.id)
        if await _CLAIM_HOLD.first(session, values) is None:
            raise fail(SlotTaken.default())
    return detached(SlotHold, values)


async def _prepare(
    uow: UnitOfWork,
    patient_id: uuid.UUID,
    ref: SlotRef,
    *,
    except_appointment: uuid.UUID | None = None,
    checked: bool = True,
) -> tuple[Slot, DoctorCard, PatientView]:
    """The slot behind ``ref`` (still free at the hub), its doctor's card and the patient, with the rules
    checked: age, and (``checked``) no live appointment in the way. A caller whose next step is the
    appointment's claim passes ``checked=False``: the claim finds the same conflicts in its own statement."""
    session = uow.session
    info = await doctor_info(uow, ref.mo_id, ref.doctor_id)
    patient = await load_patient(session, patient_id)
    check_age(patient, info, ref.day)
    if checked:
        await check_live_appointments(
            session, patient_id, info, slot=(ref.mo_id, ref.slot_id), except_id=except_appointment
        )
    slot = await find_slot(uow.runtime, ref)
    if slot is None:
        raise fail(SlotTaken.default("Этот талон уже недоступен. Выберите другое время."))
    if to_utc(uow.runtime, slot.start) <= now(uow.runtime):
        raise fail(SlotTaken.default("Время этого талона уже прошло. Выберите другое время."))
    return slot, info, patient


async def hold_slot(uow: UnitOfWork, patient_id: uuid.UUID, ref: SlotRef, *, ttl: timedelta = HOLD_TTL) -> SlotHold:
    """Hold a slot for the patient for ``ttl`` (one live hold per slot: the database decides)."""
    slot, info, _ = await _prepare(uow, patient_id, ref)
    hold = await _insert_hold(uow, patient_id, slot, info, ttl=ttl)
    uow.audit("booking.hold", object_type="slot_hold", object_id=hold.id, subject_id=patient_id)
    return hold


async def release_hold(uow: UnitOfWork, patient_id: uuid.UUID, hold_id: uuid.UUID) -> SlotHold:
    hold = await uow.session.get(SlotHold, hold_id)
    if hold is None or hold.patient_id != patient_id:
        raise fail(HoldNotFound.default())
    if hold.status == HoldStatus.HELD.value:
        hold.status = HoldStatus.RELEASED.value
        hold.closed_at = now(uow.runtime)
    uow.audit("booking.hold_released", object_type="slot_hold", object_id=hold.id, subject_id=patient_id)
    return hold


async def _close_hold_now(runtime: Runtime, hold_id: uuid.UUID, status: HoldStatus) -> None:
    """Close a committed hold in a transaction of its own (the caller's work is about to roll back)."""
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(SlotHold)
            .where(SlotHold.id == hold_id, SlotHold.status == HoldStatus.HELD.value)
            .values(status=status.value, closed_at=now(runtime))
            .execution_options(synchronize_session=False)
        )


def remaining_seconds(runtime: Runtime, hold: SlotHold) -> int:
    if hold.status != HoldStatus.HELD.value:
        return 0
    return max(0, math.ceil((hold.expires_at - now(runtime)).total_seconds()))


# ---------------------------------------------------------------------------------------------- the hub


def _hub_patient_key(patient_id: uuid.UUID, mo_id: str) -> str:
    return f"idpat:{patient_id}:{mo_id}"


async def remembered_hub_patient(runtime: Runtime, patient_id: uuid.UUID, mo_id: str) -> str | None:
    """The patient's IdPat in the MO if a CheckPatient of the last day is remembered."""
    return await booking_cache(runtime).backend.get(_hub_patient_key(patient_id, mo_id)) or None


async def identify(runtime: Runtime, patient: PatientView, mo_id: str, *, fresh: bool = False) -> str:
    """The hub's IdPat of the patient in the MO (CheckPatient; remembered for a day)."""
    cache = booking_cache(runtime).backend
    key = _hub_patient_key(patient.id, mo_id)
    if not fresh:
        known = await remembered_hub_patient(runtime, patient.id, mo_id)
        if known:
            return known
    if not patient.oms_policy:
        raise fail(PatientNotFoundAtClinic.default())
    check = await hub(runtime).check_patient(
        mo_id,
        oms_policy=patient.oms_policy,
        birth_date=patient.birth_date,
        last_name=patient.last_name,
        first_name=patient.first_name,
        middle_name=patient.middle_name,
    )
    await cache.set(key, check.patient_id, 86400)
    return check.patient_id


def _problem_of(exc: FerError) -> Problem:
    if isinstance(exc, SlotUnavailable):
        return SlotTaken.default()
    if isinstance(exc, PatientNotFound):
        return PatientNotFoundAtClinic.default()
    if isinstance(exc, ReferralRequired):
        return ReferralNeeded.default()
    if isinstance(exc, AppointmentNotFound):
        return AppointmentNotActive.default()
    return BookingServiceUnavailable.default()


async def _identify(uow: UnitOfWork, patient: PatientView, mo_id: str, *, fresh: bool = False) -> str:
    """:func:`identify` with the hub's failures as typed problems."""
    try:
        return await identify(uow.runtime, patient, mo_id, fresh=fresh)
    except HubTransportError as exc:
        log.warning("booking.hub_transport_error", mo_id=mo_id, error=type(exc).__name__)
        raise fail(BookingServiceUnavailable.default()) from None
    except FerError as exc:
        raise fail(_problem_of(exc)) from None


async def _book_upstream(
    uow: UnitOfWork, patient: PatientView, slot: Slot, hub_patient: str
) -> tuple[str, BookingResult]:
    """SetAppointment (once more after identifying again if the hub forgot the patient's IdPat); registers
    the upstream booking for compensation. Raises typed problems. Returns the IdPat it booked with."""
    booking_hub = hub(uow.runtime)
    source = source_of(uow.ctx.actor.channel)
    try:
        try:
            result = await booking_hub.book(slot.mo_id, hub_patient, slot.id, channel=source)
        except PatientNotFound:  # a remembered IdPat the hub forgot: identify once more
            hub_patient = await identify(uow.runtime, patient, slot.mo_id, fresh=True)
            result = await booking_hub.book(slot.mo_id, hub_patient, slot.id, channel=source)
    except HubTransportError as exc:
        # The reply is lost, not necessarily the booking: cancel it in case the hub made it.
        register_upstream(uow, UpstreamBooking(slot.mo_id, hub_patient, slot.id, uncertain=True))
        log.warning("booking.hub_transport_error", slot=slot.id, error=type(exc).__name__)
        raise fail(BookingServiceUnavailable.default()) from None
    except FerError as exc:
        raise fail(_problem_of(exc)) from None
    register_upstream(uow, UpstreamBooking(slot.mo_id, hub_patient, result.appointment_id))
    return hub_patient, result


def _appointment_values(
    uow: UnitOfWork,
    patient_id: uuid.UUID,
    slot: Slot,
    info: DoctorCard,
    *,
    hub_patient: str,
    hold_id: uuid.UUID | None = None,
    rescheduled_from: uuid.UUID | None = None,
) -> dict[str, Any]:
    runtime = uow.runtime
    at = now(runtime)
    acting = Acting.of(uow.ctx, patient_id)
    return {
        "id": uuid.uuid4(),
        "patient_id": patient_id,
        "mo_id": slot.mo_id,
        "mo_name": info.mo_name,
        "doctor_id": slot.doctor_id,
        "doctor_name": info.doctor_name,
        "specialty_code": info.specialty_code,
        "specialty_name": info.specialty_name,
        "slot_id": slot.id,  # the hub's IdAppointment: the slot's id is the appointment's
        "slot_start": to_utc(runtime, slot.start),
        "slot_end": to_utc(runtime, slot.end),
        "room": slot.room or None,
        "address": slot.address or info.mo_address,
        "hub_patient_id": hub_patient,
        "status": AppointmentState.BOOKED.value,
        "channel": acting.channel.value,
        "source_type": int(source_of(acting.channel)),
        "actor_kind": acting.actor_kind,
        "actor_id": acting.actor_id,
        "on_behalf": acting.on_behalf,
        "hold_id": hold_id,
        "rescheduled_from_id": rescheduled_from,
        "replaced_by_id": None,
        "created_at": at,
        "updated_at": at,
        "cancelled_at": None,
        "status_synced_at": None,
    }


async def _claim_appointment(
    uow: UnitOfWork, values: dict[str, Any], info: DoctorCard, *, except_appointment: uuid.UUID | None = None
) -> Appointment:
    """Insert the appointment (one statement, see ``_CLAIM_APPOINTMENT``) with its audit row and the
    patient's notification, which are written only with it (:meth:`UnitOfWork.claim`: on PostgreSQL the
    three are one round trip), or raise what stood in the way: a live appointment of the same specialty,
    or the slot booked or held by someone else (SlotTaken)."""
    session = uow.session
    if session.dirty:
        await session.flush()  # pending ORM changes first (a rescheduled appointment leaving the live set)
    appointment = detached(Appointment, values)
    uow.audit(
        "booking.appointment_booked",
        object_type="appointment",
        object_id=appointment.id,
        subject_id=appointment.patient_id,
        details={"slot_id": appointment.slot_id, "mo_id": appointment.mo_id, "channel": appointment.channel},
    )
    emit_event(uow, "appointment.booked", appointment)
    hold_id = values["hold_id"]
    if await uow.claim(_CLAIM_APPOINTMENT, {**values, "except_hold": hold_id or _NO_ID}) is None:
        await check_live_appointments(
            session,
            values["patient_id"],
            info,
            slot=(values["mo_id"], values["slot_id"]),
            except_id=except_appointment,
        )
        raise fail(SlotTaken.default())
    if hold_id is not None:
        await _CONFIRM_HOLD.rows(session, {"hold_id": hold_id, "at": values["created_at"]})
    return appointment


async def _booked(uow: UnitOfWork, appointment: Appointment, hub_patient: str, result: BookingResult) -> Appointment:
    """The claimed appointment as the hub booked it: the ids the hub answered with, if they differ from
    those it was claimed with, on record (and a hub id of another slot in the audit log)."""
    if (result.appointment_id, hub_patient) != (appointment.slot_id, appointment.hub_patient_id):
        await _SET_HUB_IDS.rows(
            uow.session,
            {"appointment_id": appointment.id, "hub_slot_id": result.appointment_id, "hub_patient": hub_patient},
        )
        if result.appointment_id != appointment.slot_id:
            uow.audit(
                "booking.appointment_renumbered",
                object_type="appointment",
                object_id=appointment.id,
                subject_id=appointment.patient_id,
                details={"slot_id": result.appointment_id, "claimed_slot_id": appointment.slot_id},
            )
        set_committed_value(appointment, "slot_id", result.appointment_id)
        set_committed_value(appointment, "hub_patient_id", hub_patient)
    return appointment


# ---------------------------------------------------------------------------------------------- confirm / book


async def confirm_hold(uow: UnitOfWork, patient_id: uuid.UUID, hold_id: uuid.UUID) -> Appointment:
    """Book the held slot at the hub; on a refusal the hold is released (and stays released)."""
    runtime = uow.runtime
    session = uow.session
    hold = await session.get(SlotHold, hold_id)
    if hold is None or hold.patient_id != patient_id or hold.status != HoldStatus.HELD.value:
        raise fail(HoldNotFound.default())
    if hold.expires_at <= now(runtime):
        after_rollback(uow, lambda: _close_hold_now(runtime, hold_id, HoldStatus.EXPIRED))
        raise fail(HoldExpired.default())
    try:
        info = await doctor_info(uow, hold.mo_id, hold.doctor_id)
        patient = await load_patient(session, patient_id)
        await check_live_appointments(session, patient_id, info, except_id=hold.reschedule_of_id)
        slot = _slot_of_hold(runtime, hold)
        hub_patient = await _identify(uow, patient, slot.mo_id)
        hub_patient, result = await _book_upstream(uow, patient, slot, hub_patient)
    except ProblemError:
        after_rollback(uow, lambda: _close_hold_now(runtime, hold_id, HoldStatus.RELEASED))
        raise
    values = _appointment_values(uow, patient_id, slot, info, hub_patient=hub_patient, hold_id=hold.id)
    appointment = await _claim_appointment(uow, values, info, except_appointment=hold.reschedule_of_id)
    set_committed_value(hold, "status", HoldStatus.CONFIRMED.value)
    set_committed_value(hold, "closed_at", values["created_at"])
    return await _booked(uow, appointment, hub_patient, result)


def _slot_of_hold(runtime: Runtime, hold: SlotHold) -> Slot:
    tz = _tz(runtime)
    return Slot(
        id=hold.slot_id,
        mo_id=hold.mo_id,
        doctor_id=hold.doctor_id,
        start=hold.slot_start.astimezone(tz).replace(tzinfo=None),
        end=hold.slot_end.astimezone(tz).replace(tzinfo=None),
        room=hold.room or "",
        address=hold.address or "",
        num=0,
    )


@contextlib.asynccontextmanager
async def slot_marker(
    runtime: Runtime, mo_id: str, slot_id: str, *, patient_id: uuid.UUID | None = None
) -> AsyncIterator[str | None]:
    """Fail fast while another request books this slot (never the guard: the database is). Yields the
    patient's remembered IdPat in the MO (:func:`remembered_hub_patient`), read in the same round trip.

    A failed attempt lets the marker go at once; a booking keeps it until it expires
    (:data:`SLOT_MARKER_TTL_S`): the slot is taken, so the attempts it turns away meanwhile would be
    refused anyway, and they are turned away before our transaction has even committed. The process
    keeps its own view of its markers (:class:`~backend.booking.cache.LocalMarkers`) in front of Redis."""
    cache = booking_cache(runtime)
    backend, mine = cache.backend, cache.markers
    key = f"slot:{mo_id}:{slot_id}"
    if mine.busy(key):  # held or refused in this process a moment ago: no need to ask Redis
        raise fail(SlotTaken.default())
    mine.hold(key, SLOT_MARKER_TTL_S)
    try:
        if patient_id is None:
            token, hub_patient = await backend.acquire(key, SLOT_MARKER_TTL_S), None
        else:
            token, hub_patient = await backend.acquire_and_get(
                key, SLOT_MARKER_TTL_S, _hub_patient_key(patient_id, mo_id)
            )
    except BaseException:
        mine.forget(key)
        raise
    if token is None:
        mine.hold(key, mine.REFUSED_MEMORY_S)
        raise fail(SlotTaken.default())
    try:
        yield hub_patient or None
    except BaseException:
        mine.forget(key)
        await backend.release(key, token)
        raise


@contextlib.asynccontextmanager
async def _remembered(runtime: Runtime, patient_id: uuid.UUID, mo_id: str) -> AsyncIterator[str | None]:
    yield await remembered_hub_patient(runtime, patient_id, mo_id)


async def book_now(uow: UnitOfWork, patient_id: uuid.UUID, ref: SlotRef, *, use_marker: bool = True) -> Appointment:
    """One step (operator, kiosk): the appointment row claims the slot before the hub is asked (concurrent
    attempts serialise on its unique index), then SetAppointment; a refusal rolls the claim back."""
    if use_marker:
        marker = slot_marker(uow.runtime, ref.mo_id, ref.slot_id, patient_id=patient_id)
    else:
        marker = _remembered(uow.runtime, patient_id, ref.mo_id)
    async with marker as remembered:
        slot, info, patient = await _prepare(uow, patient_id, ref, checked=False)
        # A patient the hub does not know yet is identified (CheckPatient, a read) before the claim: the
        # claim then finds every conflict in its own statement. A refused claim makes no SetAppointment.
        known = remembered or await _identify(uow, patient, slot.mo_id, fresh=True)
        values = _appointment_values(uow, patient_id, slot, info, hub_patient=known)
        appointment = await _claim_appointment(uow, values, info)
        hub_patient, result = await _book_upstream(uow, patient, slot, known)
        return await _booked(uow, appointment, hub_patient, result)


# ---------------------------------------------------------------------------------------------- cancel / reschedule


async def _own_appointment(session: AsyncSession, patient_id: uuid.UUID, appointment_id: uuid.UUID) -> Appointment:
    appointment = await session.get(Appointment, appointment_id)
    if appointment is None or appointment.patient_id != patient_id:
        raise fail(AppointmentMissing.default())
    return appointment


async def cancel(uow: UnitOfWork, patient_id: uuid.UUID, appointment_id: uuid.UUID) -> Appointment:
    """Cancel: ``cancel_pending`` now; the refusal reaches the hub through the outbox."""
    appointment = await _own_appointment(uow.session, patient_id, appointment_id)
    if appointment.status == AppointmentState.CANCEL_PENDING.value:
        return appointment
    if appointment.status != AppointmentState.BOOKED.value or appointment.slot_start <= now(uow.runtime):
        raise fail(AppointmentNotActive.default())
    appointment.status = AppointmentState.CANCEL_PENDING.value
    appointment.updated_at = now(uow.runtime)
    uow.emit(TOPIC_CANCEL_UPSTREAM, {"appointment_id": str(appointment.id)})
    uow.audit("booking.appointment_cancel", object_type="appointment", object_id=appointment.id, subject_id=patient_id)
    return appointment


async def reschedule(uow: UnitOfWork, patient_id: uuid.UUID, appointment_id: uuid.UUID, ref: SlotRef) -> Appointment:
    """Move an appointment: the new slot is booked at the hub first; only then is the old one replaced
    (and cancelled at the hub through the outbox). A failure at any step leaves the old one as it was."""
    session = uow.session
    old = await _own_appointment(session, patient_id, appointment_id)
    if old.status != AppointmentState.BOOKED.value or old.slot_start <= now(uow.runtime):
        raise fail(AppointmentNotActive.default())
    if (old.mo_id, old.slot_id) == (ref.mo_id, ref.slot_id):
        raise fail(InvalidInput.of("slot", "Выберите другое время: это время уже ваше."))
    async with slot_marker(uow.runtime, ref.mo_id, ref.slot_id):
        slot, info, patient = await _prepare(uow, patient_id, ref, except_appointment=old.id)
        hold = await _insert_hold(uow, patient_id, slot, info, ttl=HOLD_TTL, reschedule_of=old.id)
        hub_patient = await _identify(uow, patient, slot.mo_id)
        hub_patient, result = await _book_upstream(uow, patient, slot, hub_patient)
        # The old appointment leaves the live set first, so the specialty index admits the new one.
        at = now(uow.runtime)
        old.status = AppointmentState.RESCHEDULED.value
        old.updated_at = at
        await _flush_or(session, lambda _exc: AppointmentNotActive.default())
        values = _appointment_values(
            uow, patient_id, slot, info, hub_patient=hub_patient, hold_id=hold.id, rescheduled_from=old.id
        )
        new = await _booked(
            uow, await _claim_appointment(uow, values, info, except_appointment=old.id), hub_patient, result
        )
        old.replaced_by_id = new.id
        uow.emit(TOPIC_CANCEL_UPSTREAM, {"appointment_id": str(old.id), "final": AppointmentState.RESCHEDULED.value})
        uow.audit(
            "booking.appointment_rescheduled",
            object_type="appointment",
            object_id=old.id,
            subject_id=patient_id,
            details={"new_appointment_id": str(new.id)},
        )
        return new


# ---------------------------------------------------------------------------------------------- outbox handlers


def emit_event(uow: UnitOfWork, event: str, appointment: Appointment, *, urgent: bool = False) -> None:
    """Tell the patient through notifications (events ``appointment.booked`` / ``appointment.cancelled``),
    in the caller's unit of work: nothing is sent unless it commits."""
    data: dict[str, Any] = {
        "specialty": appointment.specialty_name,
        "doctor": appointment.doctor_name,
        "clinic": appointment.mo_name,
        "starts_at": appointment.slot_start,
        "cabinet": appointment.room or "",
    }
    if event == "appointment.cancelled":
        data = {
            "specialty": appointment.specialty_name,
            "starts_at": appointment.slot_start,
            "by_clinic": appointment.status == AppointmentState.CANCELLED_BY_MO.value,
        }
    dedupe_key = f"appointment:{appointment.id}:{event.rsplit('.', 1)[-1]}"
    notifications.notify(
        uow, patient_id=appointment.patient_id, event=event, data=data, urgent=urgent, dedupe_key=dedupe_key
    )


@outbox.handler(TOPIC_CANCEL_UPSTREAM)
async def _on_cancel_upstream(envelope: Envelope, runtime: Runtime) -> None:
    """CreateClaimForRefusal, then the final status; a transport error is raised (the outbox retries)."""
    appointment_id = uuid.UUID(envelope.payload["appointment_id"])
    final = envelope.payload.get("final", AppointmentState.CANCELLED_BY_PATIENT.value)
    async with runtime.sessionmaker() as session:
        appointment = await session.get(Appointment, appointment_id)
    if appointment is None:
        return
    # AppointmentNotFound: already cancelled there (a repeat after a lost reply, or the clinic cancelled it).
    with contextlib.suppress(AppointmentNotFound):
        await hub(runtime).cancel(appointment.mo_id, appointment.hub_patient_id, appointment.slot_id)
    at = now(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(Appointment)
            .where(Appointment.id == appointment_id, Appointment.status == AppointmentState.CANCEL_PENDING.value)
            .values(status=final, cancelled_at=at, updated_at=at)
            .execution_options(synchronize_session=False)
        )
        if final == AppointmentState.RESCHEDULED.value:
            await session.execute(
                update(Appointment)
                .where(Appointment.id == appointment_id, Appointment.cancelled_at.is_(None))
                .values(cancelled_at=at)
                .execution_options(synchronize_session=False)
            )


COMPENSATION_NOT_FOUND_RETRIES = 3


@outbox.handler(TOPIC_COMPENSATE)
async def _on_compensate(envelope: Envelope, runtime: Runtime) -> None:
    """Cancel at the hub a booking our database did not keep."""
    p = envelope.payload
    try:
        await hub(runtime).cancel(p["mo_id"], p["hub_patient_id"], p["slot_id"])
    except AppointmentNotFound:
        # After a timeout the hub may still be writing the booking: look again a few times.
        if p.get("uncertain") and envelope.attempt < COMPENSATION_NOT_FOUND_RETRIES:
            raise
    log.info("booking.compensated", slot=p["slot_id"], mo_id=p["mo_id"])


# ---------------------------------------------------------------------------------------------- reads


async def appointments_of(
    session: AsyncSession,
    patient_id: uuid.UUID,
    *,
    at: datetime,
    upcoming: bool | None = None,
    limit: int = 100,
) -> list[Appointment]:
    """The patient's appointments: upcoming (live, not yet started) by time, or past/closed newest first."""
    query = select(Appointment).where(Appointment.patient_id == patient_id)
    if upcoming is True:
        query = query.where(Appointment.status.in_(LIVE_STATES), Appointment.slot_end > at).order_by(
            Appointment.slot_start
        )
    elif upcoming is False:
        query = query.where((Appointment.slot_end <= at) | Appointment.status.not_in(LIVE_STATES)).order_by(
            Appointment.slot_start.desc()
        )
    else:
        query = query.order_by(Appointment.slot_start.desc())
    return list(await session.scalars(query.limit(limit)))


async def live_holds_and_bookings(
    session: AsyncSession, runtime: Runtime, at: datetime, slots: Sequence[Slot]
) -> set[tuple[str, str]]:
    """The (mo, slot) held or booked here among the doctors and time window of ``slots`` (to hide them from
    search results): a superset of those of ``slots`` that are taken, in one statement.

    Asked by the slots' doctors and time window, not by their ids: a week of one specialty is thousands
    of slots, and binding thousands of ids cost more than the query itself (bench P3)."""
    if not slots:
        return set()
    mos = {s.mo_id for s in slots}
    doctors = {s.doctor_id for s in slots}
    first = to_utc(runtime, min(s.start for s in slots))
    last = to_utc(runtime, max(s.start for s in slots))
    held = select(SlotHold.mo_id, SlotHold.slot_id).where(
        SlotHold.mo_id.in_(mos),
        SlotHold.doctor_id.in_(doctors),
        SlotHold.slot_start.between(first, last),
        SlotHold.status == HoldStatus.HELD.value,
        SlotHold.expires_at > at,
    )
    booked = select(Appointment.mo_id, Appointment.slot_id).where(
        Appointment.mo_id.in_(mos),
        Appointment.doctor_id.in_(doctors),
        Appointment.slot_start.between(first, last),
        is_live(Appointment.status),
    )
    # What else it finds in that window (a slot the hub no longer lists) is harmless to the caller.
    return {(m, s) for m, s in await session.execute(union_all(held, booked))}


# ---------------------------------------------------------------------------------------------- search


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


@dataclass
class DoctorAvailability:
    mo: MedicalOrganisation
    doctor: Doctor
    specialty_code: str
    specialty_name: str
    slots: list[Slot]
    own_clinic: bool
    distance_km: float | None


@dataclass
class SearchResult:
    items: list[DoctorAvailability]
    partial: bool  # some clinics did not answer in time (served on a later search from the cache)


SEARCH_DEADLINE_S = 2.0
MAX_CLINICS = 30
MAX_CONCURRENT_FETCHES = 16


async def own_clinic_of(session: AsyncSession, patient_id: uuid.UUID, specialty_code: str | None = None) -> str | None:
    """The clinic the patient uses: of their latest appointment with a first-level doctor, else any latest.

    Attachment (прикрепление) is not part of this service yet; a client that knows it passes ``own_mo_id``.
    """
    base = select(Appointment.mo_id).where(Appointment.patient_id == patient_id).order_by(Appointment.created_at.desc())
    first_level = await session.scalar(base.where(Appointment.specialty_code.in_(("76", "49", "39"))).limit(1))
    return first_level or await session.scalar(base.limit(1))


async def search(
    runtime: Runtime,
    session: AsyncSession,
    *,
    specialty_code: str,
    date_from: date,
    date_to: date,
    own_mo_id: str | None = None,
    mo_id: str | None = None,
    doctor_id: str | None = None,
    near: tuple[float, float] | None = None,
    radius_km: float | None = None,
    max_clinics: int = MAX_CLINICS,
    deadline_s: float = SEARCH_DEADLINE_S,
) -> SearchResult:
    """Free slots of a specialty: the own clinic first, then the region's other clinics (by distance
    when ``near`` is given, else by name); one doctor or one clinic when asked. Clinics whose availability
    does not arrive within ``deadline_s`` are left out of this answer (``partial``); their fetch goes on
    and fills the cache."""
    from backend.directory import service as directory

    offer = await directory.offering(runtime, session, specialty_code)
    organisations = list(offer.organisations)
    if mo_id is not None:
        organisations = [o for o in organisations if o.upstream_id == mo_id]

    def distance(o: MedicalOrganisation) -> float | None:
        if near is None or o.latitude is None or o.longitude is None:
            return None
        return haversine_km(near[0], near[1], o.latitude, o.longitude)

    distances = {o.id: distance(o) for o in organisations}
    if near is not None and radius_km is not None:
        organisations = [o for o in organisations if (km := distances[o.id]) is not None and km <= radius_km]
    organisations.sort(
        key=lambda o: (
            o.upstream_id != own_mo_id,
            distances[o.id] if distances[o.id] is not None else math.inf,
            o.name,
        )
    )
    organisations = organisations[:max_clinics]
    doctors, specialty = offer.doctors, offer.specialty
    pairs = [
        (o, d) for o in organisations for d in doctors.get(o.id, []) if doctor_id is None or d.upstream_id == doctor_id
    ]

    semaphore = asyncio.Semaphore(MAX_CONCURRENT_FETCHES)

    async def fetch(o: MedicalOrganisation, d: Doctor) -> list[Slot]:
        async with semaphore:
            return await doctor_slots(runtime, o.upstream_id, d.upstream_id, date_from, date_to)

    tasks = [asyncio.ensure_future(fetch(o, d)) for o, d in pairs]
    partial = False
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=deadline_s)
        partial = bool(pending)
        cache = booking_cache(runtime)
        for task in pending:  # let them finish in the background and warm the cache
            cache._tasks.add(task)
            task.add_done_callback(cache._tasks.discard)
    at = now(runtime)
    # Slot times are the region's naive local times; Russia's zones keep no daylight saving time (since
    # 2014), so local times order as UTC ones do, and one conversion of "now" replaces one per slot.
    at_local = at.astimezone(_tz(runtime)).replace(tzinfo=None)
    results: list[tuple[MedicalOrganisation, Doctor, list[Slot]]] = []
    for (o, d), task in zip(pairs, tasks, strict=True):
        if not task.done() or task.cancelled() or task.exception() is not None:
            partial = partial or (task.done() and not task.cancelled() and task.exception() is not None)
            continue
        free = [s for s in task.result() if s.start > at_local]
        results.append((o, d, free))
    taken = await live_holds_and_bookings(session, runtime, at, [s for _, _, slots in results for s in slots])
    items = [
        DoctorAvailability(
            mo=o,
            doctor=d,
            specialty_code=specialty_code,
            specialty_name=specialty.name if specialty else specialty_code,
            slots=[s for s in slots if (s.mo_id, s.id) not in taken] if taken else slots,
            own_clinic=o.upstream_id == own_mo_id,
            distance_km=distances[o.id],
        )
        for o, d, slots in results
    ]
    return SearchResult(items=items, partial=partial)


@dataclass
class NearestSlot:
    mo: MedicalOrganisation
    doctor: Doctor
    slot: Slot
    distance_km: float | None


async def nearest_free_slots(
    runtime: Runtime,
    session: AsyncSession,
    *,
    specialty_code: str,
    lat: float,
    lon: float,
    radius_km: float = 25.0,
    days: int = 14,
    limit: int = 10,
) -> tuple[list[NearestSlot], bool]:
    """The earliest free slot of each nearby clinic (within ``radius_km``), earliest first."""
    today = local_day(runtime, now(runtime))
    result = await search(
        runtime,
        session,
        specialty_code=specialty_code,
        date_from=today,
        date_to=today + timedelta(days=days - 1),
        near=(lat, lon),
        radius_km=radius_km,
        max_clinics=10,
    )
    best: dict[str, NearestSlot] = {}
    for item in result.items:
        if not item.slots:
            continue
        first = min(item.slots, key=lambda s: s.start)
        current = best.get(item.mo.upstream_id)
        if current is None or first.start < current.slot.start:
            best[item.mo.upstream_id] = NearestSlot(item.mo, item.doctor, first, item.distance_km)
    ordered = sorted(best.values(), key=lambda n: (n.slot.start, n.distance_km or 0.0))
    return ordered[:limit], result.partial


# ---------------------------------------------------------------------------------------------- KPI


@dataclass(frozen=True)
class ChannelCount:
    channel: str
    count: int
    remote: bool


@dataclass(frozen=True)
class RemoteShare:
    start: datetime
    end: datetime
    total: int
    remote: int
    share: float | None  # remote / total; None without bookings
    share_with_kiosk: float | None  # if infomats counted as remote
    by_channel: list[ChannelCount]
    target: float = 0.63


async def remote_booking_share(session: AsyncSession, start: datetime, end: datetime) -> RemoteShare:
    """«Доля записей на прием к врачу, совершенных гражданами дистанционно» over bookings made here in
    [start, end): every appointment row is one booking act (a later cancellation does not undo it)."""
    rows = await session.execute(
        select(Appointment.channel, func.count())
        .where(and_(Appointment.created_at >= start, Appointment.created_at < end))
        .group_by(Appointment.channel)
    )
    counts = {channel: int(n) for channel, n in rows}
    total = sum(counts.values())
    remote = sum(n for c, n in counts.items() if c in REMOTE_CHANNELS)
    kiosk = counts.get(Channel.KIOSK.value, 0)
    by_channel = [ChannelCount(c, counts.get(c, 0), c in REMOTE_CHANNELS) for c in [ch.value for ch in Channel]]
    return RemoteShare(
        start=start,
        end=end,
        total=total,
        remote=remote,
        share=remote / total if total else None,
        share_with_kiosk=(remote + kiosk) / total if total else None,
        by_channel=by_channel,
    )


# ---------------------------------------------------------------------------------------------- status sync


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
    return report


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
