"""Slot references (opaque to clients) and availability: the hub's free slots through the cache."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from backend.booking.cache import booking_cache
from backend.booking.models import Appointment, HoldStatus, SlotHold, is_live
from backend.booking.problems import BookingServiceUnavailable, InvalidInput, fail
from backend.booking.service.base import hub, to_utc
from integrations.fer import FerError, HubTransportError, Slot

if TYPE_CHECKING:
    from backend.runtime import Runtime


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


async def doctor_slots(runtime: Runtime, mo_id: str, doctor_id: str, start: date, end: date) -> list[Slot]:
    """Free slots of a doctor within [start, end] through the stale-while-revalidate cache.

    The list is decoded once per value the cache hands out (its near cache gives the same list object
    until the entry changes) and shared: callers must not change it."""
    raw = await _cached_slots(runtime, mo_id, doctor_id, start, end)
    decoded: dict[tuple[str, str, date, date], tuple[list[dict[str, Any]], list[Slot]]] | None
    decoded = runtime.adapters.booking_decoded
    if decoded is None:
        decoded = runtime.adapters.booking_decoded = {}
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
