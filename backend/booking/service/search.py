"""Search: free slots of a specialty, the own clinic first, then the region by distance or name."""

from __future__ import annotations

import asyncio
import math
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.attachment import service as attachment
from backend.booking.cache import booking_cache
from backend.booking.models import Appointment
from backend.booking.problems import InvalidInput, fail
from backend.booking.service.base import _tz, local_day, now
from backend.booking.service.slots import doctor_slots, live_holds_and_bookings
from backend.directory import service as directory
from integrations.fer import Slot

if TYPE_CHECKING:
    from backend.directory.models import Doctor, MedicalOrganisation
    from backend.runtime import Runtime


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


async def own_clinic(runtime: Runtime, session: AsyncSession, patient_id: uuid.UUID) -> str | None:
    """The patient's own clinic for "own clinic first": the one they are attached to (the attachment domain),
    else, when that is not known (no policy, not in the register, the register slow or down), the guess of
    :func:`own_clinic_of`."""
    return await attachment.attached_mo_id(runtime, session, patient_id) or await own_clinic_of(session, patient_id)


async def own_clinic_of(session: AsyncSession, patient_id: uuid.UUID, specialty_code: str | None = None) -> str | None:
    """The clinic the patient uses: of their latest appointment with a first-level doctor, else any latest
    (the fallback of :func:`own_clinic` when the attachment is not known)."""
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


NEAREST_MAX_DAYS = 31
NEAREST_MAX_LIMIT = 50
NEAREST_MAX_RADIUS_KM = 300.0
NEAREST_MIN_RADIUS_KM = 0.5


def check_nearest_bounds(*, lat: float, lon: float, radius_km: float, days: int, limit: int) -> None:
    """Refuse, as :class:`InvalidInput` naming the field, a point off the globe or a window too large."""
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise fail(InvalidInput.of("latitude", "Широта указана неверно: от -90 до 90 градусов."))
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise fail(InvalidInput.of("longitude", "Долгота указана неверно: от -180 до 180 градусов."))
    if not (math.isfinite(radius_km) and 0.0 < radius_km <= NEAREST_MAX_RADIUS_KM):
        message = f"Радиус поиска: больше 0 и не больше {NEAREST_MAX_RADIUS_KM:.0f} км."
        raise fail(InvalidInput.of("radiusKm", message))
    if not 1 <= days <= NEAREST_MAX_DAYS:
        raise fail(InvalidInput.of("days", f"Период поиска: от 1 до {NEAREST_MAX_DAYS} дней."))
    if not 1 <= limit <= NEAREST_MAX_LIMIT:
        raise fail(InvalidInput.of("limit", f"Число талонов: от 1 до {NEAREST_MAX_LIMIT}."))


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
    """The earliest free slot of each nearby clinic (within ``radius_km``), earliest first; the bounds
    checked first (:func:`check_nearest_bounds`)."""
    check_nearest_bounds(lat=lat, lon=lon, radius_km=radius_km, days=days, limit=limit)
    radius_km = max(radius_km, NEAREST_MIN_RADIUS_KM)
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
