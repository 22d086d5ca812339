"""P2 booking contention (``python -m bench.booking``): 64 clients over the same slots, on PostgreSQL.

Each client books, one step (``service.book_now``, the operator / kiosk path), a slot picked at random from
one shared pool for a new patient each time, so that clients collide all the time. Printed: confirmed
bookings per second, p50 / p99 latency of confirmed bookings and of all attempts, the refusals, and the
number of double bookings in our database and at the hub (must be 0). Figures only, no assertions on time.

Two hubs, one after the other:

* ``direct``: the simulator's state called in-process without SOAP (what our own layer costs);
* ``soap``: the full FerClient over the in-process SOAP simulator (XML both ways on the same event loop).

Outbox handlers (notifications, upstream cancels) do not run in the measured process: as in production
(Celery relay) the API process only writes the outbox rows; the count is printed.

Environment: ``MZ_BENCH_POSTGRES_URL`` (default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres),
``MZ_BENCH_REDIS_URL`` (default redis://127.0.0.1:6379/14; empty: no Redis), ``MZ_BENCH_SECONDS`` (10).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

CLIENTS = 64
DOCTORS = 8
DAYS = 10
SERVER = os.environ.get("MZ_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("MZ_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
SECONDS = float(os.environ.get("MZ_BENCH_SECONDS", "10"))
TZ = ZoneInfo("Europe/Moscow")
TODAY = date(2025, 3, 3)


def _region(people: int) -> Any:
    from integrations.demo_region.model import (
        Department,
        District,
        Doctor,
        MedicalOrganisation,
        Person,
        Region,
        RegionScale,
        Specialty,
        WorkingHours,
    )

    hours = tuple(WorkingHours(d, dtime(8, 0), dtime(16, 0)) for d in range(7))
    doctors = tuple(
        Doctor(f"doc-{i}", "112-233-445 95", "Иванова", "Мария", "Петровна", "46", "dep-1", str(100 + i), hours, 2)
        for i in range(DOCTORS)
    )
    mo = MedicalOrganisation(
        id="1001",
        oid="1.2.643.5.1.13.13.12.2.26.1001",
        name="ГБУЗ СК «Городская поликлиника № 1»",
        short_name="ГП № 1",
        district_id="d-1",
        address="ул. Тестовая, 1",
        latitude=45.04,
        longitude=41.97,
        phone="+7(8652)000001",
        kind="polyclinic",
        attaches=True,
        departments=(Department("dep-1", "1001", "Отделение", "adult", "ул. Тестовая, 1", 45.04, 41.97),),
        doctors=doctors,
    )
    persons = tuple(
        Person(
            esia_oid=f"7{i:09d}",
            last_name="Петрова",
            first_name="Анна",
            middle_name="Сергеевна",
            birth_date=date(1970 + i % 30, 1 + i % 12, 1 + i % 28),
            sex="F",
            snils="987-654-321 00",
            oms_policy=f"26{i:014d}",
            smo_name="СМО",
            phone="+7(900)0000000",
            email="p@example.test",
            address="ул. Тестовая, 5",
            district_id="d-1",
            latitude=45.0,
            longitude=41.9,
            attached_mo_id="1001",
        )
        for i in range(people)
    )
    return Region(
        code="26",
        name="Ставропольский край",
        timezone="Europe/Moscow",
        seed=26,
        scale=RegionScale.SMALL,
        specialties=(Specialty("46", "Офтальмолог", 15, True),),
        districts=(District("d-1", "Тестовый округ", "07401000000"),),
        organisations=(mo,),
        pharmacies=(),
        ambulance_stations=(),
        people=persons,
    )


class DeferredRelay:
    """As in production (Celery relay): the API process only writes outbox rows; workers run them."""

    def __init__(self) -> None:
        self.enqueued = 0

    async def enqueue(self, ids: Any) -> None:
        self.enqueued += len(list(ids))

    async def drain(self) -> None:
        return None


class DirectHub:
    """The simulator's state as a BookingHub without SOAP or HTTP (same uniqueness rules)."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from integrations.fer import HubError, PatientNotFound, SlotUnavailable
        from integrations.fer.simulator import HubBusinessError

        try:
            return fn(*args, **kwargs)
        except HubBusinessError as exc:
            code = int(exc.code)
            cls = SlotUnavailable if code in (30, 31) else PatientNotFound if code == 20 else HubError
            raise cls(code, str(exc)) from None

    async def check_patient(self, mo_id: str, *, oms_policy: str, birth_date: date, **_: Any) -> Any:
        from integrations.fer import PatientCheck

        return PatientCheck(
            self._run(self.state.check_patient, mo_id, oms_policy=oms_policy, birth_date=birth_date), mo_id
        )

    async def book(self, mo_id: str, patient_id: str, slot_id: str, *, channel: Any, **_: Any) -> Any:
        from integrations.fer import BookingResult

        booking = self._run(self.state.book, mo_id, patient_id, slot_id, source=channel)
        return BookingResult(booking.appointment_id, mo_id, patient_id, None)

    async def get_slots(self, mo_id: str, doctor_id: str, start: date, end: date, **_: Any) -> Any:
        from integrations.fer import Slot

        entry, slots = self._run(
            self.state.available_slots,
            mo_id,
            doctor_id,
            datetime.combine(start, dtime.min),
            datetime.combine(end, dtime.max),
        )
        return [Slot(s.id, mo_id, doctor_id, s.start, s.end, entry.doctor.room, entry.address, s.num) for s in slots]

    async def cancel(self, mo_id: str, patient_id: str, appointment_id: str) -> None:
        self._run(self.state.refuse, mo_id, patient_id, appointment_id)


@dataclass
class Figures:
    ok: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)


def _cpu_of(names: tuple[str, ...]) -> float:
    """CPU seconds (user + system) used so far by the processes with these command names (Linux /proc)."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                raw = stat.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        if name.startswith(names):
            fields = raw[raw.rindex(")") + 2 :].split()
            # own time, and that of children that ended (a server's exited backends)
            total += sum(int(f) for f in fields[11:15])
    return total / tick


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _database() -> str:
    from alembic import command

    from backend.cli import alembic_config

    name = f"mz_bench_booking_{os.getpid()}"
    admin = create_async_engine(SERVER, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    url = make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    return url


async def _drop(url: str) -> None:
    admin = create_async_engine(SERVER, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    await admin.dispose()


async def _scenario(url: str, mode: str) -> None:
    from backend.booking import service
    from backend.booking.models import Appointment, SlotHold
    from backend.core.context import Actor, ActorKind, Channel, RequestContext
    from backend.directory.service import sync_directory
    from backend.identity.models import Patient
    from backend.integrations_registry import set_booking_hub
    from backend.runtime import Runtime
    from backend.settings import load_settings
    from integrations.common.http import build_http_client
    from integrations.fer import FerClient
    from integrations.fer.simulator import create_fer_simulator, simulator_state

    slots_per_day = 32
    pool_size = DOCTORS * DAYS * slots_per_day
    people = pool_size * 4
    region = _region(people)
    moment = datetime.combine(TODAY, dtime(7, 0), tzinfo=TZ)
    app = create_fer_simulator(region, clock=lambda: moment)
    state = simulator_state(app)
    settings = load_settings(
        profile="test", database_url=url, redis_url=REDIS, database_pool_size=24, log_level="WARNING", log_json=True
    )
    runtime = Runtime.build(settings)
    relay = DeferredRelay()
    runtime.relay = relay
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        async with runtime.engine.begin() as conn:
            for table in (
                "booking_appointments",
                "booking_holds",
                "booking_idempotency",
                "outbox_messages",
                "audit_events",
            ):
                await conn.execute(text(f"TRUNCATE {table}"))
        http = build_http_client("inprocess://fer", simulator_app=lambda: app, timeout_s=10)
        client = FerClient(http, guid="bench", timeout_s=10)
        await sync_directory(runtime, hub=client)
        set_booking_hub(runtime, client if mode == "soap" else DirectHub(state), http=http)  # type: ignore[arg-type]
        service.set_clock(runtime, lambda: moment.astimezone(UTC))
        if runtime.redis is not None:
            await runtime.redis.flushdb()
        # Patients (identity's table, in bulk) matching the region's people.
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(text("DELETE FROM patients"))
            rows = [
                {
                    "id": uuid.uuid4(),
                    "esia_oid": p.esia_oid,
                    "last_name": p.last_name,
                    "first_name": p.first_name,
                    "middle_name": p.middle_name,
                    "birth_date": p.birth_date,
                    "sex": p.sex,
                    "snils": None,
                    "oms_policy": p.oms_policy,
                    "phone": None,
                    "email": None,
                    "created_at": moment,
                    "updated_at": moment,
                }
                for p in region.people
            ]
            await session.execute(Patient.__table__.insert(), rows)
            patient_ids = [r["id"] for r in rows]
        # The shared pool: every slot of every doctor over DAYS days, as clients would get them from search.
        refs: list[str] = []
        for d in range(DOCTORS):
            for day_n in range(DAYS):
                day = TODAY + timedelta(days=day_n)
                for slot in await service.doctor_slots(runtime, "1001", f"doc-{d}", day, day):
                    refs.append(service.SlotRef("1001", f"doc-{d}", slot.id, day).encode())
        free = list(refs)
        next_patient = iter(patient_ids)
        figures = Figures()
        channels = (Channel.MOBILE, Channel.CALLCENTRE, Channel.KIOSK)
        rng = random.Random(26)
        deadline = time.perf_counter() + SECONDS

        async def worker(n: int) -> None:
            while time.perf_counter() < deadline and free:
                # Clients see the same (slightly stale) list: pick among the first few free slots.
                ref = free[rng.randrange(min(len(free), 16))]
                patient_id = next(next_patient, None)
                if patient_id is None:
                    return
                channel = channels[n % 3]
                kind = {Channel.MOBILE: ActorKind.PATIENT, Channel.CALLCENTRE: ActorKind.OPERATOR}.get(
                    channel, ActorKind.KIOSK
                )
                actor = Actor(kind, channel, id=f"bench-{n}", subject_id=patient_id)
                ctx = RequestContext(actor=actor, request_id=uuid.uuid4().hex)
                started = time.perf_counter()
                try:
                    async with service.booking_unit(runtime, ctx) as uow:
                        await service.book_now(uow, patient_id, service.parse_ref(ref))
                    figures.ok.append(time.perf_counter() - started)
                    if ref in free:
                        free.remove(ref)
                except service.ProblemError as exc:
                    figures.refused.append(time.perf_counter() - started)
                    if exc.problem.code == "SLOT_TAKEN" and ref in free and rng.random() < 0.5:
                        free.remove(ref)
                    figures.errors[exc.problem.code] = figures.errors.get(exc.problem.code, 0) + 1
                except Exception as exc:
                    figures.errors[type(exc).__name__] = figures.errors.get(type(exc).__name__, 0) + 1

        started = time.perf_counter()
        cpu_started = (time.process_time(), _cpu_of(("postgres",)), _cpu_of(("redis-server",)))
        await asyncio.gather(*(worker(n) for n in range(CLIENTS)))
        elapsed = time.perf_counter() - started
        cpu_used = [
            b - a
            for a, b in zip(
                cpu_started, (time.process_time(), _cpu_of(("postgres",)), _cpu_of(("redis-server",))), strict=True
            )
        ]
        await runtime.relay.drain()
        async with runtime.sessionmaker() as session:
            doubles = await session.scalar(
                select(func.count()).select_from(
                    select(Appointment.mo_id, Appointment.slot_id)
                    .where(Appointment.status.in_(("booked", "cancel_pending")))
                    .group_by(Appointment.mo_id, Appointment.slot_id)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
            booked = await session.scalar(select(func.count()).select_from(Appointment))
            holds = await session.scalar(select(func.count()).select_from(SlotHold))
        per_slot: dict[str, int] = {}
        for b in state.bookings:
            if b.occupies_slot:
                per_slot[b.appointment_id] = per_slot.get(b.appointment_id, 0) + 1
        hub_doubles = sum(1 for n in per_slot.values() if n > 1)
        attempts = len(figures.ok) + len(figures.refused)
        all_lat = figures.ok + figures.refused
        print(
            f"P2 booking [{mode} hub, {CLIENTS} clients, pool {len(refs)} slots, {elapsed:.1f} s]: "
            f"{len(figures.ok) / elapsed:.0f} confirmed bookings/s, {attempts / elapsed:.0f} attempts/s; "
            f"confirmed p50 {_pct(figures.ok, 0.50):.1f} ms p99 {_pct(figures.ok, 0.99):.1f} ms; "
            f"all attempts p50 {_pct(all_lat, 0.50):.1f} ms p99 {_pct(all_lat, 0.99):.1f} ms; "
            f"refusals {figures.errors}; rows: {booked} appointments, {holds} holds; "
            f"double bookings: database {doubles}, hub {hub_doubles}; "
            f"mean {statistics.fmean(figures.ok) * 1000 if figures.ok else float('nan'):.1f} ms; "
            f"redis {'on' if runtime.redis is not None else 'off'}; outbox rows left to workers: {relay.enqueued}; "
            f"CPU ms per confirmed booking: this process {1000 * cpu_used[0] / max(1, len(figures.ok)):.2f}, "
            f"PostgreSQL {1000 * cpu_used[1] / max(1, len(figures.ok)):.2f}, "
            f"Redis {1000 * cpu_used[2] / max(1, len(figures.ok)):.2f}",
            flush=True,
        )
    finally:
        await runtime.close()


async def _main() -> None:
    url = await _database()
    try:
        for mode in ("direct", "soap"):
            await _scenario(url, mode)
    finally:
        await _drop(url)


def main() -> None:
    print(
        f"P2 booking: {os.cpu_count()} CPUs visible; one Python process, one event loop; PostgreSQL local", flush=True
    )
    asyncio.run(_main())


if __name__ == "__main__":
    main()
