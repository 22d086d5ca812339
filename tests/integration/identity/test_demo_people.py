"""Every demo flow is possible from what ``seed-demo`` prints: the demo people can be identified by an
operator or at a kiosk before they ever logged in through ESIA."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.identity.seed import seed_demo_identity
from backend.runtime import Runtime
from tests.conftest import make_settings
from tests.support.client import gql
from tests.support.identity import auth_headers, identity_client, kiosk_device_token, operator_token

pytestmark = pytest.mark.dialect

OPEN = """mutation($b: Date!, $p: String) {
  openOnBehalfSession(birthDate: $b, omsPolicy: $p) { __typename ... on OnBehalfSession { patient { shortName } } }
}"""
IDENTIFY = """mutation($p: String!, $b: Date!) {
  identifyAtKiosk(omsPolicy: $p, birthDate: $b) { __typename }
}"""


@pytest.fixture
async def demo_runtime(database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = Runtime.build(make_settings(database_url, var_dir=tmp_path))
    try:
        yield rt
    finally:
        await rt.close()


async def test_the_printed_demo_people_can_be_identified_at_once(demo_runtime: Runtime) -> None:
    printed = await seed_demo_identity(demo_runtime)
    again = await seed_demo_identity(demo_runtime)  # idempotent
    people = printed["people"]
    assert people and people == again["people"]
    person = people[0]
    assert {"name", "oms_policy", "snils", "birth_date"} <= set(person)
    async with identity_client(demo_runtime) as client:
        operator = auth_headers(await operator_token(demo_runtime))
        opened = await gql(client, OPEN, {"b": person["birth_date"], "p": person["oms_policy"]}, headers=operator)
        kiosk = auth_headers(await kiosk_device_token(demo_runtime))
        identified = await gql(client, IDENTIFY, {"p": person["oms_policy"], "b": person["birth_date"]}, headers=kiosk)
    assert opened["data"]["openOnBehalfSession"]["__typename"] == "OnBehalfSession", opened
    assert identified["data"]["identifyAtKiosk"]["__typename"] == "KioskSession", identified
