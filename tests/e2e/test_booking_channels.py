"""End to end over HTTP, as each kind of caller: a mobile user, a 122 operator for a caller, a kiosk session;
and the remote-booking share the ministry's indicator asks for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

import httpx
import pytest

from backend.app import create_app
from backend.booking import schema, service
from backend.runtime import Runtime
from tests.support.booking import (
    ADULT_MO,
    BOOK,
    CANCEL,
    CONFIRM,
    EYE,
    HOLD,
    MINE,
    OTHER_MO,
    THERAPIST,
    TODAY,
    TOMORROW,
    BookingEnv,
    call,
    env,
    key,
)
from tests.support.identity import (
    auth_headers,
    identity_schema_modules,
    kiosk_session_token,
    operator_on_behalf_token,
    operator_token,
    token_for,
)

pytestmark = pytest.mark.dialect
_ = env

SEARCH = """
query($code: String!, $from: Date, $to: Date, $lat: Float, $lon: Float) {
  searchSlots(specialtyCode: $code, dateFrom: $from, dateTo: $to, latitude: $lat, longitude: $lon) {
    partial
    items { moId moName doctorId doctorName ownClinic distanceKm slots { id start room number } }
  }
}"""
NEAREST = """
query($code: String!, $lat: Float!, $lon: Float!) {
  nearestFreeSlots(specialtyCode: $code, latitude: $lat, longitude: $lon, radiusKm: 50) {
    moId distanceKm slot { id start }
  }
}"""
SHARE = """
query($from: Date!, $to: Date!) {
  remoteBookingShare(dateFrom: $from, dateTo: $to) {
    total remote share shareWithKiosk target byChannel { channel count remote }
  }
}"""


@asynccontextmanager
async def booking_client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime, extra_schema_modules=[*identity_schema_modules(), schema])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


async def test_a_mobile_user_searches_holds_confirms_sees_and_cancels(env: BookingEnv) -> None:
    rt = env.runtime
    patient = await env.patient(0)
    headers = auth_headers(token_for(rt, patient.id))
    async with booking_client(rt) as client:
        found = await call(
            client, SEARCH, headers, code="76", **{"from": TOMORROW.isoformat(), "to": TOMORROW.isoformat()}
        )
        assert not found["partial"]
        assert [i["moId"] for i in found["items"]] == [ADULT_MO, OTHER_MO]  # by name without a location
        first = found["items"][0]
        assert (first["doctorId"], len(first["slots"])) == (THERAPIST, 16)
        assert first["slots"][0]["room"] == "101"

        held = await call(client, HOLD, headers, slot=first["slots"][3]["id"], key=key())
        booked = await call(client, CONFIRM, headers, hold=held["hold"]["id"], key=key())
        appointment = booked["appointment"]
        assert appointment["channel"] == "mobile"

        # The booked slot is gone from search; the own clinic now comes first even when farther away.
        again = await call(
            client,
            SEARCH,
            headers,
            code="76",
            lat=45.20,
            lon=42.10,
            **{"from": TOMORROW.isoformat(), "to": TOMORROW.isoformat()},
        )
        assert [(i["moId"], i["ownClinic"]) for i in again["items"]] == [(ADULT_MO, True), (OTHER_MO, False)]
        assert len(again["items"][0]["slots"]) == 15
        assert again["items"][1]["distanceKm"] == 0.0

        nearest = await call(client, NEAREST, headers, code="76", lat=45.20, lon=42.10)
        assert [n["moId"] for n in nearest][:2] == [OTHER_MO, ADULT_MO]  # same earliest time: nearer first

        upcoming = await call(client, MINE, headers, upcoming=True)
        assert [a["id"] for a in upcoming] == [appointment["id"]]
        pdf = await client.get(appointment["ticketUrl"], headers=headers)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

        cancelled = await call(client, CANCEL, headers, id=appointment["id"], key=key())
        assert cancelled["appointment"]["status"] == "CANCEL_PENDING"
        await rt.relay.drain()
        past = await call(client, MINE, headers, upcoming=False)
        assert [a["status"] for a in past] == ["CANCELLED_BY_PATIENT"]
        assert await call(client, MINE, headers, upcoming=True) == []


async def test_a_122_operator_books_for_a_caller(env: BookingEnv) -> None:
    rt = env.runtime
    caller = await env.patient(1)
    operator = auth_headers(await operator_on_behalf_token(rt, caller.id, operator_id="op-122-7"))
    async with booking_client(rt) as client:
        slot = (await env.slot_refs(EYE))[0]
        booked = await call(client, BOOK, operator, slot=slot, key=key())
        assert booked["__typename"] == "AppointmentBooked"
        a = booked["appointment"]
        assert (a["channel"], a["actorKind"], a["onBehalf"]) == ("callcentre", "operator", True)
        await rt.relay.drain()
        mine = await call(client, MINE, auth_headers(token_for(rt, caller.id)))
        assert [m["id"] for m in mine] == [a["id"]]
    upstream = env.state.active_booking(service.SlotRef.decode(slot).slot_id)
    assert upstream is not None and int(upstream.source) == 1  # CALL_CENTRE


async def test_a_kiosk_session_books_and_prints_the_ticket(env: BookingEnv) -> None:
    rt = env.runtime
    patient = await env.patient(2)
    kiosk = auth_headers(await kiosk_session_token(rt, patient.id, kiosk_id="kiosk-gp1-hall"))
    async with booking_client(rt) as client:
        booked = await call(client, BOOK, kiosk, slot=(await env.slot_refs())[1], key=key())
        a = booked["appointment"]
        assert (a["channel"], a["actorKind"], a["onBehalf"]) == ("kiosk", "kiosk", True)
        await rt.relay.drain()  # SQLite: one writer at a time (the notification runs in this process)
        pdf = await client.get(a["ticketUrl"], headers=kiosk)
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 2000
        stranger = auth_headers(await kiosk_session_token(rt, (await env.patient(3)).id))
        assert (await client.get(a["ticketUrl"], headers=stranger)).status_code == 404
        assert (await client.get(a["ticketUrl"])).status_code == 401
    upstream = env.state.active_booking(service.SlotRef.decode((await env.slot_refs())[0]).slot_id)
    assert upstream is None  # only the booked slot is taken
    assert [int(b.source) for b in env.state.bookings] == [2]  # INFOMAT


async def test_the_remote_booking_share_by_channel(env: BookingEnv) -> None:
    rt = env.runtime
    channels = ["mobile", "mobile", "callcentre", "kiosk"]
    async with booking_client(rt) as client:
        for i, channel in enumerate(channels):
            p = await env.patient(10 + i)
            if channel == "mobile":
                headers = auth_headers(token_for(rt, p.id))
            elif channel == "callcentre":
                headers = auth_headers(await operator_on_behalf_token(rt, p.id))
            else:
                headers = auth_headers(await kiosk_session_token(rt, p.id))
            booked = await call(client, BOOK, headers, slot=(await env.slot_refs())[i], key=key())
            assert booked["__typename"] == "AppointmentBooked"
            await rt.relay.drain()  # SQLite: one writer at a time
        staff = auth_headers(await operator_token(rt))
        period = {"from": TODAY.isoformat(), "to": date(2025, 3, 31).isoformat()}
        share = await call(client, SHARE, staff, **period)
        patient_refused = await client.post(
            "/graphql",
            json={"query": SHARE, "variables": period},
            headers=auth_headers(token_for(rt, (await env.patient(30)).id)),
        )
    assert (share["total"], share["remote"], share["share"], share["shareWithKiosk"]) == (4, 3, 0.75, 1.0)
    assert share["target"] == 0.63
    assert {c["channel"]: (c["count"], c["remote"]) for c in share["byChannel"]} == {
        "mobile": (2, True),
        "epgu": (0, True),
        "callcentre": (1, True),
        "kiosk": (1, False),
        "system": (0, False),
    }
    assert patient_refused.json()["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
