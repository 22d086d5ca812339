"""Demo identity for ``make run``: one 122 operator and one kiosk (its key kept under var_dir)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyotp
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from backend.identity import kiosks, staff, tokens
from backend.identity.models import KioskDevice, StaffAccount
from integrations.demo_region import RegionScale, get_region

if TYPE_CHECKING:
    from backend.runtime import Runtime

DEMO_OPERATOR_LOGIN = "operator"
# A fixed TOTP secret for the demo only (printed by seed-demo; enrol it in any authenticator app).
DEMO_TOTP_SECRET = "MZDEMOOPERATORTOTPSECRETXYZ23456"
DEMO_KIOSK_ID = "kiosk-demo-1"


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
    }
