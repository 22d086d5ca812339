"""Demo of the documents domain for ``make run``: a doctor's staff login (password + TOTP, like the 122
operator's) and the demo people whose documents the in-process register holds, with how to try the flows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyotp
from sqlalchemy import select

from backend.identity import staff, tokens
from backend.identity.models import StaffAccount
from integrations.demo_region import RegionScale, get_region

if TYPE_CHECKING:
    from backend.runtime import Runtime

DEMO_DOCTOR_LOGIN = "doctor"
DEMO_DOCTOR_NAME = "Демо Врач Терапевтовна"
DEMO_DOCTOR_SNILS = "112-233-445 95"
# A fixed TOTP secret for the demo only (printed by seed-demo; enrol it in any authenticator app).
DEMO_DOCTOR_TOTP_SECRET = "MZDEMODOCTORTOTPSECRETXYZ2345672"
DEMO_PEOPLE = 3


async def seed_demo_documents(runtime: Runtime) -> dict[str, Any]:
    """Create the demo doctor if absent; return the doctor's credentials and the demo patients to log in as."""
    settings = runtime.settings
    async with runtime.sessionmaker() as session, session.begin():
        doctor = await session.scalar(select(StaffAccount).where(StaffAccount.login == DEMO_DOCTOR_LOGIN))
        if doctor is None:
            await staff.create_staff(
                session,
                login=DEMO_DOCTOR_LOGIN,
                full_name=DEMO_DOCTOR_NAME,
                password=settings.demo_operator_password,
                role="doctor",
                totp_secret=DEMO_DOCTOR_TOTP_SECRET,
                snils=DEMO_DOCTOR_SNILS,
                at=tokens.now(runtime),
            )
    region = get_region(settings.demo_seed, RegionScale(settings.demo_scale))
    adults = [p for p in region.people if p.parent_oid is None][:DEMO_PEOPLE]
    people = []
    for person in adults:
        page = await runtime.adapters.iemk.list_documents(esia_oid=person.esia_oid, size=100)
        people.append(
            {
                "name": person.full_name,
                "esia_oid": person.esia_oid,
                "snils": person.snils,
                "documents": sorted({m.kind for m in page.items}),
            }
        )
    return {
        "doctor": {
            "login": DEMO_DOCTOR_LOGIN,
            "password": settings.demo_operator_password,
            "totp_secret": DEMO_DOCTOR_TOTP_SECRET,
            "totp_now": pyotp.TOTP(DEMO_DOCTOR_TOTP_SECRET).now(),
            "snils": DEMO_DOCTOR_SNILS,
        },
        "patients": people,
        "try": (
            "Log in as one of the patients (ESIA simulator page), then myDocuments / medicalDocument / "
            'medicalProfile; grantDocumentAccess(input: {hours: 24, doctorSnils: "112-233-445 95"}); '
            "then staffLogin as the doctor and doctorSharedPatients / doctorSharedRecord."
        ),
    }
