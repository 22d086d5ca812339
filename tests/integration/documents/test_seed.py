"""The demo doctor of `make run`: idempotent, able to log in with the printed TOTP secret, a doctor."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import func, select

from backend.documents.seed import seed_demo_documents
from backend.identity.models import StaffAccount
from backend.runtime import Runtime
from tests.support.client import gql
from tests.support.identity import identity_client

pytestmark = pytest.mark.dialect


async def test_seed_is_idempotent_and_the_demo_doctor_can_log_in(runtime: Runtime) -> None:
    first = await seed_demo_documents(runtime)
    second = await seed_demo_documents(runtime)
    assert first["doctor"]["login"] == second["doctor"]["login"] == "doctor"
    assert len(first["patients"]) == 3 and all("119" in p["documents"] for p in first["patients"])
    async with runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(StaffAccount)) == 1
    doctor = first["doctor"]
    async with identity_client(runtime) as client:
        body = await gql(
            client,
            "mutation($l: String!, $p: String!, $t: String!) { staffLogin(login: $l, password: $p, totpCode: $t) "
            "{ __typename ... on StaffSession { operator { role fullName } } } }",
            {"l": doctor["login"], "p": doctor["password"], "t": pyotp.TOTP(doctor["totp_secret"]).now()},
        )
    assert body["data"]["staffLogin"]["operator"]["role"] == "doctor"
