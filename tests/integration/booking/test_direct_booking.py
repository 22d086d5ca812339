"""Issue 26, item 15: ``directBooking`` is what the hub's answers said (it lists no flag): true once it booked a
specialty without a referral, false once it refused one for want of a referral, null before either."""

from __future__ import annotations

from typing import Any

import pytest

from backend.booking import schema
from backend.directory import schema as directory_schema
from tests.support.booking import BOOK, CARDIOLOGIST, HOSPITAL_MO, BookingEnv, call, env, key
from tests.support.client import app_client, gql
from tests.support.identity import auth_headers, token_for

pytestmark = pytest.mark.dialect
_ = env  # the fixture

SPECIALTIES = "{ specialties { code directBooking } }"


async def _direct_booking(client: Any) -> dict[str, bool | None]:
    body = await gql(client, SPECIALTIES)
    assert "errors" not in body, body
    return {s["code"]: s["directBooking"] for s in body["data"]["specialties"]}


async def test_direct_booking_is_learned_from_the_hubs_answers(env: BookingEnv) -> None:
    runtime = env.runtime
    patient = await env.patient(0)
    headers = auth_headers(token_for(runtime, patient.id))
    async with app_client(runtime, [schema, directory_schema]) as client:
        assert await _direct_booking(client) == {"76": None, "46": None, "49": None, "22": None}

        booked = await call(client, BOOK, headers, slot=(await env.slot_refs())[0], key=key())
        assert booked["__typename"] == "AppointmentBooked", booked
        refused = await call(client, BOOK, headers, slot=(await env.slot_refs(CARDIOLOGIST, HOSPITAL_MO))[0], key=key())
        assert refused["code"] == "REFERRAL_REQUIRED", refused  # the unit rolled back; what it taught stays

        learned = await _direct_booking(client)
    assert learned == {"76": True, "46": None, "49": None, "22": False}
    assert env.state.calls["SetAppointment"] == 2
