"""Staff logins: unknown logins lock as accounts do (logins cannot be enumerated); a reused TOTP code gets
its own hint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest

from backend.identity import staff, tokens
from backend.runtime import Runtime
from tests.support.client import gql
from tests.support.identity import identity_client

pytestmark = pytest.mark.dialect

PASSWORD = "correct horse battery staple"
LOGIN = """mutation($l: String!, $p: String!, $t: String!) {
  staffLogin(login: $l, password: $p, totpCode: $t) {
    __typename ... on Problem { code message }
  }
}"""


@pytest.fixture
def clock(runtime: Runtime) -> dict[str, datetime]:
    moment = {"now": datetime(2025, 3, 3, 9, 0, 7, tzinfo=UTC)}
    tokens.set_clock(runtime, lambda: moment["now"])
    return moment


async def _staff(runtime: Runtime) -> str:
    async with runtime.sessionmaker() as session, session.begin():
        _, secret = await staff.create_staff(
            session, login="petrova", full_name="Петрова Ольга", password=PASSWORD, at=tokens.now(runtime)
        )
    return secret


async def _answers(client: Any, runtime: Runtime, login: str, secret: str) -> list[str]:
    """Five wrong passwords, then the right one (with a fresh code): the codes answered."""
    answers = []
    for _ in range(staff.MAX_FAILED_LOGINS):
        body = await gql(client, LOGIN, {"l": login, "p": "wrong", "t": pyotp.TOTP(secret).at(tokens.now(runtime))})
        answers.append(body["data"]["staffLogin"].get("code") or body["data"]["staffLogin"]["__typename"])
    body = await gql(client, LOGIN, {"l": login, "p": PASSWORD, "t": pyotp.TOTP(secret).at(tokens.now(runtime))})
    answers.append(body["data"]["staffLogin"].get("code") or body["data"]["staffLogin"]["__typename"])
    return answers


async def test_unknown_and_known_logins_answer_alike(runtime: Runtime, clock: dict[str, datetime]) -> None:
    secret = await _staff(runtime)
    async with identity_client(runtime) as client:
        known = await _answers(client, runtime, "petrova", secret)
        unknown = await _answers(client, runtime, "nobody-here", secret)
        clock["now"] += staff.LOCKOUT + timedelta(seconds=30)
        later = await gql(client, LOGIN, {"l": "nobody-here", "p": "x", "t": "000000"})
    assert known == ["INVALID_CREDENTIALS"] * staff.MAX_FAILED_LOGINS + ["ACCOUNT_LOCKED"]
    assert unknown == known
    assert later["data"]["staffLogin"]["code"] == "INVALID_CREDENTIALS"  # the lock ends as an account's does


async def test_a_reused_totp_code_gets_its_own_hint(runtime: Runtime, clock: dict[str, datetime]) -> None:
    secret = await _staff(runtime)
    code = pyotp.TOTP(secret).at(tokens.now(runtime))
    async with identity_client(runtime) as client:
        first = await gql(client, LOGIN, {"l": "petrova", "p": PASSWORD, "t": code})
        again = await gql(client, LOGIN, {"l": "petrova", "p": PASSWORD, "t": code})
        wrong = await gql(client, LOGIN, {"l": "petrova", "p": PASSWORD, "t": "000000" if code != "000000" else "1"})
    assert first["data"]["staffLogin"]["__typename"] == "StaffSession"
    hint = again["data"]["staffLogin"]
    assert hint["code"] == "INVALID_CREDENTIALS"
    assert "уже использован" in hint["message"]
    assert wrong["data"]["staffLogin"]["message"] == "Неверный логин, пароль или одноразовый код."
