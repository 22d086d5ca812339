"""The whole mobile login, driven like the app and a browser: our /oauth/authorize → the ESIA simulator's
login page (HTML form parsed and posted) → our ESIA callback → the app's redirect with our code → the
token endpoint with the PKCE verifier → GraphQL `me` → refresh rotation → reuse detection → logout."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import lxml.html
import pytest
from sqlalchemy import func, select

from backend.identity.models import AuthSession, OAuthLogin, Patient
from backend.runtime import Runtime
from integrations.demo_region import RegionScale, get_region
from integrations.esia.simulator import simulator_state
from tests.support.client import gql
from tests.support.identity import auth_headers, identity_client

APP_REDIRECT = "ru.gosuslugi.health://oauth/callback"
CLIENT_ID = "mz-mobile"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _local(url: str) -> str:
    """The path and query of an absolute URL on our app (the test client serves every host)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def _login(
    client: httpx.AsyncClient, oid: str | None = None, *, app_state: str = "app-state-1"
) -> dict[str, Any]:
    """Run the browser part of a login; return the app redirect's query (code, state) and the verifier."""
    verifier, challenge = _pkce()
    start = await client.get(
        "/api/v1/oauth/authorize?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": CLIENT_ID,
                "redirect_uri": APP_REDIRECT,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": app_state,
            }
        )
    )
    assert start.status_code == 302, start.text
    esia_url = start.headers["location"]
    assert "/esia-sim/aas/oauth2/v2/ac?" in esia_url
    page = await client.get(_local(esia_url))
    assert page.status_code == 200, page.text
    document = lxml.html.fromstring(page.text)
    forms = [
        f for f in document.xpath('//form[@class="person"]') if f.xpath('.//input[@name="oid" and @type="hidden"]')
    ]
    form = next(f for f in forms if oid is None or f.xpath(f'.//input[@name="oid" and @value="{oid}"]'))
    fields = {i.get("name"): i.get("value") for i in form.xpath(".//input") if i.get("name")}
    fields["action"] = "login"
    action = urljoin(str(page.url), form.get("action"))
    back = await client.post(_local(action), data=fields)
    assert back.status_code == 302, back.text
    callback = back.headers["location"]
    assert urlsplit(callback).path == "/api/v1/auth/esia/callback"
    to_app = await client.get(_local(callback))
    assert to_app.status_code == 302, to_app.text
    location = to_app.headers["location"]
    assert location.startswith(APP_REDIRECT + "?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return {"query": query, "verifier": verifier, "callback": callback, "oid": fields["oid"]}


async def _exchange(client: httpx.AsyncClient, code: str, verifier: str) -> httpx.Response:
    return await client.post(
        "/api/v1/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": APP_REDIRECT,
            "client_id": CLIENT_ID,
            "code_verifier": verifier,
        },
    )


async def _refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": CLIENT_ID},
    )


ME = "{ me { id fullName birthDate snils omsPolicy phone } myPrincipals { kind status principal { shortName } } }"


@pytest.mark.slow
async def test_mobile_login_refresh_reuse_and_logout(runtime: Runtime) -> None:
    region = get_region(runtime.settings.demo_seed, RegionScale(runtime.settings.demo_scale))
    parents = {p.parent_oid for p in region.people if p.parent_oid}
    person = next(p for p in region.people if p.esia_oid in parents)
    async with identity_client(runtime) as client:
        login = await _login(client, person.esia_oid)
        assert login["query"]["state"] == "app-state-1"
        tokens_response = await _exchange(client, login["query"]["code"], login["verifier"])
        assert tokens_response.status_code == 200, tokens_response.text
        assert tokens_response.headers["cache-control"] == "no-store"
        first = tokens_response.json()
        assert first["token_type"] == "Bearer"
        assert 0 < first["expires_in"] <= 900

        me = await gql(client, ME, headers=auth_headers(first["access_token"]))
        profile = me["data"]["me"]
        assert profile["fullName"] == person.full_name
        assert profile["birthDate"] == person.birth_date.isoformat()
        assert profile["snils"] == person.snils
        assert profile["omsPolicy"] == person.oms_policy
        children = [p for p in region.people if p.parent_oid == person.esia_oid]
        young = [c for c in children if (runtime_today() - c.birth_date).days < 15 * 365]
        assert len(me["data"]["myPrincipals"]) == len(young)
        assert all(g["kind"] == "guardian_esia" and g["status"] == "active" for g in me["data"]["myPrincipals"])

        # Replaying the code fails and revokes what it produced.
        replay = await _exchange(client, login["query"]["code"], login["verifier"])
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
        revoked = await client.post("/graphql", json={"query": ME}, headers=auth_headers(first["access_token"]))
        assert revoked.status_code == 401

        # A fresh login: rotation, then reuse of the rotated token revokes the whole family.
        login = await _login(client, person.esia_oid, app_state="s2")
        pair1 = (await _exchange(client, login["query"]["code"], login["verifier"])).json()
        rotated = await _refresh(client, pair1["refresh_token"])
        assert rotated.status_code == 200, rotated.text
        pair2 = rotated.json()
        assert pair2["refresh_token"] != pair1["refresh_token"]
        assert "errors" not in await gql(client, "{ me { id } }", headers=auth_headers(pair2["access_token"]))
        reuse = await _refresh(client, pair1["refresh_token"])
        assert reuse.status_code == 400
        assert reuse.json()["error"] == "invalid_grant"
        assert "сеанс завершен" in reuse.json()["error_description"]
        assert (await _refresh(client, pair2["refresh_token"])).status_code == 400  # the family is gone
        after = await client.post(
            "/graphql", json={"query": "{ me { id } }"}, headers=auth_headers(pair2["access_token"])
        )
        assert after.status_code == 401

        # Logout: the session ends and the app gets ESIA's logout URL.
        login = await _login(client, person.esia_oid, app_state="s3")
        pair = (await _exchange(client, login["query"]["code"], login["verifier"])).json()
        out = await client.post("/api/v1/auth/logout", headers=auth_headers(pair["access_token"]))
        assert out.status_code == 200
        logout_url = out.json()["esia_logout_url"]
        assert "/idp/ext/Logout?client_id=" in logout_url
        ended = await client.post(
            "/graphql", json={"query": "{ me { id } }"}, headers=auth_headers(pair["access_token"])
        )
        assert ended.status_code == 401
        assert (await _refresh(client, pair["refresh_token"])).status_code == 400
        assert (await client.get(_local(logout_url))).status_code == 200
    sim = simulator_state(runtime.adapters.esia_simulator)  # type: ignore[arg-type]
    assert sim.logouts, "the simulator saw the ESIA logout"


def runtime_today() -> Any:
    return datetime.now(UTC).date()


async def test_state_mismatch_and_unknown_code_change_nothing(runtime: Runtime) -> None:
    async def counts() -> tuple[int, int, int]:
        async with runtime.sessionmaker() as session:
            return (
                await session.scalar(select(func.count()).select_from(AuthSession)) or 0,
                await session.scalar(select(func.count()).select_from(Patient)) or 0,
                await session.scalar(
                    select(func.count()).select_from(OAuthLogin).where(OAuthLogin.code_used_at.is_not(None))
                )
                or 0,
            )

    async with identity_client(runtime) as client:
        login = await _login(client)
        before = await counts()
        forged = login["callback"].replace("state=", "state=0")
        again = await client.get(_local(forged))
        assert again.status_code == 400
        assert "Сеанс входа не найден" in again.text
        wrong_verifier = await _exchange(client, login["query"]["code"], secrets.token_urlsafe(48))
        assert wrong_verifier.status_code == 400
        assert wrong_verifier.json()["error"] == "invalid_grant"
        unknown = await _exchange(client, "no-such-code", login["verifier"])
        assert unknown.json()["error"] == "invalid_grant"
        bad_client = await client.get(
            "/api/v1/oauth/authorize?"
            + urlencode({"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": "https://evil.example/cb"})
        )
        assert bad_client.status_code == 400  # never redirected to an unknown address
        no_pkce = await client.get(
            "/api/v1/oauth/authorize?"
            + urlencode({"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": APP_REDIRECT, "state": "x"})
        )
        assert no_pkce.status_code == 302
        assert "error=invalid_request" in no_pkce.headers["location"]
    assert before[0] == 0
    assert await counts() == before


async def test_user_refusing_at_esia_returns_access_denied_to_the_app(runtime: Runtime) -> None:
    verifier, challenge = _pkce()
    async with identity_client(runtime) as client:
        start = await client.get(
            "/api/v1/oauth/authorize?"
            + urlencode(
                {
                    "response_type": "code",
                    "client_id": CLIENT_ID,
                    "redirect_uri": APP_REDIRECT,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "state": "st",
                }
            )
        )
        page = await client.get(_local(start.headers["location"]))
        document = lxml.html.fromstring(page.text)
        tx = document.xpath('//input[@name="tx"]')[0].get("value")
        action = urljoin(str(page.url), "ac/login")
        back = await client.post(_local(action), data={"tx": tx, "action": "deny"})
        to_app = await client.get(_local(back.headers["location"]))
    assert to_app.status_code == 302
    query = parse_qs(urlsplit(to_app.headers["location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["st"]
    assert verifier
