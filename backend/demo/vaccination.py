"""The vaccination demo of ``seed-demo``: a parent and their young child whose calendar has an overdue dose
(their СЭМД 170 hold no polio vaccination), attached to a clinic with a vaccination room, and a certificate
already issued for the child so its public check can be opened at once."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from backend.booking import service as booking
from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.documents import service as documents
from backend.identity.service import find_patient_by_snils, normalise_snils
from backend.vaccination import service as vaccination
from backend.vaccination.engine import Status
from integrations.demo_region import RegionScale, get_region
from integrations.demo_region.model import Person, Region
from integrations.fer.vaccination import room_id, with_vaccination_rooms

if TYPE_CHECKING:
    from backend.runtime import Runtime


def _child(runtime: Runtime, region: Region, today: date) -> tuple[Person, str] | None:
    rooms = {d.id for d in with_vaccination_rooms(region).doctors()}
    register = runtime.adapters.attachment_register
    for person in region.people:
        entry = register.current(person.esia_oid)
        if person.parent_oid and 1 <= person.age(today) <= 6 and entry and room_id(entry.mo_id) in rooms:
            return person, entry.mo_id
    return None


async def seed_demo_vaccination(runtime: Runtime) -> dict[str, Any] | None:
    """Sync the demo child's documents and register data, issue one certificate; return what to print."""
    settings = runtime.settings
    region = get_region(settings.demo_seed, RegionScale(settings.demo_scale))
    today = booking.local_day(runtime, runtime.now())
    found = _child(runtime, region, today)
    if found is None:
        return None
    person, mo_id = found
    parent = region.person_by_oid(person.parent_oid or "")
    async with runtime.sessionmaker() as session:
        child = await find_patient_by_snils(session, normalise_snils(person.snils) or "", person.birth_date)
    if child is None:
        return None
    await documents.sync_patient(runtime, child.id)
    data = await vaccination.patient_vaccinations(runtime, child.id)
    if data is None:
        return None
    overdue = [i for i in vaccination.assess(data, today).items if i.status is Status.OVERDUE]
    async with UnitOfWork(runtime, RequestContext.for_system("seed-demo")) as uow:
        certificate = await vaccination.issue_certificate(uow, child.id, None)
    clinic = next((mo.name for mo in region.organisations if mo.id == mo_id), mo_id)
    return {
        "parent": {"name": parent.full_name, "esia_oid": parent.esia_oid, "oms_policy": parent.oms_policy},
        "child": {"name": person.full_name, "birth_date": person.birth_date.isoformat(), "clinic": clinic},
        "overdue": [f"{i.infection_name}: {i.label} — {i.explanation}" for i in overdue],
        "certificate": {"id": str(certificate.id), "verify_url": vaccination.verify_url(runtime, certificate.token)},
        "try": (
            "Log in through the ESIA simulator as the parent (the login lists the child in myPrincipals). "
            "VaccinationCalendar(actingFor: the child's id) shows the overdue doses; BookVaccination(infection: "
            '"poliomyelitis", actingFor: …) books the nearest slot of the clinic\'s vaccination room in one step; '
            "IssueVaccinationCertificate, then GET its pdfUrl with the same token (and ?actingFor=); open verify_url "
            "(or the QR code in the PDF) with no login: the public check shows initials, birth year, vaccines and "
            "dates. The 122 operator sees the calendar and books for a caller; a kiosk prints the certificate "
            "(PrintVaccinationCertificate)."
        ),
    }
