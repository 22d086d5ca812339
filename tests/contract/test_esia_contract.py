"""Contract: the real ESIA client against the in-process ESIA simulator.

The login page is driven the way a browser would: GET the authorization URL, parse the HTML form,
POST the choice, read the redirect to ``redirect_uri``.
"""

from __future__ import annotations

import json
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
import jwt
import lxml.html
import pytest
from litestar import Litestar

from integrations.common.faults import Fault, FaultProfile
from integrations.common.http import build_http_client
from integrations.demo_region.model import Person
from integrations.esia import (
    EsiaAccessDeniedError,
    EsiaClient,
    EsiaClientSecretError,
    EsiaClockSkewError,
    EsiaIdentityProvider,
    EsiaInvalidGrantError,
    EsiaMalformedResponseError,
    EsiaScopeError,
    EsiaStateMismatchError,
    EsiaTimeoutError,
    EsiaTokenValidationError,
    EsiaUnauthorizedError,
    EsiaUnavailableError,
    GostSigner,
    RsaSigner,
)
from integrations.esia.client import TEST_ISSUER
from integrations.esia.protocol import CHILDREN_SCOPES, DEFAULT_SCOPES
from integrations.esia.signer import b64url_encode, client_secret_message
from integrations.esia.simulator import RegisteredClient, create_esia_simulator, simulator_state

CLIENT_ID = "MZDEMO01"
REDIRECT_URI = "https://app.example/esia/back"
CERT_HASH = "0f" * 32
SCOPES = (*DEFAULT_SCOPES, *CHILDREN_SCOPES)
ANNA_OID = "1000000001"
CHILD_OID = "1000000101"
TIMESTAMP_RE = re.compile(r"^\d{4}\.\d{2}\.\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}$")
UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def make_person(oid: str, last: str, first: str, middle: str, born: date, sex: str, **extra: Any) -> Person:
    defaults: dict[str, Any] = {
        "snils": f"000-000-{oid[-3:]} 01",
        "oms_policy": f"77000000000{oid[-5:]}",
        "smo_name": "ООО «Капитал МС»",
        "phone": f"+7(928){oid[-7:]}",
        "email": f"user{oid}@example.ru",
        "address": "355000, Ставропольский край, г. Ставрополь, ул. Ленина, д. 1, кв. 1",
        "district_id": "d-stavropol",
        "latitude": 45.04,
        "longitude": 41.97,
        "attached_mo_id": "mo-1",
    }
    return Person(
        esia_oid=oid,
        last_name=last,
        first_name=first,
        middle_name=middle,
        birth_date=born,
        sex=sex,
        **(defaults | extra),
    )


PEOPLE = (
    make_person(ANNA_OID, "Тестова", "Анна", "Сергеевна", date(1980, 2, 1), "F", passport="0712 345678"),
    make_person("1000000002", "Примеров", "Иван", "Петрович", date(1975, 7, 30), "M", passport="0705 111222"),
    make_person(
        CHILD_OID,
        "Тестова",
        "Мария",
        "Ивановна",
        date(2018, 5, 12),
        "F",
        parent_oid=ANNA_OID,
        birth_certificate="IV-ДН 123456",
    ),
)

# RSA keys are slow to generate: once per module.
CLIENT_SIGNER = RsaSigner.generate()
ESIA_SIGNER = RsaSigner.generate()
OTHER_SIGNER = RsaSigner.generate()


@dataclass
class Env:
    app: Litestar
    browser: httpx.AsyncClient  # the user's browser, on the same simulator
    opened: list[httpx.AsyncClient] = field(default_factory=list)
    client: EsiaClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = self.make_client()

    def make_client(self, **overrides: Any) -> EsiaClient:
        kwargs: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "signer": CLIENT_SIGNER,
            "certificate_hash": CERT_HASH,
            "esia_public_keys": [ESIA_SIGNER.public_key()],
            "issuer": TEST_ISSUER,
            "scopes": SCOPES,
            "deadline_s": 2.0,
        }
        kwargs |= overrides
        transport = kwargs.pop("transport", None)
        if transport is None:
            http = build_http_client("inprocess://esia", simulator_app=lambda: self.app)
        else:
            http = httpx.AsyncClient(transport=transport, base_url="http://esia")
        self.opened.append(http)
        return EsiaClient(http, **kwargs)


def make_app(**overrides: Any) -> Litestar:
    kwargs: dict[str, Any] = {
        "clients": {
            CLIENT_ID: RegisteredClient(
                redirect_uris=(REDIRECT_URI,),
                verification_key=CLIENT_SIGNER.public_key(),
                certificate_hash=CERT_HASH,
            )
        },
        "signer": ESIA_SIGNER,
        "key_id": "esia-test-2025",
        "faults": FaultProfile(timeout_stall_s=5.0),
    }
    return create_esia_simulator(PEOPLE, **(kwargs | overrides))


@pytest.fixture
async def env_factory() -> AsyncIterator[Callable[..., Env]]:
    envs: list[Env] = []

    def factory(**sim_overrides: Any) -> Env:
        app = make_app(**sim_overrides)
        browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://esia")
        envs.append(Env(app=app, browser=browser))
        return envs[-1]

    yield factory
    for env in envs:
        for http in (env.browser, *env.opened):
            await http.aclose()


@pytest.fixture
def env(env_factory: Callable[..., Env]) -> Env:
    return env_factory()


# ---------------------------------------------------------------------------------------------- browser


async def open_login_page(browser: httpx.AsyncClient, url: str) -> lxml.html.HtmlElement:
    response = await browser.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return lxml.html.fromstring(response.text, base_url=str(response.url))


async def submit(browser: httpx.AsyncClient, form: lxml.html.HtmlElement, **fill: str) -> dict[str, str]:
    """Submit ``form`` as a browser does (its inputs + the clicked button); return the callback query."""
    data = {i.get("name"): i.get("value", "") for i in form.iter("input") if i.get("name")}
    data |= fill
    button = form.find(".//button")
    if button is not None and button.get("name"):
        data[button.get("name")] = button.get("value", "")
    assert form.get("method") == "post"
    response = await browser.post(urljoin(form.base_url, form.get("action")), data=data)  # as a browser does
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return dict(parse_qsl(location.query))


def person_form(page: lxml.html.HtmlElement, full_name: str) -> lxml.html.HtmlElement:
    forms = [f for f in page.iter("form") if full_name in f.text_content()]
    assert len(forms) == 1, f"no single login form for {full_name}"
    return forms[0]


def deny_form(page: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    forms = [f for f in page.iter("form") if "Отказаться" in f.text_content()]
    assert len(forms) == 1
    return forms[0]


async def login(env: Env, client: EsiaClient | None = None, full_name: str = "Тестова Анна Сергеевна") -> str:
    client = client or env.client
    request = await client.build_authorization_url()
    page = await open_login_page(env.browser, request.url)
    callback = await submit(env.browser, person_form(page, full_name))
    return client.parse_callback(callback, expected_state=request.state)


def sign_esia_token(claims: dict[str, Any], *, header: dict[str, Any] | None = None) -> str:
    headers = {"ver": 1, "sbt": "access", "kid": "esia-test-2025"} | (header or {})
    return jwt.encode(claims, ESIA_SIGNER._key, algorithm="RS256", headers=headers)


# ---------------------------------------------------------------------------------------------- happy path


async def test_client_implements_protocol(env: Env) -> None:
    assert isinstance(env.client, EsiaIdentityProvider)


async def test_authorization_url_carries_every_esia_parameter(env: Env) -> None:
    request = await env.client.build_authorization_url(access_type="offline")
    url = urlsplit(request.url)
    assert url.path == "/aas/oauth2/v2/ac"
    params = dict(parse_qsl(url.query))
    assert params["client_id"] == CLIENT_ID
    assert params["client_certificate_hash"] == CERT_HASH and len(params["client_certificate_hash"]) == 64
    assert params["redirect_uri"] == REDIRECT_URI
    assert params["scope"] == " ".join(SCOPES)
    assert params["response_type"] == "code"
    assert params["access_type"] == "offline"
    assert UUID4_RE.match(params["state"]) and params["state"] == request.state
    assert TIMESTAMP_RE.match(params["timestamp"]) and params["timestamp"] == request.timestamp
    # raw RSA-2048 signature, base64url without padding, over the exact concatenation
    secret = params["client_secret"]
    assert "=" not in secret and "+" not in secret and "/" not in secret and len(secret) == 342
    message = client_secret_message(
        client_id=CLIENT_ID,
        scope=params["scope"],
        scope_org="",
        timestamp=params["timestamp"],
        state=params["state"],
        redirect_uri=REDIRECT_URI,
    )
    assert secret == b64url_encode(CLIENT_SIGNER.sign(message.encode()))  # PKCS#1 v1.5 is deterministic


async def test_full_login_flow(env: Env) -> None:
    request = await env.client.build_authorization_url()
    page = await open_login_page(env.browser, request.url)

    # The login page: Russian, the requested data, one button per adult, a refusal button.
    assert page.get("lang") == "ru"
    text = page.text_content()
    assert "Полис ОМС" in text and "СНИЛС" in text
    assert "Тестова Анна Сергеевна" in text and "Примеров Иван Петрович" in text
    assert "Тестова Мария Ивановна" not in text  # children do not sign in themselves
    assert "Отказаться" in text

    callback = await submit(env.browser, person_form(page, "Тестова Анна Сергеевна"))
    assert callback["state"] == request.state
    code = env.client.parse_callback(callback, expected_state=request.state)

    tokens = await env.client.exchange_code(code)
    assert tokens.oid == ANNA_OID
    assert tokens.token_type == "Bearer" and tokens.expires_in == 3600
    assert tokens.refresh_token and tokens.id_token
    assert {"openid", "fullname", "snils", "medical_doc", "kid_medical_doc"} <= tokens.scopes
    assert tokens.expires_at > datetime.now(UTC) + timedelta(minutes=59)

    header = jwt.get_unverified_header(tokens.access_token)
    assert header == {"ver": 1, "typ": "JWT", "sbt": "access", "alg": "RS256", "kid": "esia-test-2025"}
    claims = jwt.decode(tokens.access_token, ESIA_SIGNER.public_key(), algorithms=["RS256"])
    assert claims["iss"] == TEST_ISSUER
    assert claims["urn:esia:sbj_id"] == int(ANNA_OID)
    assert claims["client_id"] == CLIENT_ID
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["urn:esia:sid"] == tokens.session_id
    scope_items = claims["scope"].split()
    assert "openid" in scope_items and f"fullname?oid={ANNA_OID}" in scope_items
    assert f"medical_doc?oid={ANNA_OID}" in scope_items

    person = await env.client.fetch_person(tokens, include_children=True)
    assert person.oid == ANNA_OID
    assert person.full_name == "Тестова Анна Сергеевна"
    assert person.birth_date == date(1980, 2, 1) and person.sex == "F"
    assert person.snils == "000-000-001 01"
    assert person.trusted and person.status == "REGISTERED" and person.etag
    assert person.oms_policy is not None
    assert person.oms_policy.number == PEOPLE[0].oms_policy
    assert person.oms_policy.verified and person.oms_policy.medical_org == "ООО «Капитал МС»"
    assert person.passport is not None and (person.passport.series, person.passport.number) == ("0712", "345678")
    assert person.verified_phone == PEOPLE[0].phone
    assert person.verified_email == PEOPLE[0].email
    assert {a.type for a in person.addresses} == {"PRG", "PLV"}
    assert all(a.text.startswith("355000, Ставропольский край") for a in person.addresses)
    assert len(person.children) == 1
    child = person.children[0]
    assert (child.id, child.first_name, child.birth_date) == (CHILD_OID, "Мария", date(2018, 5, 12))
    assert child.birth_certificate is not None
    assert (child.birth_certificate.series, child.birth_certificate.number) == ("IV-ДН", "123456")
    assert child.oms_policy is not None and child.oms_policy.number == PEOPLE[2].oms_policy

    refreshed = await env.client.refresh(tokens.refresh_token)
    assert refreshed.oid == ANNA_OID
    assert refreshed.session_id == tokens.session_id and refreshed.expires_at >= tokens.expires_at
    assert refreshed.refresh_token and refreshed.refresh_token != tokens.refresh_token
    assert (await env.client.fetch_person(refreshed)).snils == person.snils
    with pytest.raises(EsiaInvalidGrantError) as rotated:  # refresh tokens rotate
        await env.client.refresh(tokens.refresh_token)
    assert rotated.value.code == "ESIA-007011"

    logout_url = env.client.logout_url("https://app.example/")
    assert dict(parse_qsl(urlsplit(logout_url).query)) == {
        "client_id": CLIENT_ID,
        "redirect_url": "https://app.example/",
    }
    assert urlsplit(logout_url).path == "/idp/ext/Logout"
    response = await env.browser.get(logout_url)
    assert response.status_code == 302 and response.headers["location"] == "https://app.example/"
    assert [c for c, _ in simulator_state(env.app).logouts] == [CLIENT_ID]


async def test_online_access_has_no_refresh_token(env: Env) -> None:
    request = await env.client.build_authorization_url(access_type="online", scopes=["openid", "fullname"])
    page = await open_login_page(env.browser, request.url)
    callback = await submit(env.browser, person_form(page, "Примеров Иван Петрович"))
    code = env.client.parse_callback(callback, expected_state=request.state)
    tokens = await env.client.exchange_code(code, scopes=["openid", "fullname"])
    assert tokens.refresh_token is None
    assert tokens.scopes == {"openid", "fullname"}
    person = await env.client.fetch_person(tokens, include_children=True)
    assert person.full_name == "Примеров Иван Петрович"
    assert person.snils is None and person.documents == () and person.children == ()


async def test_person_rest_links_embed_and_scope_checks(env: Env) -> None:
    tokens = await env.client.exchange_code(await login(env))
    auth = {"Authorization": f"Bearer {tokens.access_token}", "Accept": "application/json"}

    root = (await env.browser.get(f"/rs/prns/{ANNA_OID}", headers=auth)).json()
    assert root["stateFacts"] == ["EntityRoot"] and root["birthDate"] == "01.02.1980"
    docs = root["documents"]
    assert docs["stateFacts"] == ["hasSize"] and docs["size"] == len(docs["elements"]) == 2
    link = next(e for e in docs["elements"] if isinstance(e, str) and e.endswith("/docs/2"))
    item = (await env.browser.get(urlsplit(link).path, headers=auth)).json()
    assert item["type"] == "MDCL_PLCY" and item["vrfStu"] == "VERIFIED"

    embedded = await env.browser.get(f"/rs/prns/{ANNA_OID}", params={"embed": "(documents.elements)"}, headers=auth)
    assert {d["type"] for d in embedded.json()["documents"]["elements"]} == {"RF_PASSPORT", "MDCL_PLCY"}

    other = await env.browser.get("/rs/prns/1000000002", headers=auth)
    assert other.status_code == 403  # someone else's data
    bad = await env.browser.get(f"/rs/prns/{ANNA_OID}", headers={"Authorization": "Bearer forged"})
    assert bad.status_code == 401

    # A token without document scopes gets 403 on /docs.
    request = await env.client.build_authorization_url(scopes=["openid", "fullname"])
    page = await open_login_page(env.browser, request.url)
    narrow_code = env.client.parse_callback(
        await submit(env.browser, person_form(page, "Тестова Анна Сергеевна")), expected_state=request.state
    )
    narrow = await env.client.exchange_code(narrow_code, scopes=["openid", "fullname"])
    refused = await env.browser.get(
        f"/rs/prns/{ANNA_OID}/docs", headers={"Authorization": f"Bearer {narrow.access_token}"}
    )
    assert refused.status_code == 403


# ---------------------------------------------------------------------------------------------- ESIA errors


async def test_wrong_client_secret_is_esia_007053(env: Env) -> None:
    impostor = env.make_client(signer=OTHER_SIGNER)
    request = await impostor.build_authorization_url()
    response = await env.browser.get(request.url)
    assert response.status_code == 302
    callback = dict(parse_qsl(urlsplit(response.headers["location"]).query))
    assert callback["error"] == "access_denied" and callback["state"] == request.state
    with pytest.raises(EsiaClientSecretError) as caught:
        impostor.parse_callback(callback, expected_state=request.state)
    assert caught.value.code == "ESIA-007053"
    assert "client_secret сформирован некорректно" in str(caught.value)

    # On the token endpoint too: a valid code exchanged with the wrong key.
    code = await login(env)
    with pytest.raises(EsiaClientSecretError) as at_te:
        await impostor.exchange_code(code)
    assert at_te.value.code == "ESIA-007053" and at_te.value.status_code == 400


async def test_wrong_certificate_hash_length_is_esia_007053(env: Env) -> None:
    response = await env.browser.get((await env.client.build_authorization_url()).url.replace(CERT_HASH, "ab" * 20))
    callback = dict(parse_qsl(urlsplit(response.headers["location"]).query))
    assert callback["error_description"].startswith("ESIA-007053: ")


async def test_replayed_code_is_esia_007011(env: Env) -> None:
    code = await login(env)
    await env.client.exchange_code(code)
    with pytest.raises(EsiaInvalidGrantError) as caught:
        await env.client.exchange_code(code)
    assert caught.value.code == "ESIA-007011"
    assert caught.value.error == "invalid_grant"
    assert "Авторизационный код или маркер обновления недействителен" in str(caught.value)


async def test_expired_code_is_esia_007011(env_factory: Callable[..., Env]) -> None:
    now = [datetime.now(UTC)]
    env = env_factory(clock=lambda: now[0])
    code = await login(env)
    now[0] += timedelta(minutes=6)
    lagging = env.make_client(clock=lambda: now[0])
    with pytest.raises(EsiaInvalidGrantError):
        await lagging.exchange_code(code)


async def test_timestamp_skew_is_esia_007015(env: Env) -> None:
    slow = env.make_client(clock=lambda: datetime.now(UTC) - timedelta(hours=1))
    request = await slow.build_authorization_url()
    response = await env.browser.get(request.url)
    assert response.status_code == 302
    with pytest.raises(EsiaClockSkewError) as caught:
        slow.parse_callback(dict(parse_qsl(urlsplit(response.headers["location"]).query)), expected_state="x")
    assert caught.value.code == "ESIA-007015" and "Неверное время запроса" in str(caught.value)

    code = await login(env)
    with pytest.raises(EsiaClockSkewError):
        await slow.exchange_code(code)


async def test_unregistered_redirect_uri_is_esia_007023_without_redirect(env: Env) -> None:
    rogue = env.make_client(redirect_uri="https://evil.example/steal")
    request = await rogue.build_authorization_url()
    response = await env.browser.get(request.url)
    assert response.status_code == 400
    assert "location" not in response.headers  # never redirect to an unregistered address
    page = lxml.html.fromstring(response.text)
    error = page.get_element_by_id("esia-error")
    assert error.get("data-code") == "ESIA-007023"
    assert "отсутствует среди разрешенных для ИС" in error.text_content()


async def test_user_refusal_is_esia_007004(env: Env) -> None:
    request = await env.client.build_authorization_url()
    page = await open_login_page(env.browser, request.url)
    callback = await submit(env.browser, deny_form(page))
    assert callback["error"] == "access_denied"
    with pytest.raises(EsiaAccessDeniedError) as caught:
        env.client.parse_callback(callback, expected_state=request.state)
    assert caught.value.code == "ESIA-007004" and caught.value.state == request.state
    assert "отклонил запрос" in str(caught.value)


async def test_unknown_scope_is_esia_007006(env: Env) -> None:
    request = await env.client.build_authorization_url(scopes=["openid", "telepathy"])
    response = await env.browser.get(request.url)
    with pytest.raises(EsiaScopeError) as caught:
        env.client.parse_callback(
            dict(parse_qsl(urlsplit(response.headers["location"]).query)), expected_state=request.state
        )
    assert caught.value.code == "ESIA-007006"


async def test_login_transaction_is_one_time(env: Env) -> None:
    request = await env.client.build_authorization_url()
    page = await open_login_page(env.browser, request.url)
    form = person_form(page, "Тестова Анна Сергеевна")
    await submit(env.browser, form)
    data = {i.get("name"): i.get("value", "") for i in form.iter("input")} | {"action": "login"}
    again = await env.browser.post(urljoin(form.base_url, form.get("action")), data=data)
    assert again.status_code == 400 and "Сеанс входа истек" in again.text


async def test_lenient_mode_accepts_any_client_secret(env_factory: Callable[..., Env]) -> None:
    env = env_factory(strict=False)
    impostor = env.make_client(signer=OTHER_SIGNER)
    tokens = await impostor.exchange_code(await login(env, impostor))
    assert tokens.oid == ANNA_OID


# ---------------------------------------------------------------------------------------------- client-side checks


async def test_callback_state_mismatch_is_detected(env: Env) -> None:
    request = await env.client.build_authorization_url()
    page = await open_login_page(env.browser, request.url)
    callback = await submit(env.browser, person_form(page, "Тестова Анна Сергеевна"))
    with pytest.raises(EsiaStateMismatchError):
        env.client.parse_callback(callback, expected_state=str(uuid.uuid4()))


class TamperingTransport(httpx.AsyncBaseTransport):
    """Forwards to the simulator and rewrites the token endpoint's JSON (a man in the middle)."""

    def __init__(self, app: Litestar, tamper: Callable[[dict[str, Any]], None]) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._tamper = tamper

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.url.path != "/aas/oauth2/v3/te":
            return response
        body = json.loads(await response.aread())
        self._tamper(body)
        return httpx.Response(response.status_code, json=body)


async def test_token_state_mismatch_is_detected(env: Env) -> None:
    def swap_state(body: dict[str, Any]) -> None:
        body["state"] = str(uuid.uuid4())

    client = env.make_client(transport=TamperingTransport(env.app, swap_state))
    with pytest.raises(EsiaStateMismatchError):
        await client.exchange_code(await login(env, client))


def _forge_unsigned(body: dict[str, Any]) -> None:
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    body["access_token"] = jwt.encode(claims, key=None, algorithm="none")


def _forge_other_key(body: dict[str, Any]) -> None:
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    claims["urn:esia:sbj_id"] = 1000000002  # take over someone else's account
    body["access_token"] = jwt.encode(claims, OTHER_SIGNER._key, algorithm="RS256", headers={"sbt": "access"})


def _forge_hs256_with_public_key(body: dict[str, Any]) -> None:
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    head, payload, _ = jwt.api_jws.encode(json.dumps(claims).encode(), key="x" * 32, algorithm="HS256").split(".")
    body["access_token"] = f"{head}.{payload}.{b64url_encode(b'forged')}"


@pytest.mark.parametrize("forge", [_forge_unsigned, _forge_other_key, _forge_hs256_with_public_key])
async def test_forged_access_token_is_rejected(env: Env, forge: Callable[[dict[str, Any]], None]) -> None:
    client = env.make_client(transport=TamperingTransport(env.app, forge))
    with pytest.raises(EsiaTokenValidationError):
        await client.exchange_code(await login(env, client))


async def test_expired_token_is_rejected(env_factory: Callable[..., Env]) -> None:
    # ESIA's clock runs two hours late (and tolerates it), so its tokens are already expired for us.
    env = env_factory(clock=lambda: datetime.now(UTC) - timedelta(hours=2), max_clock_skew_s=3 * 3600)
    with pytest.raises(EsiaTokenValidationError, match="expired"):
        await env.client.exchange_code(await login(env))


async def test_wrong_issuer_is_rejected(env_factory: Callable[..., Env]) -> None:
    env = env_factory(issuer="http://esia.evil.example/")
    with pytest.raises(EsiaTokenValidationError, match="issuer"):
        await env.client.exchange_code(await login(env))


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "nbf": now,
        "iat": now,
        "exp": now + 3600,
        "iss": TEST_ISSUER,
        "urn:esia:sid": str(uuid.uuid4()),
        "urn:esia:sbj_id": int(ANNA_OID),
        "client_id": CLIENT_ID,
        "scope": f"openid fullname?oid={ANNA_OID}",
    }
    return {k: v for k, v in (claims | overrides).items() if v is not None}


async def test_verify_access_token_accepts_a_well_formed_token(env: Env) -> None:
    claims = await env.client.verify_access_token(sign_esia_token(_claims()))
    assert claims["urn:esia:sbj_id"] == int(ANNA_OID)


@pytest.mark.parametrize(
    ("claims", "header", "reason"),
    [
        (_claims(scope="openid fullname?oid=1000000002"), None, "another subject"),
        (_claims(**{"urn:esia:sbj_id": None}), None, "sbj_id"),
        (_claims(client_id="OTHERIS"), None, "another system"),
        (_claims(scope=f"fullname?oid={ANNA_OID}"), None, "openid"),
        (_claims(exp=int(time.time()) - 600), None, "expired"),
        (_claims(nbf=int(time.time()) + 600), None, "not valid yet"),
        (_claims(), {"sbt": "id"}, "not an access token"),
    ],
)
async def test_verify_access_token_rejects(
    env: Env, claims: dict[str, Any], header: dict[str, Any] | None, reason: str
) -> None:
    with pytest.raises(EsiaTokenValidationError, match=reason):
        await env.client.verify_access_token(sign_esia_token(claims, header=header))


# ---------------------------------------------------------------------------------------------- faults


async def test_fault_error_is_unavailable(env: Env) -> None:
    code = await login(env)
    simulator_state(env.app).faults.force(Fault.ERROR)
    with pytest.raises(EsiaUnavailableError) as caught:
        await env.client.exchange_code(code)
    assert caught.value.code == "ESIA-007008" and caught.value.status_code == 503


async def test_fault_malformed_is_malformed(env: Env) -> None:
    code = await login(env)
    faults = simulator_state(env.app).faults
    faults.force(Fault.MALFORMED)
    with pytest.raises(EsiaMalformedResponseError):
        await env.client.exchange_code(code)
    tokens = await env.client.exchange_code(await login(env))
    faults.force(Fault.MALFORMED)
    with pytest.raises(EsiaMalformedResponseError):
        await env.client.fetch_person(tokens)


async def test_fault_timeout_hits_the_client_deadline(env: Env) -> None:
    client = env.make_client(deadline_s=0.2)
    code = await login(env, client)
    simulator_state(env.app).faults.force(Fault.TIMEOUT)
    with pytest.raises(EsiaTimeoutError):
        await client.exchange_code(code)


async def test_revoked_or_unknown_bearer_is_unauthorized(env: Env) -> None:
    tokens = await env.client.exchange_code(await login(env))
    simulator_state(env.app).access_tokens.clear()  # ESIA forgot the session
    with pytest.raises(EsiaUnauthorizedError):
        await env.client.fetch_person(tokens)


# ---------------------------------------------------------------------------------------------- GOST signer


def test_gost_signer_csptest_command() -> None:
    signer = GostSigner(tool="csptest", tool_path="/opt/cprocsp/bin/amd64/csptest", container="MZDEMO01-key")
    assert signer.algorithm == "GOST3410_2012_256"
    assert signer.build_command("/tmp/in", "/tmp/out") == [
        "/opt/cprocsp/bin/amd64/csptest",
        "-keys",
        "-sign",
        "GOST12_256",
        "-cont",
        "MZDEMO01-key",
        "-keytype",
        "exchange",
        "-in",
        "/tmp/in",
        "-out",
        "/tmp/out",
    ]
    assert signer.reverses_output


def test_gost_signer_openssl_command() -> None:
    signer = GostSigner(
        tool="openssl", tool_path="/usr/bin/openssl", key_path="/etc/esia/key.pem", engine="gost", password_env="K"
    )
    assert signer.build_command("/tmp/in", "/tmp/out") == [
        "/usr/bin/openssl",
        "dgst",
        "-engine",
        "gost",
        "-md_gost12_256",
        "-sign",
        "/etc/esia/key.pem",
        "-passin",
        "env:K",
        "-out",
        "/tmp/out",
        "/tmp/in",
    ]
    assert not signer.reverses_output
    with pytest.raises(ValueError, match="private key"):
        GostSigner(tool="openssl", tool_path="/usr/bin/openssl")


def test_gost_signer_runs_the_tool_and_reverses_cryptopro_output(tmp_path: Path) -> None:
    fake = tmp_path / "csptest"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "args = sys.argv[1:]\n"
        "data = open(args[args.index('-in') + 1], 'rb').read()\n"
        "open(args[args.index('-out') + 1], 'wb').write(bytes(range(64)) if data == b'msg' else b'short')\n"
    )
    fake.chmod(0o755)
    signer = GostSigner(tool="csptest", tool_path=str(fake), container="c")
    assert signer.sign(b"msg") == bytes(reversed(range(64)))
