"""P2 booking contention (``python -m bench.booking``): 64 clients over the same slots, on PostgreSQL.

Each client books, one step (``service.book_now``, the operator / kiosk path), a slot picked at random among
the first 16 still free in its process's view of one shared pool, for a new patient each time, so that
clients collide all the time; a slot it was refused (SlotTaken) leaves its view, as the next search would
no longer list it. As production runs one
API worker per core, the 64 clients are spread over ``MZ_BENCH_PROCESSES`` worker processes (default: one a
CPU), each with its own runtime (engine, pool, Redis client) and event loop, against one database and one
Redis; they start together and run for ``MZ_BENCH_SECONDS``. Printed: confirmed bookings per second,
p50 / p99 latency of confirmed bookings and of all attempts, the refusals, the CPU each part used per
confirmed booking, and what guarded the slots: the slots our database holds more than one live appointment
for (must be 0), the slots booked more than once at the hub, counted over every process's hub (``direct``:
one hub per process, so these are slots two processes each got a hub to accept, and only our database
stood between them; ``soap``: one hub, which refuses a taken slot itself), and the hub's bookings our
database does not hold and the reverse (both 0 when hub and database agree; a refused duplicate's hub
booking would wait for its compensation, which workers run: not here). Then pgbench's TPC-B on
the same server for 10 s with 64 clients, and the ratio of confirmed bookings per second to its
transactions per second. Figures only, no assertions on time.

Two hubs, one after the other:

* ``direct``: the simulator's state called in-process without SOAP, one per worker process (what our own
  layer costs; the hub's uniqueness is then per process, and our database is the one guard across them);
* ``soap``: the full FerClient over HTTP to one FER simulator served in its own process (Granian), shared
  by all workers: the real protocol both ways, and the simulator's CPU on the same two cores.

Outbox handlers (notifications, upstream cancels) do not run in the measured processes: as in production
(Celery relay) the API process only writes the outbox rows; the count is printed.

Environment: ``MZ_BENCH_POSTGRES_URL`` (default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres),
``MZ_BENCH_REDIS_URL`` (default redis://127.0.0.1:6379/14; empty: no Redis), ``MZ_BENCH_SECONDS`` (10),
``MZ_BENCH_PROCESSES`` (CPUs), ``MZ_BENCH_MODES`` (``direct,soap``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import ROOT, bench_database

CLIENTS = 64
DOCTORS = 16
WEEKS = 4  # how far ahead the hub opens each doctor's schedule
DAYS = 7 * WEEKS  # a pool of 14,336 slots: enough for the whole run at well over 1,000 bookings/s
SERVER = os.environ.get("MZ_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("MZ_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
SECONDS = float(os.environ.get("MZ_BENCH_SECONDS", "10"))
PROCESSES = int(os.environ.get("MZ_BENCH_PROCESSES", "0")) or os.cpu_count() or 1
MODES = tuple(m for m in os.environ.get("MZ_BENCH_MODES", "direct,soap").split(",") if m)
TZ = ZoneInfo("Europe/Moscow")
TODAY = date(2025, 3, 3)
MOMENT = datetime.combine(TODAY, dtime(7, 0), tzinfo=TZ)
SLOTS_PER_DAY = 32
POOL_SIZE = DOCTORS * DAYS * SLOTS_PER_DAY
PEOPLE = POOL_SIZE * 4
# Connections per worker process: one for each of its clients, so that no overflow connection is opened and
# closed again as the load sways (SQLAlchemy discards overflow connections on return).
POOL = int(os.environ.get("MZ_BENCH_POOL", "0")) or -(-CLIENTS // PROCESSES)


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
        Doctor(f"doc-{i}", "112-233-445 95", "Иванова", "Мария", "Петровна", "46", "dep-1", str(100 + i), hours, WEEKS)
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


class _FreeSlots:
    """A process's view of the free slots, in the order search lists them: picking among the first few and
    dropping one cost O(1) amortised (a list scan per attempt was a few per cent of the workers' CPU)."""

    def __init__(self, refs: list[str]) -> None:
        self._refs = refs
        self._gone: set[str] = set()
        self._head = 0

    def __bool__(self) -> bool:
        return len(self._gone) < len(self._refs)

    def discard(self, ref: str) -> None:
        self._gone.add(ref)

    def pick(self, rng: random.Random, first: int) -> str:
        refs, gone = self._refs, self._gone
        while refs[self._head] in gone:
            self._head += 1
        window: list[str] = []
        for ref in refs[self._head : self._head + 4 * first]:
            if ref not in gone:
                window.append(ref)
                if len(window) == first:
                    break
        return window[rng.randrange(len(window))]


@dataclass
class Figures:
    ok: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    cpu_s: float = 0.0
    hub_slots: list[str] = field(default_factory=list)  # "mo/slot" of each booking a hub accepted and keeps
    pool: int = 0

    def merge(self, other: Figures) -> None:
        self.ok += other.ok
        self.refused += other.refused
        for code, n in other.errors.items():
            self.errors[code] = self.errors.get(code, 0) + n
        self.elapsed = max(self.elapsed, other.elapsed)
        self.cpu_s += other.cpu_s
        self.hub_slots += other.hub_slots
        self.pool = max(self.pool, other.pool)


def _cpu_of(names: tuple[str, ...], *, database: str | None = None) -> float:
    """CPU seconds (user + system) used so far by the processes with these command names (Linux /proc).

    ``database``: of PostgreSQL's client backends only those serving that database count (with the server's
    own processes: WAL writer, checkpointer...), so that other databases' load on a shared server does not."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                raw = stat.read()
            if database is not None:
                with open(f"/proc/{entry}/cmdline", "rb") as cmd:
                    title = cmd.read().decode(errors="replace")
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        if not name.startswith(names):
            continue
        if database is not None and ("(" in title or "[local]" in title) and f" {database} " not in title:
            continue  # a client backend of another database
        fields = raw[raw.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
    return total / tick


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _quiet() -> None:
    import logging

    import structlog

    logging.getLogger().setLevel(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


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


def served_hub() -> Any:
    """Granian factory: the FER simulator of the bench region, at the bench's moment (``soap`` mode)."""
    from integrations.fer.simulator import create_fer_simulator

    return create_fer_simulator(_region(PEOPLE), clock=lambda: MOMENT)


def _runtime(url: str) -> Any:
    from backend.runtime import Runtime
    from backend.settings import load_settings

    settings = load_settings(
        profile="test", database_url=url, redis_url=REDIS, database_pool_size=POOL, log_level="WARNING", log_json=True
    )
    runtime = Runtime.build(settings)
    runtime.relay = DeferredRelay()
    return runtime


async def _prepare(url: str) -> None:
    """Empty booking tables, the directory synced from the bench region, its people as patients, Redis
    flushed: what every run starts from."""
    from backend.directory.service import sync_directory
    from backend.identity.models import Patient
    from integrations.common.http import build_http_client
    from integrations.fer import FerClient

    _quiet()
    runtime = _runtime(url)
    region = _region(PEOPLE)
    try:
        async with runtime.engine.begin() as conn:
            for table in ("booking_appointments", "booking_holds", "booking_idempotency", "outbox_messages"):
                await conn.execute(text(f"TRUNCATE {table}"))
            await conn.execute(text("DELETE FROM patients"))
        app = served_hub()
        http = build_http_client("inprocess://fer", simulator_app=lambda: app, timeout_s=10)
        await sync_directory(runtime, hub=FerClient(http, guid="bench", timeout_s=10))
        await http.aclose()
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
                "created_at": MOMENT,
                "updated_at": MOMENT,
            }
            for p in region.people
        ]
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(Patient.__table__.insert(), rows)
        if runtime.redis is not None:
            await runtime.redis.flushdb()
    finally:
        await runtime.close()


async def _run(
    url: str,
    mode: str,
    *,
    clients: int,
    index: int = 0,
    count: int = 1,
    hub_url: str = "",
    start_at: float = 0.0,
    report: Callable[[Figures], Awaitable[None]] | None = None,
) -> Figures:
    """One worker process's share: ``clients`` clients for the patients ``index::count``; starts at
    ``start_at`` (``time.time()``) so that all workers start together. ``report`` is given the figures
    while the runtime's connections are still open."""
    from backend.adapters import set_booking_hub
    from backend.booking import service
    from backend.core.context import Actor, ActorKind, Channel, RequestContext
    from backend.identity.models import Patient
    from integrations.common.http import build_http_client
    from integrations.fer import FerClient
    from integrations.fer.simulator import simulator_state

    _quiet()
    runtime = _runtime(url)
    state = None
    try:
        if mode == "soap":
            if hub_url:
                http = build_http_client(hub_url, timeout_s=10)
            else:  # the hub in this process, over SOAP: its accepted bookings are read from its state
                app = served_hub()
                state = simulator_state(app)
                http = build_http_client("inprocess://fer", simulator_app=lambda: app, timeout_s=10)
            set_booking_hub(runtime, FerClient(http, guid="bench", timeout_s=10), http=http)
        else:
            state = simulator_state(served_hub())
            set_booking_hub(runtime, DirectHub(state))  # type: ignore[arg-type]
        service.set_clock(runtime, lambda: MOMENT.astimezone(UTC))
        async with runtime.sessionmaker() as session:
            patient_ids = list(
                (await session.scalars(select(Patient.id).order_by(Patient.esia_oid))).all()[index::count]
            )
        # The shared pool: every slot of every doctor over DAYS days, as clients would get them from search.
        refs: list[str] = []
        for d in range(DOCTORS):
            for day_n in range(DAYS):
                day = TODAY + timedelta(days=day_n)
                for slot in await service.doctor_slots(runtime, "1001", f"doc-{d}", day, day):
                    refs.append(service.SlotRef("1001", f"doc-{d}", slot.id, day).encode())
        free = _FreeSlots(refs)
        next_patient = iter(patient_ids)
        figures = Figures(pool=len(refs))
        channels = (Channel.MOBILE, Channel.CALLCENTRE, Channel.KIOSK)
        rng = random.Random(26 + index)
        if os.environ.get("MZ_BENCH_GC", "1") == "1":
            from backend.app import tune_gc

            tune_gc()
        if start_at:
            await asyncio.sleep(max(0.0, start_at - time.time()))
        deadline = time.perf_counter() + SECONDS

        async def worker(n: int) -> None:
            while time.perf_counter() < deadline and free:
                # Clients see the same (slightly stale) list: pick among the first few free slots.
                ref = free.pick(rng, 16)
                patient_id = next(next_patient, None)
                if patient_id is None:
                    return
                channel = channels[n % 3]
                kind = {Channel.MOBILE: ActorKind.PATIENT, Channel.CALLCENTRE: ActorKind.OPERATOR}.get(
                    channel, ActorKind.KIOSK
                )
                actor = Actor(kind, channel, id=f"bench-{index}-{n}", subject_id=patient_id)
                ctx = RequestContext(actor=actor, request_id=uuid.uuid4().hex)
                started = time.perf_counter()
                try:
                    async with service.booking_unit(runtime, ctx) as uow:
                        await service.book_now(uow, patient_id, service.parse_ref(ref))
                    figures.ok.append(time.perf_counter() - started)
                    free.discard(ref)
                except service.ProblemError as exc:
                    figures.refused.append(time.perf_counter() - started)
                    if exc.problem.code == "SLOT_TAKEN":
                        free.discard(ref)  # its next search no longer lists it (search hides taken slots)
                    figures.errors[exc.problem.code] = figures.errors.get(exc.problem.code, 0) + 1
                except Exception as exc:
                    figures.errors[type(exc).__name__] = figures.errors.get(type(exc).__name__, 0) + 1

        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(index * clients + n) for n in range(clients)))
        figures.elapsed = time.perf_counter() - started
        figures.cpu_s = time.process_time() - cpu_started
        if state is not None:
            figures.hub_slots = _accepted(state)
        if report is not None:
            await report(figures)
        return figures
    finally:
        await runtime.close()


def _accepted(state: Any) -> list[str]:
    """``mo/slot`` of every booking the hub simulator accepted that still occupies its slot."""
    return [f"{b.mo_id}/{b.appointment_id}" for b in state.bookings if b.occupies_slot]


async def _hub_slots(hub_url: str) -> list[str]:
    """The served hub's accepted bookings, read from its own state through its bench route
    (GetPatientHistory is per patient)."""
    import httpx

    async with httpx.AsyncClient(base_url=hub_url, timeout=30) as http:
        return list((await http.get("/bench/hub-slots")).json()["slots"])


@dataclass
class Guard:
    """What the database and the hubs hold once the load has ended."""

    db_doubles: int  # slots with more than one live appointment in our database
    hub_doubles: int  # slots booked more than once, over every hub the run used (-1: hubs not read)
    hub_only: int  # slots booked at a hub with no live appointment in our database
    db_only: int  # live appointments in our database that no hub holds
    live: int  # live appointments (booked or being cancelled): the confirmed bookings
    booked: int  # appointment rows
    holds: int
    outbox: int


async def _guard(url: str, hub_slots: list[str] | None) -> Guard:
    """Read once the load has ended; ``hub_slots`` None: the hubs were not read (their figures are -1)."""
    from collections import Counter

    from backend.booking.models import Appointment, SlotHold

    runtime = _runtime(url)
    try:
        async with runtime.sessionmaker() as session:
            live = Counter(
                f"{mo}/{slot}"
                for mo, slot in await session.execute(
                    select(Appointment.mo_id, Appointment.slot_id).where(
                        Appointment.status.in_(("booked", "cancel_pending"))
                    )
                )
            )
            booked = await session.scalar(select(func.count()).select_from(Appointment))
            holds = await session.scalar(select(func.count()).select_from(SlotHold))
            outbox = await session.scalar(text("SELECT count(*) FROM outbox_messages"))
    finally:
        await runtime.close()
    at_hubs = Counter(hub_slots or ())
    unread = hub_slots is None
    return Guard(
        db_doubles=sum(1 for n in live.values() if n > 1),
        hub_doubles=-1 if unread else sum(1 for n in at_hubs.values() if n > 1),
        hub_only=-1 if unread else len(at_hubs.keys() - live.keys()),
        db_only=-1 if unread else len(live.keys() - at_hubs.keys()),
        live=sum(live.values()),
        booked=int(booked or 0),
        holds=int(holds or 0),
        outbox=int(outbox or 0),
    )


def _line(mode: str, processes: int, figures: Figures, guard: Guard, cpu: dict[str, float]) -> str:
    elapsed = figures.elapsed or float("nan")
    attempts = len(figures.ok) + len(figures.refused)
    everything = figures.ok + figures.refused
    per = max(1, len(figures.ok))
    hubs = f"the {processes} processes' own hubs" if mode == "direct" and processes > 1 else "the hub"
    return (
        f"P2 booking [{mode} hub, {CLIENTS} clients in {processes} processes, pool {figures.pool} slots, "
        f"{elapsed:.1f} s]: {len(figures.ok) / elapsed:.0f} confirmed bookings/s, {attempts / elapsed:.0f} attempts/s; "
        f"confirmed p50 {_pct(figures.ok, 0.50):.1f} ms p99 {_pct(figures.ok, 0.99):.1f} ms; "
        f"all attempts p50 {_pct(everything, 0.50):.1f} ms p99 {_pct(everything, 0.99):.1f} ms; "
        f"refusals {figures.errors}; rows: {guard.booked} appointments, {guard.holds} holds; "
        f"slots with more than one live appointment in our database: {guard.db_doubles}; "
        f"slots booked more than once over {hubs}: {guard.hub_doubles}; "
        f"hub bookings our database does not hold: {guard.hub_only}, the reverse: {guard.db_only}; "
        f"mean {statistics.fmean(figures.ok) * 1000 if figures.ok else float('nan'):.1f} ms; "
        f"redis {'on' if REDIS else 'off'}; outbox rows left to workers: {guard.outbox}; "
        "CPU ms per confirmed booking: "
        + ", ".join(f"{name} {1000 * seconds / per:.2f}" for name, seconds in cpu.items())
    )


async def _scenario(url: str, mode: str) -> None:
    """The scenario in this one process (one event loop, an in-process hub): what bench.p3_upstream runs."""
    await _prepare(url)
    database = make_url(url).database

    def cpu_now() -> tuple[float, float, float]:
        return time.process_time(), _cpu_of(("postgres",), database=database), _cpu_of(("redis-server",))

    before = cpu_now()
    figures = await _run(url, mode, clients=CLIENTS)
    after = cpu_now()
    cpu = dict(
        zip(("this process", "PostgreSQL", "Redis"), (b - a for a, b in zip(before, after, strict=True)), strict=True)
    )
    print(_line(mode, 1, figures, await _guard(url, figures.hub_slots), cpu), flush=True)


def _worker_main(argv: list[str]) -> None:
    """``python -m bench.booking --worker MODE URL INDEX COUNT CLIENTS START HUB_URL``: prints its figures."""
    mode, url, index, count, clients, start_at, hub_url = argv

    async def report(figures: Figures) -> None:
        # The parent reads the server's CPU once every worker has reported, before the backends close.
        print(json.dumps(asdict(figures)), flush=True)
        await asyncio.sleep(1.5)

    from bench.common import run_loop

    run_loop(  # uvloop, as the API's Granian workers run (MZ_BENCH_LOOP=asyncio: the standard loop)
        _run(
            url,
            mode,
            clients=int(clients),
            index=int(index),
            count=int(count),
            hub_url=hub_url,
            start_at=float(start_at),
            report=report,
        )
    )


def _processes_run(url: str, mode: str, processes: int) -> float:
    """Run ``mode`` over ``processes`` worker processes, print its line; return confirmed bookings per second."""
    from bench.common import process_tree_cpu_s, serve

    asyncio.run(_prepare(url))
    hub = serve("bench.booking:create_bench_hub", {}, workers=1) if mode == "soap" else contextlib.nullcontext()
    with hub as server:
        hub_url = f"{server.base}/" if server is not None else ""
        start_at = time.time() + 8.0  # time for every worker to import, connect and build its slot pool
        per = CLIENTS // processes
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.booking",
                    "--worker",
                    mode,
                    url,
                    str(i),
                    str(processes),
                    str(per),
                    str(start_at),
                    hub_url,
                ],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for i in range(processes)
        ]
        time.sleep(max(0.0, start_at - time.time()))
        database = make_url(url).database

        def cpu_now() -> tuple[float, float, float]:
            hub_cpu = process_tree_cpu_s(server.pid) if server is not None else 0.0
            return hub_cpu, _cpu_of(("postgres",), database=database), _cpu_of(("redis-server",))

        before = cpu_now()
        # Each worker prints its figures as its load ends and keeps its connections a moment: read the CPU
        # then (an ended backend's time is gone with it).
        outputs = [child.stdout.readline() if child.stdout else "" for child in children]
        after = cpu_now()
        for child in children:
            child.communicate()
        if any(child.returncode for child in children):
            raise SystemExit(f"bench: a {mode} worker failed: {[c.returncode for c in children]}")
        figures = Figures()
        for out in outputs:
            figures.merge(Figures(**json.loads(out.strip().splitlines()[-1])))
        if server is not None:  # one shared hub: its own list (the workers' is empty)
            figures.hub_slots = asyncio.run(_hub_slots(server.base))
    pg, rd = after[1] - before[1], after[2] - before[2]
    cpu = {"workers": figures.cpu_s, "PostgreSQL": pg, "Redis": rd}
    if server is not None:
        cpu["served hub"] = after[0] - before[0]
    print(_line(mode, processes, figures, asyncio.run(_guard(url, figures.hub_slots)), cpu), flush=True)
    return len(figures.ok) / figures.elapsed if figures.elapsed else 0.0


def create_bench_hub() -> Any:
    """The served hub of the ``soap`` mode, with a bench-only route that lists the slots it booked."""
    from litestar import get

    from integrations.fer.simulator import simulator_state

    app = served_hub()
    state = simulator_state(app)

    @get("/bench/hub-slots")
    async def hub_slots() -> dict[str, list[str]]:
        return {"slots": _accepted(state)}

    app.register(hub_slots)
    return app


def _pgbench(clients: int = CLIENTS, seconds: int = 10) -> float | None:
    """pgbench's TPC-B (scale 10) on the same server: transactions per second, or None without pgbench."""
    import re
    import shutil

    pgbench = shutil.which("pgbench")
    if pgbench is None:
        return None
    server = make_url(SERVER)
    base = [f"-h{server.host or '127.0.0.1'}", f"-p{server.port or 5432}", f"-U{server.username or 'postgres'}"]
    url = bench_database("pgbench")
    database = make_url(url).database or ""
    try:
        subprocess.run([pgbench, *base, "-i", "-s", "10", "-q", database], check=True, capture_output=True)
        out = subprocess.run(
            [pgbench, *base, "-c", str(clients), "-j", "2", "-T", str(seconds), "-M", "prepared", database],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        asyncio.run(_drop(url))
    found = re.search(r"tps = ([\d.]+)", out)
    return float(found.group(1)) if found else None


def main() -> None:
    print(
        f"P2 booking: {os.cpu_count()} CPUs visible; {PROCESSES} worker processes of {CLIENTS // PROCESSES} "
        "clients, one event loop each; PostgreSQL and Redis local",
        flush=True,
    )
    from bench import floor

    url = asyncio.run(_database())
    rates: dict[str, float] = {}
    try:
        for mode in MODES:
            rates[mode] = _processes_run(url, mode, PROCESSES)
    finally:
        asyncio.run(_drop(url))
    print(floor.line(floor.measure()), flush=True)
    tps = _pgbench()
    if tps is None:
        print("P2 pgbench: not installed (Debian package postgresql-client): no ratio", flush=True)
        return
    ratios = ", ".join(f"{mode} hub {rate / tps:.2f}" for mode, rate in rates.items())
    print(
        f"P2 pgbench TPC-B (scale 10, {CLIENTS} clients, 10 s, same server): {tps:.0f} tps; "
        f"confirmed bookings per second / TPC-B transactions per second: {ratios}",
        flush=True,
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        _worker_main(sys.argv[2:])
    else:
        main()
