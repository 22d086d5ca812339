"""122 operators: password + TOTP login, on-behalf sessions by identification, SMS-elevated sessions."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import jwt
import pyotp
import pytest
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.identity import staff, tokens
from backend.identity.models import StaffAccount
from backend.identity.service import memory_sms
from backend.runtime import Runtime
from tests.support.client import gql
from tests.support.identity import auth_headers, identity_client, make_patient

pytestmark = pytest.mark.dialect

PASSWORD = "correct horse battery staple"
LOGIN = """mutation($l: String!, $p: String!, $t: String!) {
  staffLogin(login: $l, password: $p, totpCode: $t) {
    __typename ... on Problem { code message } ... on StaffSession { accessToken expiresIn operator { id fullName } }
  }
}"""
OPEN = """mutation($b: Date!, $p: String, $s: String, $sms: Boolean! = false) {
  openOnBehalfSession(birthDate: $b, omsPolicy: $p, snils: $s, sendSmsCode: $sms) {
    __typename ... on Problem { code message }
    ... on OnBehalfSession { accessToken expiresIn scopes smsCodeSent patient { id shortName } }
  }
}"""
CONFIRM = """mutation($c: String!) {
  confirmOnBehalfCode(code: $c) {
    __typename ... on Problem { code message } ... on OnBehalfSession { accessToken scopes }
  }
}"""


@pytest.fixture
def clock(runtime: Runtime) -> dict[str, datetime]:
    moment = {"now": datetime(2025, 3, 3, 9, 0, 7, tzinfo=tokens.utcnow().tzinfo)}
    tokens.set_clock(runtime, lambda: moment["now"])
    return moment


async def _operator(runtime: Runtime) -> tuple[str, str]:
    async with runtime.sessionmaker() as session, session.begin():
        row, secret = await staff.create_staff(
            session, login="ivanova", full_name="Иванова Ольга", password=PASSWORD, at=tokens.now(runtime)
        )
    return str(row.id), secret


async def _login(client: Any, runtime: Runtime, secret: str, *, password: str = PASSWORD) -> dict[str, Any]:
    code = pyotp.TOTP(secret).at(tokens.now(runtime))
    body = await gql(client, LOGIN, {"l": "ivanova", "p": password, "t": code})
    result: dict[str, Any] = body["data"]["staffLogin"]
    return result


async def test_operator_logs_in_identifies_a_caller_and_acts_for_them(
    runtime: Runtime, clock: dict[str, datetime]
) -> None:
    operator_id, secret = await _operator(runtime)
    caller = await make_patient(runtime, birth_date=date(1960, 1, 2))
    async with identity_client(runtime) as client:
        login = await _login(client, runtime, secret)
        assert login["__typename"] == "StaffSession"
        assert login["operator"] == {"id": operator_id, "fullName": "Иванова Ольга"}
        staff_headers = auth_headers(login["accessToken"])
        opened = (await gql(client, OPEN, {"b": "1960-01-02", "p": caller.oms_policy}, headers=staff_headers))["data"][
            "openOnBehalfSession"
        ]
        assert opened["__typename"] == "OnBehalfSession", opened
        assert opened["patient"] == {"id": str(caller.id), "shortName": "Тестова А. С."}
        # Never documents.
        assert sorted(opened["scopes"]) == ["attachment", "booking", "drugs", "home_visits", "profile", "tickets"]
        assert opened["expiresIn"] <= runtime.settings.jwt_access_ttl_s
        claims = jwt.decode(opened["accessToken"], options={"verify_signature": False})
        assert claims["sub"] == str(caller.id)
        assert claims["act"] == {"sub": operator_id}
        assert claims["channel"] == "callcentre"
        me = await gql(client, "{ me { id } }", headers=auth_headers(opened["accessToken"]))
        assert me["data"]["me"]["id"] == str(caller.id)
        by_snils = await gql(
            client,
            OPEN,
            {"b": "1960-01-02", "s": caller.snils.replace("-", "").replace(" ", "")},
            headers=staff_headers,
        )  # type: ignore[union-attr]
        assert by_snils["data"]["openOnBehalfSession"]["__typename"] == "OnBehalfSession"
    async with runtime.sessionmaker() as session:
        events = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "identity.on_behalf_opened"))
        ).all()
    assert {(e.actor_kind, e.actor_id, e.subject_id, e.channel) for e in events} == {
        ("operator", operator_id, caller.id, "callcentre")
    }


async def test_staff_login_refuses_bad_credentials_replayed_totp_and_locks_after_failures(
    runtime: Runtime, clock: dict[str, datetime]
) -> None:
    _, secret = await _operator(runtime)
    async with identity_client(runtime) as client:
        ok = await _login(client, runtime, secret)
        assert ok["__typename"] == "StaffSession"
        replay = await _login(client, runtime, secret)  # the same TOTP code again
        assert replay["code"] == "INVALID_CREDENTIALS"
        clock["now"] += timedelta(seconds=30)
        for _ in range(staff.MAX_FAILED_LOGINS - 1):  # one failure was the replay
            wrong = await _login(client, runtime, secret, password="wrong")
            assert wrong["code"] == "INVALID_CREDENTIALS"
            assert wrong["message"] == "Неверный логин, пароль или одноразовый код."
        locked = await _login(client, runtime, secret)
        assert locked["code"] == "ACCOUNT_LOCKED"
        clock["now"] += staff.LOCKOUT + timedelta(seconds=30)
        assert (await _login(client, runtime, secret))["__typename"] == "StaffSession"
        unknown = await gql(client, LOGIN, {"l": "nobody", "p": "x", "t": "000000"})
        assert unknown["data"]["staffLogin"]["code"] == "INVALID_CREDENTIALS"


async def test_identification_failures_are_counted_and_lock_with_a_russian_message(
    runtime: Runtime, clock: dict[str, datetime]
) -> None:
    _, secret = await _operator(runtime)
    caller = await make_patient(runtime, birth_date=date(1970, 5, 5))
    limit = runtime.settings.kiosk_identify_max_attempts
    async with identity_client(runtime) as client:
        headers = auth_headers((await _login(client, runtime, secret))["accessToken"])
        for _ in range(limit):
            miss = await gql(client, OPEN, {"b": "1970-05-06", "p": caller.oms_policy}, headers=headers)
            assert miss["data"]["openOnBehalfSession"]["code"] == "PATIENT_NOT_IDENTIFIED"
        locked = await gql(client, OPEN, {"b": "1970-05-05", "p": caller.oms_policy}, headers=headers)
        bad = await gql(client, OPEN, {"b": "1970-05-05", "p": "123"}, headers=headers)
    assert locked["data"]["openOnBehalfSession"] == {
        "__typename": "IdentificationLocked",
        "code": "IDENTIFICATION_LOCKED",
        "message": "Слишком много неудачных попыток идентификации этого человека. Повторите через 15 минут.",
    }
    assert bad["data"]["openOnBehalfSession"]["code"] == "INVALID_INPUT"
    async with runtime.sessionmaker() as session:
        failures = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "identity.identification_failed", AuditEvent.subject_id == caller.id
                )
            )
        ).all()
    assert len(failures) == limit  # the caller sees the attempts on their policy in their access log


async def test_sms_code_elevates_the_on_behalf_session(runtime: Runtime, clock: dict[str, datetime]) -> None:
    _, secret = await _operator(runtime)
    caller = await make_patient(runtime, birth_date=date(1955, 8, 9), phone="+79280001122")
    async with identity_client(runtime) as client:
        headers = auth_headers((await _login(client, runtime, secret))["accessToken"])
        opened = (await gql(client, OPEN, {"b": "1955-08-09", "p": caller.oms_policy, "sms": True}, headers=headers))[
            "data"
        ]["openOnBehalfSession"]
        assert opened["smsCodeSent"] is True
        await runtime.relay.drain()
        code = memory_sms(runtime).last_code("+79280001122")
        session_headers = auth_headers(opened["accessToken"])
        wrong = await gql(client, CONFIRM, {"c": "000000" if code != "000000" else "111111"}, headers=session_headers)
        assert wrong["data"]["confirmOnBehalfCode"]["code"] == "WRONG_CODE"
        right = await gql(client, CONFIRM, {"c": code}, headers=session_headers)
        assert "sensitive" in right["data"]["confirmOnBehalfCode"]["scopes"]
        again = await gql(client, CONFIRM, {"c": code}, headers=session_headers)
        assert again["data"]["confirmOnBehalfCode"]["code"] == "CODE_EXPIRED"  # single use
        staff_only = await gql(client, CONFIRM, {"c": code}, headers=headers)
        assert staff_only["data"]["confirmOnBehalfCode"]["code"] == "ACCESS_DENIED"
    async with runtime.sessionmaker() as session:
        account = (await session.scalars(select(StaffAccount))).one()
    assert account.password_hash.startswith("scrypt$")
    assert PASSWORD not in account.password_hash
