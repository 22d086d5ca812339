"""Reference data cached per process for seconds: doctor cards and a specialty's offering.

Both are dropped by a directory sync (:func:`forget_cached`); other processes see a change within
:data:`CARD_TTL_S`. Nothing cached is a guard.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.directory.models import Doctor, MedicalOrganisation, Specialty
from backend.directory.service.reads import (
    OrganisationCursor,
    doctors_by_organisation,
    list_organisations,
    specialties_by_codes,
)

if TYPE_CHECKING:
    from backend.runtime import Runtime


@dataclass(frozen=True, slots=True)
class DoctorCard:
    """What booking needs about the hub's (IdLPU, IdDoc): the clinic, the doctor and the specialty."""

    mo_id: str  # IdLPU
    mo_name: str
    mo_kind: str | None
    mo_address: str | None
    doctor_id: str  # IdDoc
    doctor_name: str
    specialty_code: str
    specialty_name: str


CARDS_KEY = "directory.doctor_cards"
CARD_TTL_S = 60.0
CARD_CACHE_SIZE = 20_000


def _cached_reads(runtime: Runtime, key: str, maxsize: int) -> TTLCache[Any, Any]:
    """This process's cache ``key`` of directory reads (entries live :data:`CARD_TTL_S`), made at first use."""
    cache = runtime.adapters.directory_caches.get(key)
    if cache is None:
        cache = runtime.adapters.directory_caches[key] = TTLCache(maxsize=maxsize, ttl=CARD_TTL_S)
    return cache


def _cards(runtime: Runtime) -> TTLCache[tuple[str, str], DoctorCard | None]:
    return _cached_reads(runtime, CARDS_KEY, CARD_CACHE_SIZE)


def forget_cached(runtime: Runtime) -> None:
    """Drop this process's cached directory reads (after a sync; other processes see the changes within
    :data:`CARD_TTL_S`)."""
    _cards(runtime).clear()
    _offerings(runtime).clear()


async def doctor_card(
    runtime: Runtime, session: AsyncSession, mo_upstream_id: str, doctor_upstream_id: str
) -> DoctorCard | None:
    """The card behind the hub's (IdLPU, IdDoc), from this process's cache (reference data, synced nightly:
    a card is at most :data:`CARD_TTL_S` old), else one statement."""
    cards = _cards(runtime)
    key = (mo_upstream_id, doctor_upstream_id)
    try:
        return cards[key]
    except KeyError:
        pass
    row = (
        await session.execute(
            select(
                MedicalOrganisation.name,
                MedicalOrganisation.kind,
                MedicalOrganisation.address,
                Doctor.full_name,
                Specialty.code,
                Specialty.name,
            )
            .join(Doctor, Doctor.organisation_id == MedicalOrganisation.id)
            .join(Specialty, Specialty.id == Doctor.specialty_id)
            .where(MedicalOrganisation.upstream_id == mo_upstream_id, Doctor.upstream_id == doctor_upstream_id)
        )
    ).first()
    card = None if row is None else DoctorCard(mo_upstream_id, row[0], row[1], row[2], doctor_upstream_id, *row[3:])
    cards[key] = card
    return card


@dataclass(frozen=True)
class Offering:
    """Who offers a specialty: its active organisations, by name, and their active doctors of it, by name.

    Cached per process for :data:`CARD_TTL_S` (reference data, synced nightly) and shared between
    requests: the rows are detached from any session, to be read, never changed."""

    specialty: Specialty | None
    organisations: tuple[MedicalOrganisation, ...]
    doctors: dict[uuid.UUID, list[Doctor]]


OFFERINGS_KEY = "directory.offerings"


def _offerings(runtime: Runtime) -> TTLCache[str, Offering]:
    return _cached_reads(runtime, OFFERINGS_KEY, 1000)


async def offering(runtime: Runtime, session: AsyncSession, specialty_code: str) -> Offering:
    """:class:`Offering` of ``specialty_code``: from this process's cache, else three statements a page."""
    offerings = _offerings(runtime)
    found = offerings.get(specialty_code)
    if found is not None:
        return found
    organisations: list[MedicalOrganisation] = []
    cursor = None
    while True:
        page = await list_organisations(session, limit=200, after=cursor, specialty_code=specialty_code)
        organisations.extend(page)
        if len(page) < 200:
            break
        cursor = OrganisationCursor.of(page[-1])
    doctors = await doctors_by_organisation(session, [o.id for o in organisations], specialty_code=specialty_code)
    specialty = (await specialties_by_codes(session, [specialty_code])).get(specialty_code)
    for row in (*organisations, *(d for ds in doctors.values() for d in ds), *([specialty] if specialty else [])):
        session.expunge(row)
    found = offerings[specialty_code] = Offering(specialty, tuple(organisations), doctors)
    return found
