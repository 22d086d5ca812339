"""The demo people, loaded before their first ESIA login so an operator or a kiosk can find them, and
listed by ``seed-demo`` with what each demo flow asks for (policy, SNILS, birth date, phone).

A person is stored as identity would store them after an ESIA login, without the ESIA oid (they have not
logged in): their first login through the ESIA simulator finds the same row by SNILS. Their phone and
e-mail are also the notifications domain's contact points, as after an ESIA sync.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backend.identity.service import PatientData, normalise_snils, upsert_patient
from integrations.demo_region.model import Person
from integrations.sms import InvalidPhone, normalise_phone
from notifications.preferences import upsert_contacts

if TYPE_CHECKING:
    from backend.runtime import Runtime

#: How many people ``seed-demo`` lists (all of them at the small scale).
LISTED = 12


def _phone(person: Person) -> str | None:
    try:
        return normalise_phone(person.phone)
    except InvalidPhone:
        return None


def patient_data(person: Person) -> PatientData:
    return PatientData(
        esia_oid=None,
        last_name=person.last_name,
        first_name=person.first_name,
        middle_name=person.middle_name or None,
        birth_date=person.birth_date,
        sex=person.sex,
        snils=normalise_snils(person.snils),
        oms_policy=person.oms_policy,
        phone=_phone(person),
        email=person.email or None,
    )


async def seed_demo_people(runtime: Runtime, people: list[Person]) -> list[dict[str, Any]]:
    """Create or refresh a patient for each demo person; return the listing ``seed-demo`` prints."""
    at = runtime.now()
    async with runtime.sessionmaker() as session, session.begin():
        for person in people:
            data = patient_data(person)
            row = await upsert_patient(session, data, at=at)
            await upsert_contacts(session, row.id, phone=data.phone, email=data.email)
    names = {person.esia_oid: person.full_name for person in people}
    return [
        {
            "name": person.full_name,
            "birth_date": person.birth_date.isoformat(),
            "oms_policy": person.oms_policy,
            "snils": person.snils,
            "phone": _phone(person),
            **({"child_of": names.get(person.parent_oid, person.parent_oid)} if person.parent_oid else {}),
        }
        for person in people[:LISTED]
    ]
