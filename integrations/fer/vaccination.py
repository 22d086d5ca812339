"""Vaccination rooms (прививочные кабинеты) as bookable resources of the booking hub.

No federal wire protocol for «Запись на вакцинацию» is public (protocols.md §2.3): regions book
vaccinations through the general booking channel, a vaccination room being a schedule resource of the
clinic with its own "specialty" (``ServiceSpec``), and the vaccination given is recorded afterwards as
СЭМД 170. **Assumed here**, and marked unconfirmed like §2.3 itself:

* the room is listed by ``GetSpesialityList`` under the specialty :data:`VACCINATION_ROOM_CODE`
  («Прививочный кабинет»; not a V021 code: the hub's own id, ``FerIdSpesiality`` left as that id) and by
  ``GetDoctorList`` as a resource ``vac-<IdLpu>`` named «Прививочный кабинет № <room>»;
* it takes patients without a referral (the calendar is the reason), in 10-minute slots, weekdays
  08:00–14:00, two weeks ahead;
* every clinic that attaches patients (adult and children's polyclinics, ambulatories) has one.

:func:`with_vaccination_rooms` returns the region as the hub lists it with the rooms added; the demo hub
serves that region (``backend.adapter_builders.demo_fer_simulator``). What is booked (the vaccine or the
infection) stays with our vaccination domain: SetAppointment carries no reason.
"""

from __future__ import annotations

import dataclasses
from datetime import time

from integrations.demo_region.model import Doctor, MedicalOrganisation, Region, Specialty, WorkingHours

VACCINATION_ROOM_CODE = "vaccination_room"
VACCINATION_ROOM = Specialty(VACCINATION_ROOM_CODE, "Прививочный кабинет", 10, True)
_KINDS = frozenset({"polyclinic", "children_polyclinic", "ambulatory"})
_HOURS = tuple(WorkingHours(weekday=d, start=time(8, 0), end=time(14, 0)) for d in range(5))


def room_id(mo_id: str) -> str:
    """The hub's IdDoc of the clinic's vaccination room."""
    return f"vac-{mo_id}"


def _room(mo: MedicalOrganisation) -> Doctor | None:
    if not mo.attaches or mo.kind not in _KINDS or not mo.departments:
        return None
    number = f"1{int(''.join(ch for ch in mo.id if ch.isdigit()) or '0') % 100:02d}"
    return Doctor(
        id=room_id(mo.id),
        snils="",
        last_name="Прививочный",
        first_name="кабинет",
        middle_name=f"№ {number}",
        specialty_code=VACCINATION_ROOM_CODE,
        department_id=mo.departments[0].id,
        room=number,
        hours=_HOURS,
        weeks_ahead=2,
    )


def with_vaccination_rooms(region: Region) -> Region:
    """The region with a vaccination room in every clinic that attaches patients (idempotent)."""
    if any(s.code == VACCINATION_ROOM_CODE for s in region.specialties):
        return region
    organisations = []
    for mo in region.organisations:
        room = _room(mo)
        organisations.append(mo if room is None else dataclasses.replace(mo, doctors=(*mo.doctors, room)))
    return dataclasses.replace(
        region, specialties=(*region.specialties, VACCINATION_ROOM), organisations=tuple(organisations)
    )
