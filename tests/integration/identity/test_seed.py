"""The demo operator and kiosk of `make run`, and the housekeeping task."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, select

from backend.identity import tokens
from backend.identity.models import KioskDevice, StaffAccount, UsedAssertion
from backend.identity.seed import seed_demo_identity
from backend.identity.tasks import purge_expired
from backend.runtime import Runtime
from tests.conftest import make_settings
from tests.support.client import gql
from tests.support.identity import identity_client

pytestmark = pytest.mark.dialect


@pytest.fixture
async def demo_runtime(database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = Runtime.build(make_settings(database_url, var_dir=tmp_path))
    try:
        yield rt
    finally:
        await rt.close()


async def test_seed_is_idempotent_and_the_demo_operator_can_log_in(demo_runtime: Runtime, tmp_path: Path) -> None:
    first = await seed_demo_identity(demo_runtime)
    second = await seed_demo_identity(demo_runtime)
    assert first["operator"]["login"] == second["operator"]["login"] == "operator"
    assert (tmp_path / "identity" / "kiosk-demo-1.pem").exists()
    async with demo_runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(StaffAccount)) == 1
        assert await session.scalar(select(func.count()).select_from(KioskDevice)) == 1
    code = pyotp.TOTP(first["operator"]["totp_secret"]).at(tokens.now(demo_runtime))
    async with identity_client(demo_runtime) as client:
        body = await gql(
            client,
            'mutation($c: String!) { staffLogin(login: "operator", password: "operator-demo", totpCode: $c) '
            "{ __typename } }",
            {"c": code},
        )
    assert body["data"]["staffLogin"]["__typename"] == "StaffSession"


async def test_purge_forgets_expired_assertion_ids(runtime: Runtime) -> None:
    now = tokens.now(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        session.add(UsedAssertion(jti="k:old", client_id="k", expires_at=now - timedelta(minutes=1)))
        session.add(UsedAssertion(jti="k:new", client_id="k", expires_at=now + timedelta(minutes=1)))
    counts = await purge_expired(runtime)
    assert counts["used_assertions"] == 1
    async with runtime.sessionmaker() as session:
        assert (await session.scalars(select(UsedAssertion.jti))).all() == ["k:new"]
