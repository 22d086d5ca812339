"""P1: the GraphQL path vs a plain Litestar endpoint serving the same rows from the same process.

Both sides run in one Granian worker (``create_bench_app``: the real app plus two plain routes) and are
loaded by wrk from another process, one after the other, in one run; each ratio comes from that run.

* **slots** (the figure of issue 6): the mobile client's trusted ``DoctorSlots`` document sent by hash:
  20 free slots of one doctor (``searchSlots(moId:, doctorId:, slotsPerDoctor: 20)``), served from the
  availability cache in Redis as production serves them (the check request before the load fills it);
  the plain side takes the same variables in a JSON body, calls the same ``service.search`` and answers
  the same JSON shape;
* **organisations**: the mobile ``Organisations`` document (20 organisations with their district) against
  the same rows from the same directory functions.

Printed per scenario: requests/s of each side, p50/p99, and the ratio (target ≥ 50 %).
Environment: ``MZ_BENCH_SECONDS`` (10), ``MZ_BENCH_P1_CONNECTIONS`` (32), ``MZ_BENCH_REDIS_URL`` (db 13).
"""

from __future__ import annotations

import asyncio
import os
from datetime import date, datetime, timedelta
from typing import Any

from litestar import Litestar, post
from litestar.datastructures import State
from strawberry.relay import to_base64

from bench.common import ROOT, bench_database, check_graphql, run_wrk, served, show

ITEMS = 20
SLOT_SPECIALTY = "76"  # therapist: 15-minute visits, 24 slots in a six-hour shift
REDIS = os.environ.get("MZ_BENCH_P1_REDIS_URL", "redis://127.0.0.1:6379/13")
SECONDS = int(float(os.environ.get("MZ_BENCH_SECONDS", "10")))
CONNECTIONS = int(os.environ.get("MZ_BENCH_P1_CONNECTIONS", "32"))


@post("/bench/plain/organisations")
async def plain_organisations(state: State) -> dict[str, Any]:
    from backend.directory import service as directory

    runtime = state.runtime
    async with runtime.sessionmaker() as session:
        rows = await directory.list_organisations(session, limit=ITEMS)
        districts = await directory.districts_by_ids(session, list({r.district_id for r in rows}))
    edges = []
    for row in rows:
        district = districts[row.district_id]
        edges.append(
            {
                "cursor": "",
                "node": {
                    "id": to_base64("MedicalOrganisation", str(row.id)),
                    "oid": row.oid,
                    "name": row.name,
                    "shortName": row.short_name,
                    "kind": row.kind,
                    "address": row.address,
                    "phone": row.phone,
                    "location": None
                    if row.latitude is None
                    else {"latitude": row.latitude, "longitude": row.longitude},
                    "district": {"id": to_base64("District", district.upstream_id), "name": district.name},
                },
            }
        )
    return {"data": {"organisations": {"edges": edges, "pageInfo": {"hasNextPage": True, "endCursor": None}}}}


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


def _pair(base: str, name: str, plain_path: str, plain_body: dict[str, Any], graphql_body: dict[str, Any]) -> Any:
    """Warm up and load the plain route, then the GraphQL route; figures of both and their ratio."""
    run_wrk(f"{base}{plain_path}", body=plain_body, seconds=2, connections=CONNECTIONS)
    plain = run_wrk(f"{base}{plain_path}", body=plain_body, seconds=SECONDS, connections=CONNECTIONS)
    run_wrk(f"{base}/graphql", body=graphql_body, seconds=2, connections=CONNECTIONS)
    graph = run_wrk(f"{base}/graphql", body=graphql_body, seconds=SECONDS, connections=CONNECTIONS)
    figures = {
        "plain_rps": round(plain.requests_per_s, 1),
        "graphql_rps": round(graph.requests_per_s, 1),
        "ratio_pct": round(100 * graph.requests_per_s / plain.requests_per_s, 1),
        "plain_p50_ms": plain.p50_ms,
        "plain_p99_ms": plain.p99_ms,
        "graphql_p50_ms": graph.p50_ms,
        "graphql_p99_ms": graph.p99_ms,
        "errors": plain.non_2xx + plain.errors + graph.non_2xx + graph.errors,
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
    with served("bench.p1_transport:create_bench_app", env) as base:
        check_graphql(f"{base}/graphql", slots_body, "searchSlots")
        answer = httpx.post(f"{base}/graphql", json=slots_body, timeout=30).json()
        plain_answer = httpx.post(f"{base}/bench/plain/doctor-slots", json=slots_vars, timeout=30).json()
        slots = [s for item in answer["data"]["searchSlots"]["items"] for s in item["slots"]]
        if len(slots) != ITEMS or answer["data"]["searchSlots"]["partial"] or plain_answer != answer:
            raise SystemExit(f"bench: DoctorSlots gave {len(slots)} slots; plain and GraphQL answers must match")
        check_graphql(f"{base}/graphql", organisations_body, "organisations")
        figures["slots"] = _pair(
            base, f"trusted query of {ITEMS} free slots", "/bench/plain/doctor-slots", slots_vars, slots_body
        )
        figures["organisations"] = _pair(
            base, f"trusted query of {ITEMS} organisations", "/bench/plain/organisations", {}, organisations_body
        )
    return figures


if __name__ == "__main__":
    main()
