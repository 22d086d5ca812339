"""The demo of issue 24's second half: the waitlist with offers, the survey after a visit, SMART Scheduling
Links. ``seed-demo`` prints what this returns: who to log in as, what to call, and the public file URLs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from backend.booking.service import THERAPIST
from backend.directory.models import Doctor, MedicalOrganisation, Specialty
from backend.scheduling_links import service as scheduling_links

if TYPE_CHECKING:
    from backend.runtime import Runtime


async def seed_demo_booking_extras(runtime: Runtime) -> dict[str, Any]:
    """Publish the scheduling files once (the beat keeps them fresh) and say how to try the rest."""
    report = await scheduling_links.regenerate(runtime)
    base = scheduling_links.base_url(runtime)
    async with runtime.sessionmaker() as session:
        row = (
            await session.execute(
                select(MedicalOrganisation.upstream_id, MedicalOrganisation.name, Specialty.code, Doctor.upstream_id)
                .join(Doctor, Doctor.organisation_id == MedicalOrganisation.id)
                .join(Specialty, Specialty.id == Doctor.specialty_id)
                .where(MedicalOrganisation.active, Doctor.active, Specialty.code == THERAPIST)
                .order_by(MedicalOrganisation.name, Doctor.full_name)
                .limit(1)
            )
        ).first()
    waitlist = (
        {"mo_id": row[0], "clinic": row[1], "specialty_code": row[2], "doctor_id": row[3]} if row is not None else None
    )
    return {
        "scheduling_links": {
            "manifest": f"{base}/$bulk-publish",
            "files": [f"{base}/{name}" for name in scheduling_links.FILES.values()],
            "parts_written": report.written,
        },
        "waitlist": {
            "join": waitlist,
            "try": (
                "Log in as a demo person (mobile) or open a 122 on-behalf session; joinWaitlist(input: {moId, "
                "specialtyCode, doctorId, dateFrom, dateTo, reason: NO_CONVENIENT_TIME}) with the values above; "
                "another person books a slot of that doctor (bookAppointment) and cancels it (cancelAppointment): "
                "the first gets an offer (myWaitlist, the waitlistOfferUpdated subscription, the SMS at GET "
                "/dev/sms) and accepts it (acceptWaitlistOffer) or declines (declineWaitlistOffer)."
            ),
        },
        "survey": {
            "try": (
                "When the booking hub reports a visit as visited (booking's status sync), the patient gets a "
                "survey.invitation notification with a link (GET /api/v1/surveys/<token>) and sees it in "
                "mySurveys; answerSurvey answers it from the app. Staff: satisfactionKpi(dateFrom, dateTo) as the "
                "122 operator (staffLogin)."
            ),
        },
    }
