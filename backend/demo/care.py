"""seed-demo for referrals, dispanserization and the no-show rules (issue 24): who to log in as, the referral
numbers the demo hub knows, and a patient whose online booking is limited for no-shows (to contest)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from backend.booking.service import no_shows
from backend.dispanserization import rules
from backend.identity.service import find_patient_by_policy
from backend.runtime import Runtime
from integrations.demo_region.model import Person, Region
from integrations.fer.referrals import demo_referrals


def _person(p: Person) -> dict[str, Any]:
    return {
        "name": f"{p.last_name} {p.first_name} {p.middle_name}",
        "esia_oid": p.esia_oid,
        "birth_date": p.birth_date.isoformat(),
        "oms_policy": p.oms_policy,
    }


async def seed_demo_care(runtime: Runtime, region: Region) -> dict[str, Any]:
    today = date.today()
    by_mo = {mo.id: mo for mo in region.organisations}
    specialties = {s.code: s.name for s in region.specialties}
    referrals = demo_referrals(region)
    used = {r.person_oid for r in referrals}
    referral_rows = []
    for r in referrals:
        person = region.person_by_oid(r.person_oid)
        referral_rows.append({**_person(person), "number": r.number, "specialty": specialties.get(r.specialty_code)})

    def attached_adult(p: Person) -> bool:
        mo = by_mo.get(p.attached_mo_id or "")
        return mo is not None and mo.kind == "polyclinic" and p.parent_oid is None and p.esia_oid not in used

    due = next(
        (
            p
            for p in region.people
            if attached_adult(p) and rules.eligibility(p.birth_date, today.year) is rules.ExamKind.DISPANSERIZATION
        ),
        None,
    )
    limited = next((p for p in region.people if attached_adult(p) and p is not due), None)
    limited_info: dict[str, Any] | None = None
    if limited is not None:
        mo = by_mo[limited.attached_mo_id or ""]
        doctor = next(d for d in mo.doctors if d.specialty_code == "76")
        async with runtime.sessionmaker() as session:
            patient = await find_patient_by_policy(session, limited.oms_policy, limited.birth_date)
        if patient is not None:
            visits = [
                no_shows.PastVisit(
                    start=datetime.combine(today - timedelta(days=days), time(9), tzinfo=UTC),
                    mo_id=mo.id,
                    mo_name=mo.name,
                    doctor_id=doctor.id,
                    doctor_name=doctor.full_name,
                    specialty_code="76",
                    specialty_name="Терапевт",
                )
                for days in (20, 12, 5)
            ]
            written = await no_shows.record_demo_no_shows(runtime, patient.id, visits)
            limited_info = {**_person(limited), "no_shows_written": written}
    return {
        "referrals": referral_rows,
        "dispanserization": {**_person(due), "clinic": by_mo[due.attached_mo_id or ""].name} if due else None,
        "no_show_limited": limited_info,
        "rule": no_shows.NO_SHOW_RULE.describe(),
        "try": (
            "Referrals: log in as a referral's person, addReferral(number) → myReferrals → searchSlots for its "
            "specialty → bookByReferral(referralId, slot); a doctor's staff login (role doctor with the issuing "
            "therapist's SNILS) uses bookSpecialistForPatient. Dispanserization: log in as the person due (or "
            "identify at a kiosk by policy and birth date): dispanserization → answerDispanserizationQuestionnaire → "
            "dispanserizationDays → bookDispanserizationPlan(slots) → myDispanserizationPlans; "
            "rescheduleDispanserizationPlan moves it whole. No-shows: the limited person's holdSlot answers "
            "ONLINE_BOOKING_LIMITED; myNoShowStatus says why and until when; contestNoShow, then the 122 operator "
            "(noShowContests → decideNoShowContest upheld) lifts it."
        ),
    }
