"""Pharmacy availability: for a prescription, the pharmacies that have its drug, nearest first, with hours.

The regional system's answers are cached like booking's slots (:class:`backend.booking.cache.SwrCache`,
``runtime.adapters.drugs_cache``, Redis-backed with its own keys): the stock of one drug (МНН + dosage) for
``MZ_LLO_STOCK_FRESH_S`` (60 s), then served stale while *one* background refresh runs, for up to
``MZ_LLO_STOCK_STALE_S``; the pharmacy list and the person's registered location the same way. So a slow
upstream (bench ``drugs``: 300 ms) delays only the first search of a drug, never the searches after it.
Distances are great-circle kilometres from the point the person gives, else from the address in the
register; "open now" is read in the region's time.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from backend.drugs.models import DrugPrescription
from backend.drugs.problems import InvalidInput, fail
from backend.drugs.service.base import OPEN, own_prescription, patient_with_snils, upstream_problem
from integrations.llo import LloError, OpeningHours, Pharmacy, wire

if TYPE_CHECKING:
    from backend.runtime import Runtime

#: How many pharmacies a search returns (nearest first).
LIMIT = 20


@dataclass(frozen=True)
class PharmacyView:
    id: str
    name: str
    address: str
    phone: str | None
    latitude: float
    longitude: float
    preferential: bool
    hours: tuple[OpeningHours, ...]
    open_now: bool
    distance_km: float | None
    quantity: int  # of the drug in stock (0: none)


@dataclass(frozen=True)
class Availability:
    prescription: DrugPrescription
    origin: tuple[float, float] | None
    in_stock: tuple[PharmacyView, ...]
    #: When nobody has it: the preferential pharmacies that can take the prescription on deferred service.
    deferral_options: tuple[PharmacyView, ...]


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in kilometres (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def open_at(hours: tuple[OpeningHours, ...], moment: datetime) -> bool:
    for h in hours:
        if moment.weekday() not in h.weekdays:
            continue
        if h.opens == h.closes == time(0):
            return True
        if h.opens <= moment.time() < h.closes:
            return True
    return False


async def pharmacies(runtime: Runtime) -> dict[str, Pharmacy]:
    """Every pharmacy of the region by id (cached)."""

    async def fetch() -> list[dict[str, Any]]:
        return [wire.pharmacy_json(p) for p in await runtime.adapters.llo.pharmacies()]

    rows = await runtime.adapters.drugs_cache.get_or_fetch("pharmacies", fetch)
    return {p.id: p for p in (wire.pharmacy_from_json(row) for row in rows)}


async def stock(runtime: Runtime, mnn: str, dosage: str) -> dict[str, int]:
    """pharmacy id → quantity of the drug, for those that have it (cached)."""

    async def fetch() -> list[list[Any]]:
        return [[s.pharmacy_id, s.quantity] for s in await runtime.adapters.llo.stock(mnn, dosage)]

    rows = await runtime.adapters.drugs_cache.get_or_fetch(f"stock:{mnn}:{dosage}", fetch)
    return {str(pharmacy_id): int(quantity) for pharmacy_id, quantity in rows}


async def home_of(runtime: Runtime, snils: str) -> tuple[float, float] | None:
    """The person's location from the register's address (cached)."""

    async def fetch() -> list[float] | None:
        record = await runtime.adapters.llo.beneficiary(snils)
        if record is None or record.latitude is None or record.longitude is None:
            return None
        return [record.latitude, record.longitude]

    found = await runtime.adapters.drugs_cache.get_or_fetch(f"home:{snils}", fetch)
    return (float(found[0]), float(found[1])) if found else None


def check_point(latitude: float | None, longitude: float | None) -> tuple[float, float] | None:
    if latitude is None and longitude is None:
        return None
    if latitude is None or longitude is None or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise fail(InvalidInput.of("near", "Укажите точку полностью: широту от −90 до 90 и долготу от −180 до 180."))
    return latitude, longitude


def _views(
    found: dict[str, Pharmacy], quantities: dict[str, int], origin: tuple[float, float] | None, now: datetime
) -> list[PharmacyView]:
    views = [
        PharmacyView(
            id=p.id,
            name=p.name,
            address=p.address,
            phone=p.phone,
            latitude=p.latitude,
            longitude=p.longitude,
            preferential=p.preferential,
            hours=p.hours,
            open_now=open_at(p.hours, now),
            distance_km=round(km(origin, (p.latitude, p.longitude)), 2) if origin else None,
            quantity=quantities.get(p.id, 0),
        )
        for p in found.values()
    ]
    views.sort(key=lambda v: (v.distance_km if v.distance_km is not None else 0.0, v.name))
    return views[:LIMIT]


async def availability(
    runtime: Runtime, patient_id: uuid.UUID, prescription_id: uuid.UUID, near: tuple[float, float] | None = None
) -> Availability:
    """Where the prescription's drug is, nearest first (a preferential prescription: preferential pharmacies)."""
    async with runtime.sessionmaker() as session:
        row = await own_prescription(session, patient_id, prescription_id)
        snils = None if near is not None else (await patient_with_snils(session, patient_id)).snils
    try:
        origin = near if near is not None else await home_of(runtime, snils or "")
        every = await pharmacies(runtime)
        quantities = await stock(runtime, row.mnn, row.dosage) if row.status in OPEN else {}
    except LloError as exc:
        raise fail(upstream_problem(exc)) from None
    eligible = {i: p for i, p in every.items() if p.preferential or not row.preferential}
    now = runtime.now().astimezone(ZoneInfo(runtime.settings.region_timezone))
    having = {i: p for i, p in eligible.items() if quantities.get(i, 0) > 0}
    in_stock = _views(having, quantities, origin, now)
    options: list[PharmacyView] = []
    if not in_stock and row.preferential and row.status in OPEN and row.deferred_pharmacy_id is None:
        options = _views({i: p for i, p in eligible.items() if p.preferential}, quantities, origin, now)
    return Availability(row, origin, tuple(in_stock), tuple(options))
