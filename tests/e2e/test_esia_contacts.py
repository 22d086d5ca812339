"""Issue 26, item 20: the phone ESIA verified reaches notifications (so SMS can go out), and the ESIA
simulator's pages carry one charset."""

from __future__ import annotations

import pytest

from backend.runtime import Runtime
from integrations.demo_region import RegionScale, get_region
from integrations.sms import normalise_phone
from tests.e2e.test_login_flow import _exchange, _local, _login, _pkce
from tests.support.client import gql
from tests.support.identity import auth_headers, identity_client

PREFERENCES = "{ notificationPreferences { phone } }"


@pytest.mark.slow
async def test_the_esia_phone_fills_the_notification_preferences(runtime: Runtime) -> None:
    region = get_region(runtime.settings.demo_seed, RegionScale(runtime.settings.demo_scale))
    person = next(p for p in region.people if p.parent_oid is None)
    async with identity_client(runtime) as client:
        login = await _login(client, person.esia_oid)
        pair = (await _exchange(client, login["query"]["code"], login["verifier"])).json()
        body = await gql(client, PREFERENCES, headers=auth_headers(pair["access_token"]))
    assert body["data"]["notificationPreferences"]["phone"] == normalise_phone(person.phone)


async def test_the_esia_simulator_login_page_has_one_charset(runtime: Runtime) -> None:
    _, challenge = _pkce()
    async with identity_client(runtime) as client:
        start = await client.get(
            "/api/v1/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": "mz-mobile",
                "redirect_uri": "ru.gosuslugi.health://oauth/callback",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": "s",
            },
        )
        assert start.status_code == 302, start.text
        page = await client.get(_local(start.headers["location"]))
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
