"""Offers of freed slots: the line's next gets a hold; accept, decline, expiry (rules: the package docstring)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import and_, exists, or_, select, update

from backend.booking import service as booking
from backend.booking.problems import BookingServiceUnavailable, SlotTaken
from backend.booking.problems import ProblemError as BookingProblemError
from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.outbox.service import Envelope
from backend.waitlist.models import (
    EntryStatus,
    OfferStatus,
    WaitlistEntry,
    WaitlistOffer,
)
from backend.waitlist.problems import (
    OfferClosed,
    OfferExpired,
    OfferNotFound,
    fail,
)
from backend.waitlist.service.base import (
    CANDIDATES,
    HOLD_GRACE,
    OFFER_EVENT,
    OFFER_TTL,
    TOPIC_OFFER_NEXT,
    TOPIC_PUBLISH,
)
from notifications import service as notifications
from notifications.channels import InboxEvent

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

# ---------------------------------------------------------------------------------------------- offers


def _line(freed: booking.FreedSlot, day: date) -> Any:
    """The active entries that may take ``freed``, in the line's order (the module docstring, rule 1)."""
    tried = exists().where(
        WaitlistOffer.entry_id == WaitlistEntry.id,
        WaitlistOffer.mo_id == freed.mo_id,
        WaitlistOffer.slot_id == freed.slot_id,
    )
    return (
        select(WaitlistEntry)
        .where(
            WaitlistEntry.mo_id == freed.mo_id,
            WaitlistEntry.specialty_code == freed.specialty_code,
            WaitlistEntry.status == EntryStatus.WAITING.value,
            or_(WaitlistEntry.doctor_id.is_(None), WaitlistEntry.doctor_id == freed.doctor_id),
            and_(WaitlistEntry.date_from <= day, WaitlistEntry.date_to >= day),
            ~tried,
        )
        .order_by(WaitlistEntry.priority.desc(), WaitlistEntry.seq)
        .limit(CANDIDATES)
    )


def _offer_row(entry: WaitlistEntry, freed: booking.FreedSlot, at: datetime) -> WaitlistOffer:
    return WaitlistOffer(
        id=uuid.uuid4(),
        entry_id=entry.id,
        patient_id=entry.patient_id,
        mo_id=freed.mo_id,
        doctor_id=freed.doctor_id,
        specialty_code=freed.specialty_code,
        slot_id=freed.slot_id,
        slot_start=freed.start,
        slot_end=freed.end,
        hold_id=None,
        status=OfferStatus.OFFERED.value,
        reason=None,
        expires_at=at + OFFER_TTL,
        appointment_id=None,
        created_at=at,
        closed_at=None,
    )


async def offer_next(runtime: Runtime, freed: booking.FreedSlot) -> WaitlistOffer | None:
    """Offer ``freed`` to the next in line who can take it: a hold of the slot for :data:`OFFER_TTL`, told
    by push and SMS (urgent) and on the live subscription. ``None`` when nobody waits for it, the slot is
    already offered, held or booked, or it starts too soon. Idempotent: safe to call again for one slot."""
    at = booking.now(runtime)
    day = booking.local_day(runtime, freed.start)
    ref = booking.SlotRef(freed.mo_id, freed.doctor_id, freed.slot_id, day)
    ctx = RequestContext.for_system("waitlist.offer")
    async with booking.booking_unit(runtime, ctx) as uow:
        session = uow.session
        # The slot's bridge hold (booking kept the slot for us since it was freed) ends in this transaction:
        # the next in line's hold replaces it at once, or the slot is free for everyone when it commits.
        await booking.take_bridge(uow, freed.mo_id, freed.slot_id)
        if freed.start <= at + OFFER_TTL:
            return None
        live = await session.scalar(
            select(WaitlistOffer.id).where(
                WaitlistOffer.mo_id == freed.mo_id,
                WaitlistOffer.slot_id == freed.slot_id,
                WaitlistOffer.status == OfferStatus.OFFERED.value,
            )
        )
        if live is not None:
            return None
        for entry in list(await session.scalars(_line(freed, day))):
            offer = _offer_row(entry, freed, at)
            try:
                hold = await booking.hold_slot(uow, entry.patient_id, ref, ttl=OFFER_TTL + HOLD_GRACE)
            except BookingProblemError as exc:
                if isinstance(exc.problem, SlotTaken | BookingServiceUnavailable):
                    if isinstance(exc.problem, BookingServiceUnavailable):
                        raise  # the outbox tries again later
                    return None  # someone holds or booked it: not ours to offer
                offer.status, offer.reason, offer.closed_at = OfferStatus.PASSED.value, exc.problem.code, at
                session.add(offer)
                uow.audit(
                    "waitlist.offer_passed",
                    object_type="waitlist_offer",
                    object_id=offer.id,
                    subject_id=entry.patient_id,
                    details={"slot_id": freed.slot_id, "reason": exc.problem.code},
                )
                continue
            offer.hold_id = hold.id
            session.add(offer)
            entry.status, entry.updated_at = EntryStatus.OFFERED.value, at
            uow.audit(
                "waitlist.offered",
                object_type="waitlist_offer",
                object_id=offer.id,
                subject_id=entry.patient_id,
                details={"slot_id": freed.slot_id, "entry_id": str(entry.id), "seq": entry.seq},
            )
            notifications.notify(
                uow,
                patient_id=entry.patient_id,
                event=OFFER_EVENT,
                data={
                    "specialty": entry.specialty_name,
                    "clinic": entry.mo_name,
                    "starts_at": freed.start,
                    "expires_at": offer.expires_at,
                },
                urgent=True,
                dedupe_key=f"waitlist-offer:{offer.id}",
            )
            _publish(uow, offer, "offered")
            return offer
    return None


def _publish(uow: UnitOfWork, offer: WaitlistOffer, status: str) -> None:
    uow.emit(
        TOPIC_PUBLISH,
        {
            "offer_id": str(offer.id),
            "patient_id": str(offer.patient_id),
            "status": status,
            "starts_at": offer.slot_start.isoformat(),
            "expires_at": offer.expires_at.isoformat(),
        },
    )


_STATUS_LABEL = {
    "offered": "Освободилось время: подтвердите запись",
    "accepted": "Вы записаны на освободившееся время",
    "declined": "Вы отказались от предложенного времени",
    "expired": "Время на подтверждение истекло",
}


async def on_publish(envelope: Envelope, runtime: Runtime) -> None:
    """Outbox handler: the offer's change on the live bus (best effort; the offer is in the database)."""
    p = envelope.payload
    await bus(runtime).publish(
        InboxEvent(
            id=uuid.UUID(p["offer_id"]),
            patient_id=uuid.UUID(p["patient_id"]),
            event=p["status"],
            title=_STATUS_LABEL.get(p["status"], p["status"]),
            text=p["expires_at"],
            created_at=datetime.fromisoformat(p["starts_at"]),
        )
    )


def bus(runtime: Runtime) -> Any:
    """The live bus of waitlist offers (Redis pub/sub across processes, or in-process)."""
    return runtime.adapters.waitlist_bus


def _freed_of(offer: WaitlistOffer) -> dict[str, Any]:
    return {
        "mo_id": offer.mo_id,
        "doctor_id": offer.doctor_id,
        "specialty_code": offer.specialty_code,
        "slot_id": offer.slot_id,
        "start": offer.slot_start.isoformat(),
        "end": offer.slot_end.isoformat(),
    }


async def on_offer_next(envelope: Envelope, runtime: Runtime) -> None:
    """Outbox handler: the slot of a declined, expired or failed offer goes to the next in line."""
    p = envelope.payload
    freed = booking.FreedSlot(
        mo_id=p["mo_id"],
        doctor_id=p["doctor_id"],
        specialty_code=p["specialty_code"],
        slot_id=p["slot_id"],
        start=datetime.fromisoformat(p["start"]),
        end=datetime.fromisoformat(p["end"]),
    )
    await offer_next(runtime, freed)


async def on_slot_freed(runtime: Runtime, freed: booking.FreedSlot) -> None:
    """Booking's hook: a slot is free again (a cancellation, a reschedule, the clinic's change)."""
    await offer_next(runtime, freed)


_CLOSE_ACTIONS = {
    OfferStatus.DECLINED: "waitlist.offer_declined",
    OfferStatus.EXPIRED: "waitlist.offer_expired",
    OfferStatus.FAILED: "waitlist.offer_failed",
}


async def _after_close(uow: UnitOfWork, offer: WaitlistOffer, status: OfferStatus) -> None:
    """What follows the close of a live offer (declined, expired, failed; :func:`_swap` closed it): its hold
    becomes the slot's bridge hold (kept for the line until the next offer takes it over, or let go if
    nobody can take it), its entry back in line (its place kept), the slot passed on after the commit."""
    at = booking.now(uow.runtime)
    if offer.hold_id is not None:
        await booking.bridge_from_hold(uow, offer.hold_id)
        uow.audit(
            "booking.hold_released", object_type="slot_hold", object_id=offer.hold_id, subject_id=offer.patient_id
        )
    entry = await uow.session.get(WaitlistEntry, offer.entry_id)
    if entry is not None and entry.status == EntryStatus.OFFERED.value:
        entry.status, entry.updated_at = EntryStatus.WAITING.value, at
    uow.audit(
        _CLOSE_ACTIONS[status],
        object_type="waitlist_offer",
        object_id=offer.id,
        subject_id=offer.patient_id,
        details={"slot_id": offer.slot_id},
    )
    uow.emit(TOPIC_OFFER_NEXT, _freed_of(offer))
    if status is not OfferStatus.FAILED:
        _publish(uow, offer, status.value)


_TAKE = (
    update(WaitlistOffer)
    .where(WaitlistOffer.status == OfferStatus.OFFERED.value)
    .execution_options(synchronize_session=False)
    .returning(WaitlistOffer.id)
)


async def _swap(uow: UnitOfWork, offer_id: uuid.UUID, status: OfferStatus, *, due: bool | None = None) -> Any:
    """Close a live offer with one conditional update, the arbiter between concurrent answers and the expiry
    (``due``: only if its time has passed; ``False``: only if it has not). The offer's id, or ``None`` if it
    was no longer live (or not in that time)."""
    at = booking.now(uow.runtime)
    statement = _TAKE.where(WaitlistOffer.id == offer_id)
    if due is True:
        statement = statement.where(WaitlistOffer.expires_at <= at)
    elif due is False:
        statement = statement.where(WaitlistOffer.expires_at > at)
    return await uow.session.scalar(statement.values(status=status.value, closed_at=at))


async def _take(uow: UnitOfWork, patient_id: uuid.UUID, offer_id: uuid.UUID, status: OfferStatus) -> WaitlistOffer:
    """Answer a live offer of the patient (:func:`_swap` while its time runs), or raise the problem that
    says why it cannot be."""
    session = uow.session
    at = booking.now(uow.runtime)
    owner = await session.scalar(select(WaitlistOffer.patient_id).where(WaitlistOffer.id == offer_id))
    if owner != patient_id:
        raise fail(OfferNotFound.default())
    taken = await _swap(uow, offer_id, status, due=False)
    offer = await session.get(WaitlistOffer, offer_id, populate_existing=True)
    if offer is None or offer.patient_id != patient_id:
        raise fail(OfferNotFound.default())
    if taken is None:
        if offer.status == OfferStatus.EXPIRED.value or (
            offer.status == OfferStatus.OFFERED.value and offer.expires_at <= at
        ):
            raise fail(OfferExpired.default())
        raise fail(OfferClosed.default())
    return offer


async def accept(uow: UnitOfWork, patient_id: uuid.UUID, offer_id: uuid.UUID) -> tuple[WaitlistOffer, Any]:
    """Accept a live offer: the held slot is booked at the hub (booking's ``confirm_hold``). If the hub
    refuses, the offer is closed as failed (after the rollback, in its own transaction) and the slot goes on
    down the line."""
    runtime = uow.runtime
    offer = await _take(uow, patient_id, offer_id, OfferStatus.ACCEPTED)
    assert offer.hold_id is not None
    try:
        appointment = await booking.confirm_hold(uow, patient_id, offer.hold_id)
    except BookingProblemError:
        booking.after_rollback(uow, lambda: _failed(runtime, offer_id))
        raise
    offer.appointment_id = appointment.id
    entry = await uow.session.get(WaitlistEntry, offer.entry_id)
    if entry is not None:
        entry.status, entry.appointment_id = EntryStatus.BOOKED.value, appointment.id
        entry.updated_at = booking.now(runtime)
    uow.audit(
        "waitlist.offer_accepted",
        object_type="waitlist_offer",
        object_id=offer.id,
        subject_id=patient_id,
        details={"appointment_id": str(appointment.id)},
    )
    _publish(uow, offer, "accepted")
    return offer, appointment


async def _failed(runtime: Runtime, offer_id: uuid.UUID) -> None:
    async with UnitOfWork(runtime, RequestContext.for_system("waitlist.offer_failed")) as uow:
        if await _swap(uow, offer_id, OfferStatus.FAILED) is not None:
            offer = await uow.session.get(WaitlistOffer, offer_id, populate_existing=True)
            assert offer is not None
            await _after_close(uow, offer, OfferStatus.FAILED)


async def decline(uow: UnitOfWork, patient_id: uuid.UUID, offer_id: uuid.UUID) -> WaitlistOffer:
    """Let the offer pass: the hold released, the slot offered to the next in line; the place kept."""
    offer = await _take(uow, patient_id, offer_id, OfferStatus.DECLINED)
    await _after_close(uow, offer, OfferStatus.DECLINED)
    return offer


async def expire_offers(runtime: Runtime, *, batch: int = 200) -> int:
    """Close the live offers past their time (each in its own unit of work, by the same conditional update
    an acceptance makes: of an acceptance and the expiry only one wins), then end the entries whose range
    has passed. Returns how many offers expired."""
    at = booking.now(runtime)
    async with runtime.sessionmaker() as session:
        due = list(
            await session.scalars(
                select(WaitlistOffer.id)
                .where(WaitlistOffer.status == OfferStatus.OFFERED.value, WaitlistOffer.expires_at <= at)
                .order_by(WaitlistOffer.expires_at)
                .limit(batch)
            )
        )
    expired = 0
    for offer_id in due:
        async with booking.booking_unit(runtime, RequestContext.for_system("waitlist.expire_offers")) as uow:
            if await _swap(uow, offer_id, OfferStatus.EXPIRED, due=True) is None:
                continue  # accepted or declined meanwhile
            offer = await uow.session.get(WaitlistOffer, offer_id, populate_existing=True)
            assert offer is not None
            await _after_close(uow, offer, OfferStatus.EXPIRED)
            expired += 1
    today = booking.local_day(runtime, at)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.status == EntryStatus.WAITING.value, WaitlistEntry.date_to < today)
            .values(status=EntryStatus.ENDED.value, updated_at=at)
            .execution_options(synchronize_session=False)
        )
    return expired
