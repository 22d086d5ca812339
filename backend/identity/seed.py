"""Demo identity for ``make run``: one 122 operator, one kiosk (its key kept under var_dir), and the demo
region's people as patients, as ESIA describes them (so an operator or a kiosk finds them before their
first login), a few of them printed to try the flows with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyotp
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from backend.identity import kiosks, staff, tokens
from backend.identity.models import KioskDevice, StaffAccount
from backend.identity.service import PatientData, normalise_phone, normalise_policy, normalise_snils, upsert_patient
from integrations.demo_region import RegionScale, get_region

if TYPE_CHECKING:
    from backend.runtime import Runtime

DEMO_OPERATOR_LOGIN = "operator"
# A fixed TOTP secret for the demo only (printed by seed-demo; enrol it in any authenticator app).
DEMO_TOTP_SECRET = "MZDEMOOPERATORTOTPSECRETXYZ23456"
DEMO_KIOSK_ID = "kiosk-demo-1"
#: How many demo people seed-demo prints (adults with a phone, to try the operator's SMS code too).
PRINTED_PEOPLE = 3


async def seed_demo_identity(runtime: Runtime) -> dict[str, Any]:
    """Create the demo operator and kiosk if absent; return what a person needs to use them."""
    settings = runtime.settings
    at = tokens.now(runtime)
    kiosk_key = tokens.persisted_ec_key(settings.var_dir / "identity" / f"{DEMO_KIOSK_ID}.pem")
    public_pem = (
        kiosk_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    region = get_region(settings.demo_seed, RegionScale(settings.demo_scale))
    organisation = next(o for o in region.organisations if o.attaches)
    async with runtime.sessionmaker() as session, session.begin():
        operator = await session.scalar(select(StaffAccount).where(StaffAccount.login == DEMO_OPERATOR_LOGIN))
        if operator is None:
            await staff.create_staff(
                session,
                login=DEMO_OPERATOR_LOGIN,
                full_name="Демо Оператор 122",
                password=settings.demo_operator_password,
                role="operator",
                totp_secret=DEMO_TOTP_SECRET,
                at=at,
            )
        kiosk = await session.scalar(select(KioskDevice).where(KioskDevice.client_id == DEMO_KIOSK_ID))
        if kiosk is None:
            await kiosks.register_kiosk(
                session,
                client_id=DEMO_KIOSK_ID,
                name=f"Инфомат: {organisation.short_name}",
                medical_organisation_ref=organisation.id,
                public_key_pem=public_pem,
                at=at,
            )
        for person in region.people:
            await upsert_patient(
                session,
                PatientData(
                    esia_oid=person.esia_oid,
                    last_name=person.last_name,
                    first_name=person.first_name,
                    middle_name=person.middle_name,
                    birth_date=person.birth_date,
                    sex=person.sex,
                    snils=normalise_snils(person.snils) if person.snils else None,
                    oms_policy=normalise_policy(person.oms_policy) if person.oms_policy else None,
                    phone=normalise_phone(person.phone),
                    email=person.email,
                ),
                at=at,
            )
    adults = [p for p in region.people if p.oms_policy and p.phone and p.parent_oid is None]
    return {
        "operator": {
            "login": DEMO_OPERATOR_LOGIN,
            "password": settings.demo_operator_password,
            "totp_secret": DEMO_TOTP_SECRET,
            "totp_now": pyotp.TOTP(DEMO_TOTP_SECRET).now(),
        },
        "kiosk": {
            "client_id": DEMO_KIOSK_ID,
            "private_key": str(settings.var_dir / "identity" / f"{DEMO_KIOSK_ID}.pem"),
            "medical_organisation": organisation.id,
        },
        "people": [
            {
                "name": " ".join(n for n in (p.last_name, p.first_name, p.middle_name) if n),
                "oms_policy": normalise_policy(p.oms_policy or ""),
                "snils": normalise_snils(p.snils or ""),
                "birth_date": p.birth_date.isoformat(),
                "phone": normalise_phone(p.phone),
            }
            for p in adults[:PRINTED_PEOPLE]
        ],
    }
