"""Availability search: own clinic first, distance, stale-while-revalidate, a slow hub kept out of the way;
and idempotent duplicates that arrive at the same moment."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy import update as sa_update

from backend.booking import cache, schema, service
from backend.booking.models import Appointment
from backend.core.uow import UnitOfWork
from backend.directory import service as directory
from backend.directory.models import Doctor
from backend.runtime import Runtime
from integrations.fer import BookingChannel
from tests.support.booking import (
    ADULT_MO,
    BOOK,
    OTHER_MO,
    THERAPIST,
    TOMORROW,
    BookingEnv,
    call,
    ctx_for,
)
from tests.support.client import app_client, gql
from tests.support.identity import auth_headers, token_for


class Ticker:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.dialect
async def test_search_orders_own_clinic_then_distance(env: BookingEnv) -> None:
    rt = env.runtime
    async with rt.sessionmaker() as session:
        found = await service.search(
            rt, session, specialty_code="76", date_from=TOMORROW, date_to=TOMORROW, near=(45.21, 42.11)
        )
        assert [i.mo.upstream_id for i in found.items] == [OTHER_MO, ADULT_MO]
        own = await service.search(
            rt,
            session,
            specialty_code="76",
            date_from=TOMORROW,
            date_to=TOMORROW,
            near=(45.21, 42.11),
            own_mo_id=ADULT_MO,
        )
        assert [(i.mo.upstream_id, i.own_clinic) for i in own.items] == [(ADULT_MO, True), (OTHER_MO, False)]
        near = await service.search(
            rt, session, specialty_code="76", date_from=TOMORROW, date_to=TOMORROW, near=(45.21, 42.11), radius_km=5
        )
        assert [i.mo.upstream_id for i in near.items] == [OTHER_MO]
        one = await service.search(
            rt, session, specialty_code="76", date_from=TOMORROW, date_to=TOMORROW, doctor_id=THERAPIST
        )
        assert [i.doctor.upstream_id for i in one.items] == [THERAPIST]
    assert service.haversine_km(45.04, 41.97, 45.20, 42.10) == pytest.approx(20.5, abs=0.5)


@pytest.mark.dialect
async def test_a_stale_entry_is_served_while_one_refresh_runs(env: BookingEnv) -> None:
    rt = env.runtime
    swr = cache.booking_cache(rt)
    ticker = Ticker()
    swr.clock = ticker
    first = await service.doctor_slots(rt, ADULT_MO, THERAPIST, TOMORROW, TOMORROW)
    calls = env.state.calls["GetAvaibleAppointments"]
    # Someone books the first slot at the registry; the hub turns slow.
    p = env.region.people[5]
    pid = (await env.client.check_patient(ADULT_MO, oms_policy=p.oms_policy, birth_date=p.birth_date)).patient_id
    await env.client.book(ADULT_MO, pid, first[0].id, channel=BookingChannel.REGISTRY)
    env.faults.profile.latency_ms = 1200  # a loaded machine cannot reach the hub first (timeout 2 s)
    ticker.t += swr.fresh_s + 1
    stale = await asyncio.gather(
        *(service.doctor_slots(rt, ADULT_MO, THERAPIST, TOMORROW, TOMORROW) for _ in range(10))
    )
    assert all(s == first for s in stale)  # answered from the cache, without waiting for the hub
    assert swr.refreshes == 1  # ten readers, one refresh
    assert env.state.calls["GetAvaibleAppointments"] == calls  # the refresh has not reached the hub yet
    await swr.drain()
    fresh = await service.doctor_slots(rt, ADULT_MO, THERAPIST, TOMORROW, TOMORROW)
    assert [s.id for s in fresh] == [s.id for s in first[1:]]
    env.faults.profile.latency_ms = 0


@pytest.mark.dialect
async def test_a_slow_clinic_is_left_out_of_the_answer_and_fills_the_cache(env: BookingEnv) -> None:
    rt = env.runtime
    env.faults.profile.latency_ms = 200
    async with rt.sessionmaker() as session:
        slow = await service.search(
            rt, session, specialty_code="76", date_from=TOMORROW, date_to=TOMORROW, deadline_s=0.01
        )
        assert slow.partial and slow.items == []
        await cache.booking_cache(rt).drain()
        env.faults.profile.latency_ms = 0
        warm = await service.search(rt, session, specialty_code="76", date_from=TOMORROW, date_to=TOMORROW)
    assert not warm.partial and len(warm.items) == 2


async def test_the_in_process_cache_expires_and_guards_markers() -> None:
    ticker = Ticker()
    backend = cache.MemoryBackend(clock=ticker)
    token = await backend.acquire("slot:1", 10)
    assert token and await backend.acquire("slot:1", 10) is None
    await backend.release("slot:1", "someone-else")
    assert await backend.acquire("slot:1", 10) is None
    ticker.t += 11
    assert await backend.acquire("slot:1", 10) is not None
    await backend.set("k", "v", 5)
    ticker.t += 6
    assert await backend.get("k") is None


@pytest.mark.postgres_only
async def test_concurrent_duplicates_with_one_key_book_once(env: BookingEnv) -> None:
    rt: Runtime = env.runtime
    patient = await env.patient(0)
    headers = auth_headers(token_for(rt, patient.id))
    slot = (await env.slot_refs())[4]
    async with app_client(rt, [schema]) as client:
        results = await asyncio.gather(*(call(client, BOOK, headers, slot=slot, key="dup-key") for _ in range(6)))
    assert {r["__typename"] for r in results} == {"AppointmentBooked"}
    assert len({r["appointment"]["id"] for r in results}) == 1
    assert env.state.calls["SetAppointment"] == 1
    async with rt.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Appointment)) == 1


@pytest.mark.dialect
async def test_held_and_booked_slots_vanish_from_search_and_come_back_when_released(env: BookingEnv) -> None:
    rt = env.runtime

    async def free_ids() -> list[str]:
        async with rt.sessionmaker() as session:
            found = await service.search(
                rt, session, specialty_code="76", date_from=TOMORROW, date_to=TOMORROW, doctor_id=THERAPIST
            )
        return [s.id for item in found.items for s in item.slots]

    before = await free_ids()
    assert len(before) >= 3
    refs = [service.SlotRef.decode(r) for r in await env.slot_refs()]
    by_id = {r.slot_id: r for r in refs}
    held_ref, booked_ref = by_id[before[0]], by_id[before[-1]]
    holder, booker = await env.patient(0), await env.patient(1)
    async with UnitOfWork(rt, ctx_for(holder.id)) as uow:
        hold = await service.hold_slot(uow, holder.id, held_ref)
    async with service.compensation_scope(rt), UnitOfWork(rt, ctx_for(booker.id)) as uow:
        await service.book_now(uow, booker.id, booked_ref)
    await rt.relay.drain()  # the booking's notification runs inline: SQLite has one writer at a time

    during = await free_ids()
    assert held_ref.slot_id not in during
    assert booked_ref.slot_id not in during
    assert during == [s for s in before if s not in (held_ref.slot_id, booked_ref.slot_id)]

    async with UnitOfWork(rt, ctx_for(holder.id)) as uow:
        await service.release_hold(uow, holder.id, hold.id)
    assert held_ref.slot_id in await free_ids()


@pytest.mark.dialect
async def test_a_process_answers_from_its_near_cache_for_local_s_then_from_the_shared_cache(env: BookingEnv) -> None:
    rt = env.runtime
    swr = cache.booking_cache(rt)
    ticker = Ticker()
    swr.clock = ticker
    first = await service.doctor_slots(rt, ADULT_MO, THERAPIST, TOMORROW, TOMORROW)
    assert await service.doctor_slots(rt, ADULT_MO, THERAPIST, TOMORROW, TOMORROW) is first  # decoded once
    # Another process refreshes the shared entry: the first slot was booked elsewhere.
    key = f"slots:{ADULT_MO}:{THERAPIST}:{TOMORROW.isoformat()}:{TOMORROW.isoformat()}"
    newer = orjson.dumps({"at": ticker.t, "value": [service._slot_to_json(s) for s in first[1:]]}).decode()
    await swr.backend.set(key, newer, swr.fresh_s + swr.stale_s)
    ticker.t += swr.local_s / 2
    assert await service.doctor_slots(rt, ADULT_MO, THERAPIST, TOMORROW, TOMORROW) is first  # still near
    ticker.t += swr.local_s
    later = await service.doctor_slots(rt, ADULT_MO, THERAPIST, TOMORROW, TOMORROW)
    assert [s.id for s in later] == [s.id for s in first[1:]]
    await swr.invalidate(key)  # gone from both
    assert key not in swr.local and await swr.backend.get(key) is None


@pytest.mark.dialect
async def test_search_reads_the_directory_again_once_its_cached_offering_is_dropped(env: BookingEnv) -> None:
    rt = env.runtime
    async with rt.sessionmaker() as session:
        before = await service.search(rt, session, specialty_code="76", date_from=TOMORROW, date_to=TOMORROW)
        assert THERAPIST in {i.doctor.upstream_id for i in before.items}
        # The doctor leaves the clinic; a sync writes that and drops the cached offering (forget_cached).
        async with rt.sessionmaker() as writer, writer.begin():
            await writer.execute(sa_update(Doctor).where(Doctor.upstream_id == THERAPIST).values(active=False))
        cached = await service.search(rt, session, specialty_code="76", date_from=TOMORROW, date_to=TOMORROW)
        assert THERAPIST in {i.doctor.upstream_id for i in cached.items}  # within CARD_TTL_S: the cached offering
    directory.forget_cached(rt)
    async with rt.sessionmaker() as session:
        after = await service.search(rt, session, specialty_code="76", date_from=TOMORROW, date_to=TOMORROW)
    assert THERAPIST not in {i.doctor.upstream_id for i in after.items}


@pytest.mark.dialect
async def test_a_cold_key_read_by_many_at_once_is_fetched_once(env: BookingEnv) -> None:
    rt = env.runtime
    swr = cache.booking_cache(rt)
    env.faults.profile.latency_ms = 100
    calls = env.state.calls["GetAvaibleAppointments"]
    lists = await asyncio.gather(
        *(service.doctor_slots(rt, ADULT_MO, THERAPIST, TOMORROW, TOMORROW) for _ in range(20))
    )
    env.faults.profile.latency_ms = 0
    assert env.state.calls["GetAvaibleAppointments"] == calls + 1 and swr.fetches == 1
    assert all([s.id for s in slots] == [s.id for s in lists[0]] for slots in lists)


async def test_a_failed_fetch_reaches_every_reader_and_the_next_read_tries_again() -> None:
    swr = cache.SwrCache(cache.MemoryBackend())
    attempts = 0

    async def broken() -> list[int]:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.01)
        raise RuntimeError("hub down")

    results = await asyncio.gather(*(swr.get_or_fetch("k", broken) for _ in range(5)), return_exceptions=True)
    assert attempts == 1 and all(isinstance(r, RuntimeError) for r in results)

    async def working() -> list[int]:
        return [1, 2]

    assert await swr.get_or_fetch("k", working) == [1, 2]


async def test_a_reader_waiting_on_a_cancelled_fetch_fetches_itself() -> None:
    swr = cache.SwrCache(cache.MemoryBackend())
    started = asyncio.Event()

    async def slow() -> list[int]:
        started.set()
        await asyncio.sleep(10)
        return [0]

    async def quick() -> list[int]:
        return [7]

    first = asyncio.create_task(swr.get_or_fetch("k", slow))
    await started.wait()
    second = asyncio.create_task(swr.get_or_fetch("k", quick))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == [7]
    assert first.cancelled()


async def test_slots_per_doctor_keeps_each_doctors_earliest_slots_and_refuses_a_bad_limit(env: BookingEnv) -> None:
    query = (
        'query($day: Date, $n: Int) { searchSlots(specialtyCode: "76", dateFrom: $day, dateTo: $day,'
        " slotsPerDoctor: $n) { items { doctorId slots { start } } } }"
    )
    day = TOMORROW.isoformat()
    async with app_client(env.runtime) as client:
        everything = await gql(client, query, {"day": day, "n": None})
        first_three = await gql(client, query, {"day": day, "n": 3})
        refused = [await gql(client, query, {"day": day, "n": n}) for n in (0, schema.MAX_SLOTS_PER_DOCTOR + 1)]
    full = {i["doctorId"]: [s["start"] for s in i["slots"]] for i in everything["data"]["searchSlots"]["items"]}
    limited = {i["doctorId"]: [s["start"] for s in i["slots"]] for i in first_three["data"]["searchSlots"]["items"]}
    assert len(full) == 2 and all(len(starts) > 3 for starts in full.values()), full
    assert limited == {doctor: sorted(starts)[:3] for doctor, starts in full.items()}
    for body in refused:
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
        assert "талонов на врача" in body["errors"][0]["message"]


def test_local_markers_remember_what_they_hold_and_forget_in_time() -> None:
    ticker = Ticker()
    markers = cache.LocalMarkers(clock=ticker)
    assert not markers.busy("slot:1")
    markers.hold("slot:1", 10)
    assert markers.busy("slot:1")
    ticker.t += 10
    assert not markers.busy("slot:1")
    markers.hold("slot:2", 10)
    markers.forget("slot:2")
    assert not markers.busy("slot:2")


@pytest.mark.dialect
async def test_a_slot_another_process_marks_is_refused_by_redis_once_then_here(env: BookingEnv) -> None:
    rt = env.runtime
    swr = cache.booking_cache(rt)
    patient = await env.patient(0)
    ref = service.parse_ref((await env.slot_refs())[0])
    assert await swr.backend.acquire(f"slot:{ref.mo_id}:{ref.slot_id}", 10)  # another process books it now
    asked: list[str] = []
    real = swr.backend.acquire_and_get

    async def counting(key: str, ttl_s: float, other: str) -> tuple[str | None, str | None]:
        asked.append(key)
        return await real(key, ttl_s, other)

    swr.backend.acquire_and_get = counting  # type: ignore[method-assign]
    for _ in range(3):
        with pytest.raises(service.ProblemError) as refused:
            async with service.booking_unit(rt, ctx_for(patient.id)) as uow:
                await service.book_now(uow, patient.id, ref)
        assert refused.value.problem.code == "SLOT_TAKEN"
    assert len(asked) == 1  # Redis was asked once; the two repeats were turned away in this process


async def test_the_redis_marker_acquires_once_reads_only_when_acquired_and_survives_a_script_flush(
    redis_url: str,
) -> None:
    client = Redis.from_url(redis_url)
    try:
        backend = cache.RedisBackend(client)
        await backend.set("hub:p1", "IdPat-7", 60)
        await client.script_flush()  # a restarted Redis: EVALSHA answers NOSCRIPT, the script is sent again
        token, remembered = await backend.acquire_and_get("slot:a", 60, "hub:p1")
        assert token and remembered == "IdPat-7"
        assert await backend.acquire_and_get("slot:a", 60, "hub:p1") == (None, None)  # held: nothing read
        assert await client.get(cache.PREFIX + "slot:a") == token.encode()
        assert 0 < await client.pttl(cache.PREFIX + "slot:a") <= 60_000
        other, nothing = await backend.acquire_and_get("slot:b", 60, "hub:unknown")
        assert other and other != token and nothing is None
        await backend.release("slot:a", token)
        assert (await backend.acquire_and_get("slot:a", 60, "hub:p1"))[1] == "IdPat-7"
    finally:
        await client.aclose()
