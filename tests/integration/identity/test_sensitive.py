"""Sensitive actions of a 122 operator: cancelling or rescheduling a caller's appointment needs the caller's
SMS code (``confirmOnBehalfCode``); booking and viewing do not; patients and kiosk sessions are never asked."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from backend.audit.models import AuditEvent
from backend.booking import service
from backend.booking.models import Appointment
from backend.identity import policy
from backend.identity.service import memory_sms
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from tests.support.booking import (
    BOOK,
    CANCEL,
    EYE,
    MINE,
    RESCHEDULE,
    THERAPIST,
    BookingEnv,
    call,
    key,
)
from tests.support.client import gql
from tests.support.identity import (
    auth_headers,
    identity_client,
    kiosk_session_token,
    operator_on_behalf_token,
    operator_token,
    token_for,
)

pytestmark = pytest.mark.dialect

OPEN = """mutation($b: Date!, $p: String) {
  openOnBehalfSession(birthDate: $b, omsPolicy: $p, sendSmsCode: true) {
    __typename ... on Problem { code message } ... on OnBehalfSession { accessToken scopes smsCodeSent }
  }
}"""
CONFIRM_CODE = """mutation($c: String!) {
  confirmOnBehalfCode(code: $c) {
    __typename ... on Problem { code message } ... on OnBehalfSession { accessToken scopes }
  }
}"""
REFUSED = {
    "__typename": "ConfirmationRequired",
    "code": "CONFIRMATION_REQUIRED",
    "message": (
        "Для этого действия подтвердите личность звонящего: попросите его продиктовать код из СМС, "
        "отправленный на его телефон."
    ),
}


async def _outbox_rows(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def _status(runtime: Runtime, appointment_id: str) -> str:
    async with runtime.sessionmaker() as session:
        row = await session.get(Appointment, uuid.UUID(appointment_id))
    assert row is not None
    return row.status


def _problem(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: answer.get(k) for k in ("__typename", "code", "message")}


async def _open_on_behalf(client: httpx.AsyncClient, runtime: Runtime, env: BookingEnv, i: int) -> tuple[Any, str]:
    """A staff login identifies the caller region person ``i`` and has an SMS code sent to their phone."""
    caller = await env.patient(i)
    staff = auth_headers(await operator_token(runtime, operator_id="op-122-sensitive"))
    opened = await call(client, OPEN, staff, b=caller.birth_date.isoformat(), p=caller.oms_policy)
    assert opened["__typename"] == "OnBehalfSession", opened
    assert opened["smsCodeSent"] is True
    assert policy.SCOPE_SENSITIVE not in opened["scopes"]
    return caller, opened["accessToken"]


async def test_an_operator_cancels_or_reschedules_only_after_the_callers_sms_code(env: BookingEnv) -> None:
    rt = env.runtime
    async with identity_client(rt) as client:
        caller, token = await _open_on_behalf(client, rt, env, 1)
        operator = auth_headers(token)

        # Booking and listing need no code.
        first_slot, new_slot = (await env.slot_refs(EYE))[0], (await env.slot_refs(EYE))[3]
        booked = await call(client, BOOK, operator, slot=first_slot, key=key())
        assert booked["__typename"] == "AppointmentBooked", booked
        appointment = booked["appointment"]
        await rt.relay.drain()
        assert [a["id"] for a in await call(client, MINE, operator)] == [appointment["id"]]

        # Cancelling and rescheduling without the code: refused, nothing changes, nothing sent upstream.
        before = await _outbox_rows(rt)
        cancel_key = key()
        cancel = await call(client, CANCEL, operator, id=appointment["id"], key=cancel_key)
        assert _problem(cancel) == REFUSED
        moved = await call(client, RESCHEDULE, operator, id=appointment["id"], slot=new_slot, key=key())
        assert _problem(moved) == REFUSED
        assert await _outbox_rows(rt) == before
        assert await _status(rt, appointment["id"]) == "booked"
        assert env.state.active_booking(service.SlotRef.decode(first_slot).slot_id) is not None
        assert env.state.active_booking(service.SlotRef.decode(new_slot).slot_id) is None

        # The caller dictates the SMS code: the elevated token reschedules, then cancels (the refused
        # attempt claimed no idempotency key, so the operator may retry with the same one).
        await rt.relay.drain()
        code = memory_sms(rt).last_code(caller.phone)
        confirmed = await call(client, CONFIRM_CODE, operator, c=code)
        assert policy.SCOPE_SENSITIVE in confirmed["scopes"], confirmed
        elevated = auth_headers(confirmed["accessToken"])
        moved = await call(client, RESCHEDULE, elevated, id=appointment["id"], slot=new_slot, key=key())
        assert moved["__typename"] == "AppointmentRescheduled", moved
        assert moved["previous"]["status"] == "RESCHEDULED"
        await rt.relay.drain()
        cancelled = await call(client, CANCEL, elevated, id=moved["appointment"]["id"], key=cancel_key)
        assert cancelled["__typename"] == "AppointmentCancelled", cancelled
        assert cancelled["appointment"]["status"] == "CANCEL_PENDING"
        await rt.relay.drain()
        # The token without the code still cannot act, even now that the session is elevated.
        again = await call(client, CANCEL, operator, id=moved["appointment"]["id"], key=key())
        assert _problem(again) == REFUSED
    assert await _status(rt, moved["appointment"]["id"]) == "cancelled_by_patient"
    async with rt.sessionmaker() as session:
        refusals = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "access.confirmation_required", AuditEvent.subject_id == caller.id
                )
            )
        ).all()
    assert len(refusals) == 3
    assert {(e.actor_kind, e.actor_id, e.channel, e.outcome) for e in refusals} == {
        ("operator", "op-122-sensitive", "callcentre", "CONFIRMATION_REQUIRED")
    }


async def test_patients_and_kiosk_sessions_need_no_code(env: BookingEnv) -> None:
    rt = env.runtime
    async with identity_client(rt) as client:
        for i, headers in enumerate(
            [
                auth_headers(token_for(rt, (await env.patient(2)).id)),
                auth_headers(await kiosk_session_token(rt, (await env.patient(3)).id)),
                auth_headers(await operator_on_behalf_token(rt, (await env.patient(4)).id, sensitive=True)),
            ]
        ):
            booked = await call(client, BOOK, headers, slot=(await env.slot_refs(THERAPIST))[i], key=key())
            assert booked["__typename"] == "AppointmentBooked", booked
            await rt.relay.drain()
            cancelled = await call(client, CANCEL, headers, id=booked["appointment"]["id"], key=key())
            assert cancelled["__typename"] == "AppointmentCancelled", cancelled
            await rt.relay.drain()


async def test_the_refusal_is_a_typed_problem_in_the_schema(env: BookingEnv) -> None:
    rt = env.runtime
    caller = await env.patient(5)
    operator = auth_headers(await operator_on_behalf_token(rt, caller.id))
    async with identity_client(rt) as client:
        booked = await call(client, BOOK, operator, slot=(await env.slot_refs(THERAPIST))[2], key=key())
        typed = await gql(
            client,
            "mutation($id: UUID!, $key: String!) { cancelAppointment(appointmentId: $id, idempotencyKey: $key) {"
            " ... on ConfirmationRequired { code message } } }",
            {"id": booked["appointment"]["id"], "key": key()},
            headers=operator,
        )
    assert "errors" not in typed, typed
    assert typed["data"]["cancelAppointment"] == {"code": REFUSED["code"], "message": REFUSED["message"]}
