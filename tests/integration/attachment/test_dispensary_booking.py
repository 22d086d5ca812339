"""Issue 18: a dispensary appointment is booked only at the clinic of attachment (the attachment service
says which); an ordinary one anywhere, as before."""

from __future__ import annotations

from typing import Any

from backend.booking import schema as booking_schema
from integrations.common.faults import Fault
from tests.support.booking import ADULT_MO, EYE, OTHER_MO, THERAPIST_2, TOMORROW, call, key
from tests.support.client import app_client
from tests.support.home_visits import VisitEnv
from tests.support.identity import auth_headers, token_for

BOOK = (
    "mutation($slot: String!, $key: String!, $purpose: VisitPurposeEnum!) {"
    " bookAppointment(slot: $slot, idempotencyKey: $key, purpose: $purpose) {"
    " __typename ... on AppointmentBooked { appointment { id moId } } ... on Problem { code message } } }"
)
HOLD = (
    "mutation($slot: String!, $key: String!, $purpose: VisitPurposeEnum!) {"
    " holdSlot(slot: $slot, idempotencyKey: $key, purpose: $purpose) {"
    " __typename ... on SlotHeld { hold { id } } ... on Problem { code message } } }"
)


async def test_a_dispensary_visit_is_booked_only_at_the_clinic_of_attachment(visits: VisitEnv) -> None:
    runtime, env = visits.runtime, visits.booking
    patient = await visits.adult(17)  # attached to ADULT_MO in the register
    headers = auth_headers(token_for(runtime, patient.id))
    elsewhere = await env.slot_refs(THERAPIST_2, OTHER_MO, TOMORROW)
    at_home = await env.slot_refs(EYE, ADULT_MO, TOMORROW)  # another specialty than the one booked elsewhere
    calls_before = env.state.calls["SetAppointment"]

    async def book(query: str, slot: str, purpose: str) -> dict[str, Any]:
        return await call(client, query, headers, slot=slot, key=key(), purpose=purpose)

    async with app_client(runtime, [booking_schema]) as client:
        for query in (HOLD, BOOK):
            refused = await book(query, elsewhere[0], "DISPENSARY")
            assert refused["code"] == "DISPENSARY_NOT_AT_ATTACHED_CLINIC", refused
            assert "поликлинике, к которой вы прикреплены" in refused["message"]
        assert env.state.calls["SetAppointment"] == calls_before  # refused before the hub was asked

        visits.attachment.faults.force(Fault.ERROR)  # the attachment cannot be checked: refused, said why
        unknown = await book(BOOK, at_home[0], "DISPENSARY")
        assert unknown["code"] == "DISPENSARY_NOT_AT_ATTACHED_CLINIC" and "не удалось" in unknown["message"]

        dispensary = await book(BOOK, at_home[1], "DISPENSARY")
        assert dispensary["__typename"] == "AppointmentBooked", dispensary
        ordinary = await book(BOOK, elsewhere[1], "GENERAL")
    assert ordinary["__typename"] == "AppointmentBooked", ordinary
    assert ordinary["appointment"]["moId"] == OTHER_MO
