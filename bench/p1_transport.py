"""P1: the GraphQL path vs a plain Litestar endpoint serving the same rows from the same process.

Both sides run in one Granian worker (``create_bench_app``: the real app plus two plain routes) and are
loaded by wrk from another process in one run, in alternating windows of ``MZ_BENCH_P1_WINDOW_S`` seconds
(so that load from other processes on a shared machine falls on both sides alike); each ratio comes from
that run.

* **slots** (the figure of issue 6): the mobile client's trusted ``DoctorSlots`` document sent by hash:
  20 free slots of one doctor (``searchSlots(moId:, doctorId:, slotsPerDoctor: 20)``), served from the
  availability cache in Redis as production serves them (the check request before the load fills it);
  the plain side takes the same variables in a JSON body, calls the same ``service.search`` and answers
  the same JSON shape;
* **organisations**: the mobile ``Organisations`` document (20 organisations with their district) against
  the same rows from the same directory functions.

Printed per scenario: requests/s of each side and their ratio (the figure; target ≥ 50 %), the server's
CPU time per request of each side (user + system of the Granian processes, read from /proc) and its
ratio (what one saturated core would give, less sensitive to other load), medians of the windows'
p50/p99, and errors.
Environment: ``MZ_BENCH_SECONDS`` (10 per side), ``MZ_BENCH_P1_WINDOW_S`` (2), ``MZ_BENCH_P1_CONNECTIONS``
(32), ``MZ_BENCH_P1_REDIS_URL`` (db 13).
"""

from __future__ import annotations

import asyncio
import os
import statistics
from datetime import date, datetime, timedelta
from typing import Any

from litestar import Litestar, post
from litestar.datastructures import State
from strawberry.relay import to_base64

from bench.common import ROOT, bench_database, check_graphql, process_tree_cpu_s, run_wrk, serve, show

ITEMS = 20
SLOT_SPECIALTY = "76"  # therapist: 15-minute visits, 24 slots in a six-hour shift
REDIS = os.environ.get("MZ_BENCH_P1_REDIS_URL", "redis://127.0.0.1:6379/13")
SECONDS = int(float(os.environ.get("MZ_BENCH_SECONDS", "10")))
CONNECTIONS = int(os.environ.get("MZ_BENCH_P1_CONNECTIONS", "32"))
WINDOW_S = int(os.environ.get("MZ_BENCH_P1_WINDOW_S", "2"))
ROUNDS = max(1, SECONDS // WINDOW_S)  # windows per side


@post("/bench/plain/organisations")
async def plain_organisations(state: State) -> dict[str, Any]:
    """What ``Organisations`` answers for ``first: 20``, from the same directory functions, without GraphQL."""
    from backend.directory import service as directory

    runtime = state.runtime
    async with runtime.sessionmaker() as session:
        rows = await directory.list_organisations(session, limit=ITEMS + 1)
        page = rows[:ITEMS]
        districts = await directory.districts_by_ids(session, list({r.district_id for r in page}))
    edges = []
    for row in page:
        district = districts[row.district_id]
        edges.append(
            {
                "cursor": directory.OrganisationCursor.of(row).encode(),
                "node": {
                    "id": to_base64("MedicalOrganisation", row.upstream_id),
                    "oid": row.oid,
                    "name": row.name,
                    "shortName": row.short_name,
                    "kind": row.kind,
                    "address": row.address,
                    "phone": row.phone,
                    "location": None
                    if row.latitude is None or row.longitude is None
                    else {"latitude": row.latitude, "longitude": row.longitude},
                    "district": {"id": to_base64("District", district.upstream_id), "name": district.name},
                },
            }
        )
    page_info = {"hasNextPage": len(rows) > ITEMS, "endCursor": edges[-1]["cursor"] if edges else None}
    return {"data": {"organisations": {"edges": edges, "pageInfo": page_info}}}


@post("/bench/plain/doctor-slots")
async def plain_doctor_slots(state: State, data: dict[str, Any]) -> dict[str, Any]:
    """What ``DoctorSlots`` answers, from the same service functions, without GraphQL."""
    from backend.booking import service
    from backend.booking.schema import first_slots

    runtime = state.runtime
    start, end = date.fromisoformat(data["dateFrom"]), date.fromisoformat(data["dateTo"])
    async with runtime.sessionmaker() as session:
        result = await service.search(
            runtime,
            session,
            specialty_code=data["specialtyCode"],
            date_from=start,
            date_to=end,
            mo_id=data["moId"],
            doctor_id=data["doctorId"],
        )
    items = []
    for item in result.items:
        slots = []
        for slot in first_slots(item.slots, data["first"]):
            ref = service.SlotRef(slot.mo_id, slot.doctor_id, slot.id, slot.start.date())
            slots.append(
                {
                    "id": ref.encode(),
                    "start": service.to_utc(runtime, slot.start).isoformat(),
                    "end": service.to_utc(runtime, slot.end).isoformat(),
                    "room": slot.room or None,
                    "address": slot.address or None,
                    "number": slot.num,
                }
            )
        items.append(
            {
                "moId": item.mo.upstream_id,
                "moName": item.mo.name,
                "moAddress": item.mo.address,
                "doctorId": item.doctor.upstream_id,
                "doctorName": item.doctor.full_name,
                "specialtyName": item.specialty_name,
                "slots": slots,
            }
        )
    return {"data": {"searchSlots": {"partial": result.partial, "items": items}}}


def create_bench_app() -> Litestar:
    from backend.app import create_app

    app = create_app()
    app.register(plain_organisations)
    app.register(plain_doctor_slots)
    return app


async def _prepare(env: dict[str, str]) -> None:
    from redis.asyncio import Redis

    from backend.cli import alembic_config
    from backend.demo.seed import seed_demo_region
    from backend.settings import load_settings

    settings = load_settings(**{k.removeprefix("MZ_").lower(): v for k, v in env.items() if k.startswith("MZ_")})
    from alembic import command

    await asyncio.to_thread(command.upgrade, alembic_config(settings.database_url), "head")  # type: ignore[arg-type]
    await seed_demo_region(settings, scale="full", seed=26)
    redis = Redis.from_url(REDIS)
    try:
        await redis.flushdb()  # the availability cache starts empty; the check request fills it
    finally:
        await redis.aclose()


def _doctor_day() -> dict[str, Any]:
    """DoctorSlots variables: a therapist of the demo region and their next working day after today
    (a whole shift ahead of the clock: 24 free slots, of which the document asks the first 20)."""
    from integrations.demo_region import RegionScale, get_region

    region = get_region(26, RegionScale("full"))
    tomorrow = datetime.now().date() + timedelta(days=1)
    for doctor in region.doctors():
        if doctor.specialty_code != SLOT_SPECIALTY:
            continue
        weekdays = {h.weekday for h in doctor.hours if h.weekday < 5}  # six-hour weekday shifts
        day = tomorrow
        while day.weekday() not in weekdays:
            day += timedelta(days=1)
        return {
            "specialtyCode": SLOT_SPECIALTY,
            "moId": region.department(doctor.department_id).mo_id,
            "doctorId": doctor.id,
            "dateFrom": day.isoformat(),
            "dateTo": day.isoformat(),
            "first": ITEMS,
        }
    raise SystemExit(f"bench: no doctor of specialty {SLOT_SPECIALTY} in the demo region")


def _pair(base: str, pid: int, name: str, plain: tuple[str, dict[str, Any]], graphql: dict[str, Any]) -> Any:
    """Load the plain route and the GraphQL route in alternating short windows (so that load from other
    processes on a shared machine falls on both sides alike); figures of both and their ratios."""
    sides = {"plain": (f"{base}{plain[0]}", plain[1]), "graphql": (f"{base}/graphql", graphql)}
    for url, body in sides.values():  # warm-up
        run_wrk(url, body=body, seconds=2, connections=CONNECTIONS)
    totals = {side: {"requests": 0, "seconds": 0.0, "cpu_s": 0.0, "bad": 0} for side in sides}
    p50: dict[str, list[float]] = {side: [] for side in sides}
    p99: dict[str, list[float]] = {side: [] for side in sides}
    for round_ in range(ROUNDS):
        for side in sides if round_ % 2 == 0 else reversed(sides):
            url, body = sides[side]
            cpu_before = process_tree_cpu_s(pid)
            result = run_wrk(url, body=body, seconds=WINDOW_S, connections=CONNECTIONS)
            totals[side]["cpu_s"] += process_tree_cpu_s(pid) - cpu_before
            totals[side]["requests"] += result.requests
            totals[side]["seconds"] += result.requests / result.requests_per_s if result.requests_per_s else 0.0
            totals[side]["bad"] += result.non_2xx + result.errors
            p50[side].append(result.p50_ms)
            p99[side].append(result.p99_ms)
    rps = {side: t["requests"] / t["seconds"] for side, t in totals.items()}
    cpu_ms = {side: 1000 * t["cpu_s"] / max(1, t["requests"]) for side, t in totals.items()}
    figures = {
        "plain_rps": round(rps["plain"], 1),
        "graphql_rps": round(rps["graphql"], 1),
        "ratio_pct": round(100 * rps["graphql"] / rps["plain"], 1),
        "plain_cpu_ms_per_req": round(cpu_ms["plain"], 2),
        "graphql_cpu_ms_per_req": round(cpu_ms["graphql"], 2),
        "cpu_ratio_pct": round(100 * cpu_ms["plain"] / cpu_ms["graphql"], 1),
        "plain_p50_ms": round(statistics.median(p50["plain"]), 1),
        "plain_p99_ms": round(statistics.median(p99["plain"]), 1),
        "graphql_p50_ms": round(statistics.median(p50["graphql"]), 1),
        "graphql_p99_ms": round(statistics.median(p99["graphql"]), 1),
        "errors": totals["plain"]["bad"] + totals["graphql"]["bad"],
    }
    show(f"P1 {name} vs plain Litestar (target ratio ≥ 50 %)", figures)
    return figures


def _persisted(path: str, variables: dict[str, Any]) -> dict[str, Any]:
    from backend.api.trusted import document_hash

    text = (ROOT / "graphql" / path).read_text(encoding="utf-8")
    return {"variables": variables, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_hash(text)}}}


def main() -> dict[str, Any]:
    import httpx

    env = {
        "MZ_PROFILE": "test",
        "MZ_DATABASE_URL": bench_database("p1"),
        "MZ_REDIS_URL": REDIS,
        "MZ_LOG_LEVEL": "WARNING",
        "MZ_TRUSTED_DOCUMENTS_ONLY": "true",
    }
    asyncio.run(_prepare(env))
    slots_vars = _doctor_day()
    slots_body = _persisted("mobile/DoctorSlots.graphql", slots_vars)
    organisations_body = _persisted("mobile/Organisations.graphql", {"first": ITEMS})
    figures: dict[str, Any] = {}
    with serve("bench.p1_transport:create_bench_app", env) as server:
        base = server.base
        check_graphql(f"{base}/graphql", slots_body, "searchSlots")
        answer = httpx.post(f"{base}/graphql", json=slots_body, timeout=30).json()
        plain_answer = httpx.post(f"{base}/bench/plain/doctor-slots", json=slots_vars, timeout=30).json()
        slots = [s for item in answer["data"]["searchSlots"]["items"] for s in item["slots"]]
        if len(slots) != ITEMS or answer["data"]["searchSlots"]["partial"] or plain_answer != answer:
            raise SystemExit(f"bench: DoctorSlots gave {len(slots)} slots; plain and GraphQL answers must match")
        check_graphql(f"{base}/graphql", organisations_body, "organisations")
        answer = httpx.post(f"{base}/graphql", json=organisations_body, timeout=30).json()
        if httpx.post(f"{base}/bench/plain/organisations", json={}, timeout=30).json() != answer:
            raise SystemExit("bench: the plain and GraphQL answers of Organisations must match")
        figures["slots"] = _pair(
            base,
            server.pid,
            f"trusted query of {ITEMS} free slots",
            ("/bench/plain/doctor-slots", slots_vars),
            slots_body,
        )
        figures["organisations"] = _pair(
            base,
            server.pid,
            f"trusted query of {ITEMS} organisations",
            ("/bench/plain/organisations", {}),
            organisations_body,
        )
    return figures


if __name__ == "__main__":
    main()
