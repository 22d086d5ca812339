"""A refused token: anonymous fields still answer; what needs authentication gets one 401 body everywhere."""

from __future__ import annotations

import re
import uuid

import jwt
import pytest

from backend.identity import sessions, tokens
from backend.identity.policy import ConfirmationRequired
from backend.runtime import Runtime
from tests.support.client import app_client
from tests.support.identity import auth_headers, kiosk_session_token, make_patient

pytestmark = pytest.mark.dialect

STALE = "Сеанс завершен. Войдите заново."
API_INFO = {"query": "{ apiInfo { version } }"}
ME = {"query": "{ me { id } }"}


async def _stale_token(runtime: Runtime) -> str:
    patient = await make_patient(runtime)
    token = await kiosk_session_token(runtime, patient.id)
    sid = uuid.UUID(jwt.decode(token, options={"verify_signature": False})["sid"])
    async with runtime.sessionmaker() as session, session.begin():
        await sessions.revoke(session, sid, reason="test", at=tokens.now(runtime))
    return token


@pytest.mark.parametrize("token", ["stale", "garbage"])
async def test_a_refused_token_does_not_fail_an_anonymous_query(runtime: Runtime, token: str) -> None:
    bearer = await _stale_token(runtime) if token == "stale" else "not-a-token"
    async with app_client(runtime) as client:
        response = await client.post("/graphql", json=API_INFO, headers=auth_headers(bearer))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["apiInfo"]["version"]


async def test_graphql_ticket_and_logout_refuse_a_stale_token_with_one_body(runtime: Runtime) -> None:
    token = await _stale_token(runtime)
    async with app_client(runtime) as client:
        answers = {
            "graphql": await client.post("/graphql", json=ME, headers=auth_headers(token)),
            "ticket": await client.get(f"/api/v1/booking/tickets/{uuid.uuid4()}.pdf", headers=auth_headers(token)),
            "logout": await client.post("/api/v1/auth/logout", headers=auth_headers(token)),
        }
    for name, response in answers.items():
        assert response.status_code == 401, (name, response.text)
        assert response.json() == {
            "code": "INVALID_TOKEN",
            "message": STALE,
            "requestId": response.headers["x-request-id"],
        }, name


async def test_without_a_token_ticket_and_logout_answer_the_same_body(runtime: Runtime) -> None:
    async with app_client(runtime) as client:
        ticket = await client.get(f"/api/v1/booking/tickets/{uuid.uuid4()}.pdf")
        logout = await client.post("/api/v1/auth/logout")
    for response in (ticket, logout):
        assert response.status_code == 401
        body = response.json()
        assert set(body) == {"code", "message", "requestId"}
        assert body["code"] == "NOT_AUTHENTICATED"
        assert re.search(r"[А-Яа-я]", body["message"])


def test_the_confirmation_message_does_not_name_the_api() -> None:
    message = ConfirmationRequired.default().message
    assert "confirmOnBehalfCode" not in message
    assert not re.search(r"[A-Za-z]", message), message
