"""Areas (участки) of the demo region and the register of who is attached where.

The generated region has clinics and first-level doctors but no areas; this module derives them
deterministically, so every simulator that needs them (the booking hub's ``GetPatientsAreas``, the
home-call service's doctor on duty, the attachment register) sees the same ones:

* each attaching organisation gets one area per district therapist (V021 "76", area type 2
  «терапевтический»), general practitioner ("39", type 3 «врача общей практики») and paediatrician
  ("49", type 7 «педиатрический»), numbered ``1, 2, …`` within the organisation;
* a person's area within their clinic is picked from their home address (a household shares one
  area), among the areas of their age group (paediatric under 18, therapeutic or GP otherwise).

:class:`AttachmentRegister` is mutable: it starts from each person's ``attached_mo_id`` and the
attachment simulator moves a person when an application completes. Simulators that share one
register instance agree on where everybody belongs.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from integrations.demo_region.model import Doctor, MedicalOrganisation, Person, Region

THERAPIST = "76"
GENERAL_PRACTITIONER = "39"
PAEDIATRICIAN = "49"

# N3 HubService ``AreaType`` numbers (HubServiceEnums.cs): 2 терапевтический, 3 врача общей практики,
# 7 педиатрический.
AREA_TYPE_BY_SPECIALTY = {THERAPIST: 2, GENERAL_PRACTITIONER: 3, PAEDIATRICIAN: 7}
ADULT_AREA_TYPES = (2, 3)
CHILD_AREA_TYPES = (7, 3)  # a GP serves children where there is no paediatrician
ADULT_AGE = 18

# Attachments older than the register: everybody attached on this day (or at birth, if later).
REGISTER_START = date(2019, 1, 15)


@dataclass(frozen=True, slots=True)
class Area:
    id: str  # "<mo id>-<number>"
    mo_id: str
    number: str  # the area's number within the organisation, as the hub sends it
    area_type: int  # the hub's AreaType
    doctor_id: str  # the area doctor (участковый врач)


@dataclass(frozen=True, slots=True)
class AttachmentEntry:
    person_oid: str
    mo_id: str
    area_id: str | None
    since: date
    by_application: bool  # True: attached on an application (заявление), False: the initial register


def build_areas(region: Region) -> tuple[Area, ...]:
    areas: list[Area] = []
    for mo in region.organisations:
        if not mo.attaches:
            continue
        number = 0
        for doctor in mo.doctors:
            area_type = AREA_TYPE_BY_SPECIALTY.get(doctor.specialty_code)
            if area_type is None:
                continue
            number += 1
            areas.append(Area(f"{mo.id}-{number}", mo.id, str(number), area_type, doctor.id))
    return tuple(areas)


def is_child(person: Person, on: date) -> bool:
    return person.age(on) < ADULT_AGE


def serves_age(areas: Iterable[Area], child: bool) -> bool:
    """Whether an organisation with these areas serves the age group (a child needs a paediatric or GP area)."""
    wanted = CHILD_AREA_TYPES if child else ADULT_AREA_TYPES
    return any(a.area_type in wanted for a in areas)


class AttachmentRegister:
    """Who is attached to which organisation and area, since when; the history is kept."""

    def __init__(self, region: Region, *, today: date | None = None) -> None:
        self.region = region
        self.areas = build_areas(region)
        self._today = today or date.today()
        self._areas_by_id = {a.id: a for a in self.areas}
        self._by_mo: dict[str, list[Area]] = {}
        for area in self.areas:
            self._by_mo.setdefault(area.mo_id, []).append(area)
        self._mos = {mo.id: mo for mo in region.organisations}
        self._people = {p.esia_oid: p for p in region.people}
        self._history: dict[str, list[AttachmentEntry]] = {}
        for person in region.people:
            home_area = self.area_for(person, person.attached_mo_id, self._today)
            since = max(REGISTER_START, person.birth_date)
            self._history[person.esia_oid] = [
                AttachmentEntry(
                    person.esia_oid, person.attached_mo_id, home_area.id if home_area else None, since, False
                )
            ]

    # -- lookups ---------------------------------------------------------------------------------

    def organisation(self, mo_id: str) -> MedicalOrganisation | None:
        return self._mos.get(mo_id)

    def person(self, oid: str) -> Person | None:
        return self._people.get(oid)

    def area(self, area_id: str) -> Area | None:
        return self._areas_by_id.get(area_id)

    def areas_of(self, mo_id: str) -> tuple[Area, ...]:
        return tuple(self._by_mo.get(mo_id, ()))

    def doctor(self, doctor_id: str) -> Doctor | None:
        for mo in self.region.organisations:
            for doctor in mo.doctors:
                if doctor.id == doctor_id:
                    return doctor
        return None

    def area_for(self, person: Person, mo_id: str, on: date) -> Area | None:
        """The person's area within ``mo_id`` by age group and home address (None: no suitable area)."""
        wanted = CHILD_AREA_TYPES if is_child(person, on) else ADULT_AREA_TYPES
        for area_type in wanted:
            candidates = [a for a in self._by_mo.get(mo_id, ()) if a.area_type == area_type]
            if candidates:
                return candidates[zlib.crc32(person.address.encode()) % len(candidates)]
        return None

    def current(self, oid: str) -> AttachmentEntry | None:
        history = self._history.get(oid)
        return history[-1] if history else None

    def history(self, oid: str) -> tuple[AttachmentEntry, ...]:
        return tuple(self._history.get(oid, ()))

    # -- changes ---------------------------------------------------------------------------------

    def attach(self, oid: str, mo_id: str, on: date) -> AttachmentEntry:
        """Attach the person to ``mo_id`` from ``on`` (an application completed); returns the new entry."""
        person = self._people.get(oid)
        if person is None:
            raise KeyError(oid)
        if mo_id not in self._mos:
            raise KeyError(mo_id)
        area = self.area_for(person, mo_id, on)
        entry = AttachmentEntry(oid, mo_id, area.id if area else None, on, True)
        self._history.setdefault(oid, []).append(entry)
        return entry
