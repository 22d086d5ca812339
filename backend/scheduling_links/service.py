"""SMART Scheduling Links: the region's free slots published as a ``$bulk-publish`` manifest and NDJSON files
of FHIR R4 ``Location``, ``Schedule`` and ``Slot`` (https://github.com/smart-on-fhir/smart-scheduling-links,
``specification.md``), for slot finders and aggregators.

What is published
-----------------
* ``Location``: each active clinic (name, address, phone, position, the ФРМО OID as identifier);
* ``Schedule``: each active doctor of a specialty bookable **without a referral** (narrow specialties are
  booked by referral, not from a public finder), with the specialty as ``serviceType`` (the federal code
  in the ФНСИ specialty reference book, OID 1.2.643.5.1.13.13.11.1066) and the clinic as ``actor``;
* ``Slot``: each slot of those doctors free at the hub over the next :data:`DAYS` days, less the slots
  held or booked here (booking's own guard), ``status: free``, with the SMART ``booking-deep-link``
  extension: our page (:mod:`backend.scheduling_links.routes`) that opens the app's booking flow on that
  very slot (the app's ``holdSlot`` takes the same slot reference), or tells to call 122.

Every resource is validated with ``fhir.resources`` (its R4B models: R4B changed nothing in ``Location``,
``Schedule`` or ``Slot`` since R4 4.0.1) before it is written; an invalid one fails the regeneration.

Incremental regeneration
------------------------
The files are assembled from parts (:class:`~backend.scheduling_links.models.PublishedPart`): one
``Location`` per clinic, one ``Schedule`` and one ``Slot`` part per doctor. :func:`regenerate` builds the
parts, compares each one's digest with the stored one and writes only what changed (and deletes parts of
doctors or clinics no longer published); the manifest's ``transactionTime`` is the last change. It runs
on a beat (:data:`backend.celery_app.TaskName.SCHEDULING_LINKS_REGENERATE`) and, for one doctor, when
booking frees one of their slots (the ``on_slot_freed`` hook).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot
from sqlalchemy import delete, func, select

from backend.booking import service as booking
from backend.directory import service as directory
from backend.scheduling_links.models import PublishedPart
from integrations.fer import FerError

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

#: How far ahead free slots are published.
DAYS = 14
KINDS = ("Location", "Schedule", "Slot")
FILES = {"Location": "locations.ndjson", "Schedule": "schedules.ndjson", "Slot": "slots.ndjson"}
DEEP_LINK = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link"
BOOKING_PHONE = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-phone"
SPECIALTY_SYSTEM = "urn:oid:1.2.643.5.1.13.13.11.1066"  # ФНСИ: номенклатура специальностей
BASE_PATH = "/api/v1/scheduling"
_MODELS: dict[str, Any] = {"Location": Location, "Schedule": Schedule, "Slot": Slot}


def validated(resource: dict[str, Any]) -> str:
    """The resource as one NDJSON line, once its FHIR model accepts it (``ValueError`` otherwise)."""
    _MODELS[resource["resourceType"]].model_validate(resource)
    return orjson.dumps(resource).decode()


def base_url(runtime: Runtime) -> str:
    return f"{runtime.settings.public_url.rstrip('/')}{BASE_PATH}"


def _location(mo: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Location",
        "id": mo.upstream_id,
        "name": mo.name,
        "telecom": [{"system": "phone", "value": mo.phone}] if mo.phone else [],
        "address": {"text": mo.address, "country": "RU"} if mo.address else None,
        "position": (
            {"latitude": mo.latitude, "longitude": mo.longitude}
            if mo.latitude is not None and mo.longitude is not None
            else None
        ),
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:oid:{mo.oid}"}] if mo.oid else [],
    }
    return {k: v for k, v in resource.items() if v not in (None, [])}


def _schedule_id(mo_id: str, doctor_id: str) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) for the doctor's schedule at the clinic."""
    raw = f"{mo_id}.{doctor_id}"
    safe = "".join(c if c.isalnum() or c in "-." else "-" for c in raw)
    return safe if len(safe) <= 64 else hashlib.sha256(raw.encode()).hexdigest()[:64]


def _schedule(mo_id: str, doctor: Any, specialty: Any) -> dict[str, Any]:
    return {
        "resourceType": "Schedule",
        "id": _schedule_id(mo_id, doctor.upstream_id),
        "active": True,
        "serviceType": [{"coding": [{"system": SPECIALTY_SYSTEM, "code": specialty.code, "display": specialty.name}]}],
        "actor": [{"reference": f"Location/{mo_id}"}, {"display": doctor.full_name}],
    }


def _slot(runtime: Runtime, slot: Any, schedule_id: str) -> dict[str, Any]:
    day = booking.local_day(runtime, booking.to_utc(runtime, slot.start))
    ref = booking.SlotRef(slot.mo_id, slot.doctor_id, slot.id, day).encode()
    start = booking.to_utc(runtime, slot.start).isoformat()
    end = booking.to_utc(runtime, slot.end).isoformat()
    return {
        "resourceType": "Slot",
        "id": hashlib.sha256(f"{slot.mo_id}|{slot.id}".encode()).hexdigest()[:64],
        "schedule": {"reference": f"Schedule/{schedule_id}"},
        "status": "free",
        "start": start,
        "end": end,
        "extension": [
            {"url": DEEP_LINK, "valueUrl": f"{base_url(runtime)}/book/{ref}"},
            {"url": BOOKING_PHONE, "valueString": "122"},
        ],
    }


@dataclass
class Report:
    written: int = 0
    unchanged: int = 0
    deleted: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Doctor:
    mo_id: str
    doctor: Any
    specialty: Any


async def _published(runtime: Runtime) -> tuple[list[Any], list[_Doctor]]:
    """The active clinics and their active doctors of directly bookable specialties (directory reads)."""
    async with runtime.sessionmaker() as session:
        clinics: list[Any] = []
        cursor = None
        while True:
            page = await directory.list_organisations(session, limit=500, after=cursor)
            clinics.extend(page)
            if len(page) < 500:
                break
            cursor = directory.OrganisationCursor.of(page[-1])
        by_clinic = await directory.doctors_by_organisation(session, [c.id for c in clinics])
        specialties = await directory.specialties_by_ids(
            session, list({d.specialty_id for ds in by_clinic.values() for d in ds})
        )
    doctors = [
        _Doctor(c.upstream_id, d, specialties[d.specialty_id])
        for c in clinics
        for d in by_clinic.get(c.id, [])
        if specialties.get(d.specialty_id) is not None and specialties[d.specialty_id].direct_booking is not False
    ]
    return clinics, doctors


async def _free_slots(runtime: Runtime, doctor: _Doctor, at: datetime, *, fresh: bool) -> list[Any]:
    """The doctor's slots free at the hub over :data:`DAYS` days, less those held or booked here; ``fresh``
    asks the hub itself rather than booking's seconds-old cache (a slot just freed)."""
    first = booking.local_day(runtime, at)
    last = first + timedelta(days=DAYS)
    doctor_id = doctor.doctor.upstream_id
    if fresh:
        slots = await booking.hub(runtime).get_slots(doctor.mo_id, doctor_id, first, last)
    else:
        slots = await booking.doctor_slots(runtime, doctor.mo_id, doctor_id, first, last)
    upcoming = [s for s in slots if booking.to_utc(runtime, s.start) > at]
    async with runtime.sessionmaker() as session:
        taken = await booking.live_holds_and_bookings(session, runtime, at, upcoming)
    return sorted((s for s in upcoming if (s.mo_id, s.id) not in taken), key=lambda s: (s.start, s.id))


def _digest(lines: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


async def _store(
    runtime: Runtime,
    parts: dict[tuple[str, str], list[str]],
    *,
    scope: Iterable[tuple[str, str]] | None,
    report: Report,
) -> None:
    """Write the parts that changed; with ``scope`` None, delete the stored parts not in ``parts``."""
    at = runtime.now()
    async with runtime.sessionmaker() as session, session.begin():
        keys = list(parts) if scope is None else list(scope)
        stored = {
            (p.kind, p.key): p
            for p in await session.scalars(select(PublishedPart).where(PublishedPart.kind.in_({k for k, _ in keys})))
        }
        # Strictly after the last change (a clock that did not move still makes a new version: the served
        # files' caches and ETags are keyed by it).
        latest = await session.scalar(select(func.max(PublishedPart.changed_at)))
        if latest is not None and latest >= at:
            at = latest + timedelta(microseconds=1)
        for (kind, key), lines in parts.items():
            digest = _digest(lines)
            known = stored.get((kind, key))
            if known is not None and known.digest == digest:
                report.unchanged += 1
                continue
            if known is None:
                session.add(
                    PublishedPart(
                        id=uuid.uuid4(), kind=kind, key=key, content="\n".join(lines), lines=len(lines),
                        digest=digest, changed_at=at,
                    )
                )  # fmt: skip
            else:
                known.content, known.lines, known.digest, known.changed_at = "\n".join(lines), len(lines), digest, at
            report.written += 1
        if scope is None:
            gone = [p.id for k, p in stored.items() if k not in parts]
            if gone:
                await session.execute(delete(PublishedPart).where(PublishedPart.id.in_(gone)))
                report.deleted += len(gone)


async def regenerate(runtime: Runtime, *, only: tuple[str, str] | None = None) -> Report:
    """Rebuild the published parts (all, or ``only`` one doctor's ``(mo_id, doctor_id)`` slots) and write
    those that changed. A doctor whose slots the hub cannot give now keeps their last part."""
    report = Report()
    at = runtime.now()
    clinics, doctors = await _published(runtime)
    if only is not None:
        doctors = [d for d in doctors if (d.mo_id, d.doctor.upstream_id) == only]
    parts: dict[tuple[str, str], list[str]] = {}
    if only is None:
        for clinic in clinics:
            parts["Location", clinic.upstream_id] = [validated(_location(clinic))]
    for d in doctors:
        schedule = _schedule(d.mo_id, d.doctor, d.specialty)
        key = f"{d.mo_id}:{d.doctor.upstream_id}"
        try:
            free = await _free_slots(runtime, d, at, fresh=only is not None)
        except FerError:
            report.failures.append(key)
            log.warning("scheduling_links.slots_failed", mo_id=d.mo_id, doctor_id=d.doctor.upstream_id)
            continue
        if only is None:
            parts["Schedule", key] = [validated(schedule)]
        parts["Slot", key] = [validated(_slot(runtime, s, schedule["id"])) for s in free]
    scope = None if only is None and not report.failures else list(parts)
    await _store(runtime, parts, scope=scope, report=report)
    log.info("scheduling_links.regenerated", written=report.written, unchanged=report.unchanged, deleted=report.deleted)
    return report


async def on_slot_freed(runtime: Runtime, freed: booking.FreedSlot) -> None:
    """Booking's hook: the freed slot's doctor republished at once (the rest waits for the beat)."""
    await regenerate(runtime, only=(freed.mo_id, freed.doctor_id))


# ---------------------------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class Published:
    """One file as served: its NDJSON body, an ETag, and when it last changed."""

    body: bytes
    etag: str
    changed_at: datetime | None


async def version(runtime: Runtime) -> tuple[int, datetime | None]:
    """(number of parts, last change): what the served files' caches are keyed by (one statement)."""
    async with runtime.sessionmaker() as session:
        count, last = (
            await session.execute(select(func.count(PublishedPart.id), func.max(PublishedPart.changed_at)))
        ).one()
    return int(count), last


async def published_file(runtime: Runtime, kind: str) -> Published:
    async with runtime.sessionmaker() as session:
        rows = (
            await session.execute(
                select(PublishedPart.content, PublishedPart.digest, PublishedPart.changed_at)
                .where(PublishedPart.kind == kind, PublishedPart.lines > 0)
                .order_by(PublishedPart.key)
            )
        ).all()
    body = "".join(f"{content}\n" for content, _, _ in rows).encode()
    etag = hashlib.sha256("".join(d for _, d, _ in rows).encode()).hexdigest()[:32]
    return Published(body, f'"{etag}"', max((c for _, _, c in rows), default=None))


def manifest(runtime: Runtime, transaction_time: datetime | None) -> dict[str, Any]:
    """The ``$bulk-publish`` manifest (SMART Scheduling Links: ``transactionTime``, ``request``, ``output``)."""
    base = base_url(runtime)
    return {
        "transactionTime": (transaction_time or runtime.now()).isoformat(),
        "request": f"{base}/$bulk-publish",
        "output": [{"type": kind, "url": f"{base}/{FILES[kind]}"} for kind in KINDS],
        "error": [],
    }
