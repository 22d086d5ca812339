"""The $bulk-publish manifest and its NDJSON files: valid FHIR R4 (fhir.resources), exactly the free slots,
regenerated incrementally; the public endpoints cached (ETag/304) and rate-limited (429)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot
from sqlalchemy import update

from backend.booking import service as booking
from backend.directory.models import Specialty
from backend.scheduling_links import routes, service
from tests.support.booking import ADULT_MO, CARDIOLOGIST, THERAPIST, BookingEnv, ctx_for
from tests.support.client import app_client
from tests.support.waitlist import book_slot, cancel

pytestmark = pytest.mark.dialect
MODELS: dict[str, Any] = {"Location": Location, "Schedule": Schedule, "Slot": Slot}


async def _files(env: BookingEnv) -> dict[str, list[dict[str, Any]]]:
    """Every file the manifest names, each line validated as its FHIR R4 resource."""
    files: dict[str, list[dict[str, Any]]] = {}
    async with app_client(env.runtime) as client:
        answer = await client.get("/api/v1/scheduling/$bulk-publish")
        assert answer.status_code == 200
        manifest = answer.json()
        assert manifest["error"] == [] and manifest["transactionTime"]
        assert [o["type"] for o in manifest["output"]] == ["Location", "Schedule", "Slot"]
        for output in manifest["output"]:
            got = await client.get(urlsplit(output["url"]).path)
            assert got.status_code == 200 and got.headers["content-type"].startswith("application/fhir+ndjson")
            lines = [orjson.loads(line) for line in got.text.splitlines()]
            for line in lines:
                assert line["resourceType"] == output["type"]
                MODELS[output["type"]].model_validate(line)  # raises on anything FHIR R4 does not allow
            files[output["type"]] = lines
    return files


async def _expected_free(env: BookingEnv, taken: set[str], *, narrow: bool = True) -> set[tuple[str, str]]:
    """(FHIR Slot id, start) of every slot the hub lists free for the published doctors, less ``taken``."""
    first = env.clock.now.date()
    now = env.clock()
    expected = set()
    for mo in env.region.organisations:
        for doctor in mo.doctors:
            if doctor.id == CARDIOLOGIST and narrow:  # booked by referral only: not published
                continue
            for s in await env.client.get_slots(mo.id, doctor.id, first, first + timedelta(days=service.DAYS)):
                start = booking.to_utc(env.runtime, s.start)
                if start > now and s.id not in taken:
                    expected.add((hashlib.sha256(f"{mo.id}|{s.id}".encode()).hexdigest()[:64], start.isoformat()))
    return expected


async def _narrow_cardiology(env: BookingEnv) -> None:
    """The directory learns (as the referral work will tell it) that cardiology is booked by referral only."""
    async with env.runtime.sessionmaker() as session, session.begin():
        await session.execute(update(Specialty).where(Specialty.code == "22").values(direct_booking=False))


async def test_the_files_are_fhir_r4_and_list_exactly_the_free_slots(env: BookingEnv) -> None:
    runtime = env.runtime
    await _narrow_cardiology(env)
    first = await service.regenerate(runtime)
    assert first.written > 0 and first.failures == []
    # One slot booked, one held: neither is free any more.
    patient, other = await env.patient(0), await env.patient(1)
    _, booked = await book_slot(env, patient.id)
    held = booking.parse_ref((await env.slot_refs(THERAPIST))[0])
    async with booking.booking_unit(runtime, ctx_for(other.id)) as uow:
        await booking.hold_slot(uow, other.id, held)
    again = await service.regenerate(runtime)
    assert (again.written, again.deleted) == (2, 0)  # only the two doctors' slot parts changed
    assert again.unchanged == first.written - 2

    files = await _files(env)
    assert {(s["id"], s["start"]) for s in files["Slot"]} == await _expected_free(env, {booked.slot_id, held.slot_id})
    assert all(s["status"] == "free" for s in files["Slot"])
    schedules = {s["id"]: s for s in files["Schedule"]}
    locations = {loc["id"] for loc in files["Location"]}
    assert all(s["schedule"]["reference"].removeprefix("Schedule/") in schedules for s in files["Slot"])
    assert all(s["actor"][0]["reference"].removeprefix("Location/") in locations for s in schedules.values())
    assert not any(CARDIOLOGIST in key for key in schedules)
    assert ADULT_MO in locations

    # The deep link opens our booking on that very slot; a taken slot says so.
    link = next(e["valueUrl"] for e in files["Slot"][0]["extension"] if e["url"] == service.DEEP_LINK)
    ref = urlsplit(link).path.rsplit("/", 1)[-1]
    assert booking.SlotRef.decode(ref)
    taken_ref = booked.encode()
    async with app_client(runtime) as client:
        page = await client.get(urlsplit(link).path)
        gone = await client.get(f"/api/v1/scheduling/book/{taken_ref}")
    assert page.status_code == 200 and f"{routes.APP_LINK}{ref}" in page.text
    assert gone.status_code == 410


async def test_a_freed_slot_is_republished_for_its_doctor_at_once(env: BookingEnv) -> None:
    runtime = env.runtime
    patient = await env.patient(0)
    appointment_id, ref = await book_slot(env, patient.id)
    await service.regenerate(runtime)
    slot_id = hashlib.sha256(f"{ref.mo_id}|{ref.slot_id}".encode()).hexdigest()[:64]
    assert slot_id not in {s["id"] for s in (await _files(env))["Slot"]}
    await cancel(env, patient.id, appointment_id)  # booking's hook republishes that doctor
    assert slot_id in {s["id"] for s in (await _files(env))["Slot"]}


async def test_cached_and_rate_limited(env: BookingEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    await service.regenerate(env.runtime)
    async with app_client(env.runtime) as client:
        first = await client.get("/api/v1/scheduling/slots.ndjson")
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == routes.CACHE_CONTROL
        same = await client.get("/api/v1/scheduling/slots.ndjson", headers={"If-None-Match": etag})
        assert same.status_code == 304 and same.content == b""
        monkeypatch.setattr(routes, "RATE_LIMIT", 0)
        refused = await client.get("/api/v1/scheduling/slots.ndjson")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == str(routes.RATE_WINDOW_S)
    assert refused.json()["code"] == "TOO_MANY_REQUESTS" and "Слишком много" in refused.json()["message"]
