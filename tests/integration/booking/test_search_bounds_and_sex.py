"""``nearestFreeSlots`` refuses a point off the globe and windows too large (a typed INVALID_INPUT naming
the field, not an empty list); an obstetrician-gynaecologist is booked for women only."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from backend.adapters import set_booking_hub
from backend.booking import schema, service
from backend.directory.service import sync_directory
from backend.runtime import Runtime
from integrations.common.faults import FaultProfile
from integrations.common.http import build_http_client
from integrations.demo_region.model import Specialty
from integrations.fer import FerClient
from integrations.fer.simulator import create_fer_simulator, simulator_state
from tests.support.booking import (
    ADULT_MO,
    BOOK,
    HOLD,
    TOMORROW,
    BookingEnv,
    Clock,
    _doctor,
    call,
    env,
    key,
    make_region,
)
from tests.support.client import app_client, gql
from tests.support.identity import auth_headers, make_patient, token_for

pytestmark = pytest.mark.dialect
_ = env  # the fixture

NEAREST = (
    "query($lat: Float!, $lon: Float!, $radius: Float, $days: Int, $limit: Int) {"
    ' nearestFreeSlots(specialtyCode: "76", latitude: $lat, longitude: $lon, radiusKm: $radius, days: $days,'
    " limit: $limit) { moId slot { id } } }"
)
GYNAECOLOGIST = "doc-gyn-1"


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"lat": 444.0, "lon": 41.9}, "Широта"),
        ({"lat": -90.5, "lon": 41.9}, "Широта"),
        ({"lat": 45.0, "lon": 181.0}, "Долгота"),
        ({"lat": 45.0, "lon": 41.9, "days": 100000}, "Период"),
        ({"lat": 45.0, "lon": 41.9, "days": 0}, "Период"),
        ({"lat": 45.0, "lon": 41.9, "limit": 100000}, "Число талонов"),
        ({"lat": 45.0, "lon": 41.9, "limit": 0}, "Число талонов"),
        ({"lat": 45.0, "lon": 41.9, "radius": -1.0}, "Радиус"),
        ({"lat": 45.0, "lon": 41.9, "radius": 5000.0}, "Радиус"),
    ],
    ids=[
        "lat-444",
        "lat-below",
        "lon-181",
        "days-100000",
        "days-0",
        "limit-100000",
        "limit-0",
        "radius-neg",
        "radius-5000",
    ],
)
async def test_nearest_free_slots_refuses_out_of_bounds_input(
    env: BookingEnv, variables: dict[str, Any], field: str
) -> None:
    async with app_client(env.runtime, [schema]) as client:
        body = await gql(client, NEAREST, variables)
    assert body.get("data") is None, body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert error["message"].startswith(field), error["message"]


async def test_nearest_free_slots_within_bounds_answers(env: BookingEnv) -> None:
    async with app_client(env.runtime, [schema]) as client:
        body = await gql(client, NEAREST, {"lat": 45.04, "lon": 41.97, "radius": 300.0, "days": 31, "limit": 50})
    assert "errors" not in body, body
    assert {n["moId"] for n in body["data"]["nearestFreeSlots"]} >= {ADULT_MO}


async def _env_with_gynaecologist(runtime: Runtime) -> BookingEnv:
    """The booking tests' region with an obstetrician-gynaecologist in the adults' polyclinic."""
    region = make_region()
    adult = next(o for o in region.organisations if o.id == ADULT_MO)
    gynaecologist = _doctor(GYNAECOLOGIST, "2", f"dep-{ADULT_MO}", "305", "Белова")
    region = replace(
        region,
        specialties=(
            *region.specialties,
            Specialty(code="2", name="Акушер-гинеколог", slot_minutes=20, direct_booking=True),
        ),
        organisations=tuple(
            replace(o, doctors=(*o.doctors, gynaecologist)) if o is adult else o for o in region.organisations
        ),
    )
    clock = Clock()
    app = create_fer_simulator(region, clock=clock, faults=FaultProfile())
    http = build_http_client("inprocess://fer", simulator_app=lambda: app, timeout_s=2.0)
    client = FerClient(http, guid="test-guid", timeout_s=2.0)
    set_booking_hub(runtime, client, http=http)
    service.set_clock(runtime, clock)
    summary = await sync_directory(runtime, hub=client)
    assert not summary.failures, summary.failures
    state = simulator_state(app)
    return BookingEnv(runtime, app, state, client, clock, region, state.faults)


async def test_an_obstetrician_gynaecologist_is_booked_for_women_only(runtime: Runtime) -> None:
    env = await _env_with_gynaecologist(runtime)
    refs = await env.slot_refs(GYNAECOLOGIST, ADULT_MO, TOMORROW)
    man = await make_patient(runtime, first_name="Иван", middle_name="Петрович", last_name="Петров", sex="M")
    woman = await env.patient(0)
    async with app_client(runtime, [schema]) as client:
        for query in (BOOK, HOLD):
            refused = await call(client, query, auth_headers(token_for(runtime, man.id)), slot=refs[0], key=key())
            assert refused["__typename"] == "SexRestricted", refused
            assert refused["code"] == "SEX_RESTRICTED" and "только женщины" in refused["message"]
        assert env.state.calls["SetAppointment"] == 0
        booked = await call(client, BOOK, auth_headers(token_for(runtime, woman.id)), slot=refs[0], key=key())
    assert booked["__typename"] == "AppointmentBooked", booked
    await runtime.relay.drain()
