"""``seed-demo``: generate the region the simulators serve, then load what the project owns from them.

The region itself lives in the simulators (as the upstreams' own data); the project's database gets
only what it owns in production too: the directory synced from the booking hub, and the demo staff
and kiosk accounts of the identity domain, and the demo doctor of the documents domain.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from backend.demo.ambulance import ambulance_demo
from backend.demo.booking_extras import seed_demo_booking_extras
from backend.demo.care import seed_demo_care
from backend.demo.drugs import drugs_demo
from backend.demo.insurance import insurance_demo
from backend.demo.people import seed_demo_people
from backend.demo.vaccination import seed_demo_vaccination
from backend.directory.service import STAGE_LABELS, sync_directory
from backend.documents.seed import seed_demo_documents
from backend.identity.seed import seed_demo_identity
from backend.runtime import Runtime
from backend.settings import Settings
from backend.vault.seed import seed_demo_vault
from integrations.demo_region import RegionScale, get_region
from integrations.demo_region.areas import AttachmentRegister, is_child
from integrations.demo_region.model import Person, Region


def _person(p: Person) -> dict[str, Any]:
    return {
        "name": f"{p.last_name} {p.first_name} {p.middle_name}",
        "esia_oid": p.esia_oid,
        "birth_date": p.birth_date.isoformat(),
        "oms_policy": p.oms_policy,
        "address": p.address,
    }


def home_visit_and_attachment_demo(region: Region) -> dict[str, Any]:
    """Who to log in as to try home visits and attachment: an adult and a parent with a child, each
    attached to a clinic with an area (so the home-call service identifies them), and a clinic to apply to."""
    register = AttachmentRegister(region)
    today = date.today()

    def attached(p: Person) -> dict[str, Any] | None:
        entry = register.current(p.esia_oid)
        area = register.area(entry.area_id) if entry and entry.area_id else None
        mo = register.organisation(entry.mo_id) if entry else None
        if area is None or mo is None:
            return None
        doctor = register.doctor(area.doctor_id)
        return {
            "clinic": mo.name,
            "mo_id": mo.id,
            "address": mo.address,
            "hours": mo.work_time_text,  # as the hub's GetLPUInfo sends them (WorkTime)
            "area": area.number,
            "doctor": doctor.full_name if doctor else None,
        }

    adult = next((p for p in region.people if not is_child(p, today) and attached(p) and not p.parent_oid), None)
    child = next((p for p in region.people if p.parent_oid and is_child(p, today) and attached(p)), None)
    parent = region.person_by_oid(child.parent_oid) if child and child.parent_oid else None
    other = None
    if adult is not None:
        own = attached(adult)
        other = next(
            (
                mo
                for mo in region.organisations
                if mo.attaches
                and own
                and mo.id != own["mo_id"]
                and any(a.area_type in (2, 3) for a in register.areas_of(mo.id))
            ),
            None,
        )
    return {
        "adult": {**_person(adult), **(attached(adult) or {})} if adult else None,
        "parent": _person(parent) if parent else None,
        "child": {**_person(child), **(attached(child) or {})} if child else None,
        "apply_to": {"mo_id": other.id, "clinic": other.name} if other else None,
        "try": (
            "Log in through the ESIA simulator as the adult or the parent; homeVisitChecklist → homeVisitWindows "
            "→ requestHomeVisit (the parent with actingFor: the child's id from myPrincipals); myHomeVisits and the "
            "homeVisitUpdated subscription follow it. myAttachment (the clinic's address and moHours: per weekday, "
            "breaks, todayLabel «Сегодня открыто до 20:00» in the region's time), then applyForAttachment with "
            "apply_to.mo_id; organisations { openingHours { summary todayLabel } } shows every clinic's hours. "
            "The 122 operator (credentials above) opens an on-behalf session for the adult and does the same."
        ),
        # Development-only (backend/dev/clinic.py): what the clinic does, through the simulators.
        "clinic_side": {
            "home_visit": "POST /dev/home-visits/{number}/{assign|on-the-way|visited|cancel} "
            "(number: myHomeVisits.number); pushed to us as HandleHomeCallRequestChanged",
            "attachment": "POST /dev/attachment/{application id}/{accept|complete|reject}[?reason=area_overloaded] "
            "(id: myAttachmentApplications.id); synced at once",
        },
        "dispensary": "holdSlot/bookAppointment(purpose: DISPENSARY) only at the adult's clinic (mo_id above)",
    }


def pages_demo(settings: Settings) -> dict[str, Any]:
    """Where the 122 console and the kiosk are, and what to type into them (backend/web)."""
    base = settings.public_url.rstrip("/")
    return {
        "console": f"{base}/console",
        "kiosk": f"{base}/kiosk",
        "sms_codes": f"{base}/dev/sms",
        "try": (
            "Console: log in as the operator above (the TOTP from totp_secret), «Принять звонок», find one of "
            "identity.people by policy and birth date, book; cancelling asks for the code the caller got (see "
            "sms_codes); close the call with its outcome. Kiosk: its first screen takes identity.kiosk.client_id "
            "and the PEM in identity.kiosk.private_key; then a person types policy and birth date on the keypad."
        ),
    }


async def seed_demo_region(settings: Settings, *, scale: str, seed: int, progress: Any | None = None) -> dict[str, Any]:
    settings = settings.model_copy(update={"demo_scale": scale, "demo_seed": seed})
    region = get_region(seed, RegionScale(scale))
    tasks: dict[str, Any] = {}

    def on_progress(stage: str, done: int, total: int) -> None:
        if progress is None:
            return
        if stage not in tasks:
            tasks[stage] = progress.add_task(STAGE_LABELS.get(stage, stage), total=total)
        progress.update(tasks[stage], completed=done, total=total)

    runtime = Runtime.build(settings)
    try:
        summary = await sync_directory(runtime, progress=on_progress)
        identity = await seed_demo_identity(runtime)
        vault = await seed_demo_vault(runtime)
        people = await seed_demo_people(runtime, list(region.people))
        documents = await seed_demo_documents(runtime)
        vaccination = await seed_demo_vaccination(runtime)
        care = await seed_demo_care(runtime, region)  # referrals, dispanserization, no-shows (issue 24)
        booking_extras = await seed_demo_booking_extras(runtime)
    finally:
        await runtime.close()
    return {
        "region": region.name,
        "scale": scale,
        "people": len(region.people),
        "directory": {
            name: getattr(summary, name).__dict__
            for name in ("districts", "organisations", "specialties", "doctors", "cards")  # cards: GetLPUInfo
        },
        "failures": len(summary.failures),
        "identity": identity,
        "vault": vault,
        # Who to try: an operator or a kiosk finds them by policy (or SNILS) and birth date; the ESIA
        # simulator's login page lists the adults; the SMS they "receive" are at GET /dev/sms.
        "demo_people": people,
        "documents": documents,
        "home_visits_and_attachment": home_visit_and_attachment_demo(region),
        "vaccination": vaccination,
        "insurance": insurance_demo(region),
        "preferential_drugs": drugs_demo(region),
        "referrals_dispanserization_no_shows": care,
        "pages": pages_demo(settings),
        "ambulance": ambulance_demo(region),
        # Issue 24, second half: the waitlist, the survey after a visit, SMART Scheduling Links.
        "booking_extras": booking_extras,
    }
