"""P2 through the API (``python -m bench.booking_api``): the P2 contention, as 122 operators send it.

The same region, slot pool and patients as bench/booking.py, but every booking is the call centre's trusted
``BookAppointment`` document posted over HTTP by wrk (64 connections, another process) to the real app served
by Granian with one worker per CPU: JWT check, the policy, the idempotency key, the GraphQL thin path, the
unit of work, the answer. Each request carries an operator's on-behalf token for a patient of its own and
picks a slot from a window that moves along the pool, so that requests collide all the time. Each worker
process calls its own in-process hub (as bench/booking.py's ``direct`` mode), and, as in production, only
writes the outbox rows (Celery workers would relay them). Printed: confirmed bookings/s, the latency of all
requests (wrk's p50 / p99), the answers by kind as wrk read them, and from the database once the load has
ended: the confirmed bookings (live appointments, which the per-second rate and the CPU per booking use),
the slots with more than one (must be 0); and the CPU per confirmed booking of the server's processes
(Granian and its workers), PostgreSQL's backends of the bench database and Redis. Figures only, no
assertions on time.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url

from bench import booking as p2
from bench.common import ROOT, ensure_wrk, process_tree_cpu_s, raise_nofile, serve

CONNECTIONS = p2.CLIENTS
SECONDS = int(p2.SECONDS)
WINDOW = 16  # a request picks among the next 16 slots of the pool, as a client among the first free ones
DOCUMENT = ROOT / "graphql" / "callcentre" / "BookAppointment.graphql"

_LUA = r"""
local count, threads = 0, {}
function setup(thread)
  count = count + 1
  thread:set("id", count)
  table.insert(threads, thread)
end
function init(args)
  booked, taken, other, n, lines = 0, 0, 0, 0, {}
  local i = 0
  for line in io.lines("{REQUESTS}") do
    if i % {THREADS} == id - 1 then lines[#lines + 1] = line end
    i = i + 1
  end
end
function request()
  n = n + 1
  local token, slot, key = lines[(n - 1) % #lines + 1]:match("([^\t]+)\t([^\t]+)\t([^\t]+)")
  local body = '{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"{HASH}"}},'
    .. '"variables":{"slot":"' .. slot .. '","idempotencyKey":"' .. key .. '"}}'
  return wrk.format("POST", "/graphql", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token}, body)
end
function response(status, headers, body)
  if body:find("AppointmentBooked", 1, true) then booked = booked + 1
  elseif body:find("SLOT_TAKEN", 1, true) then taken = taken + 1
  else
    other = other + 1
    if other < 3 then io.stderr:write(body:sub(1, 300) .. "\n") end
  end
end
function done(summary, latency, requests)
  local b, t, o = 0, 0, 0
  for _, thread in ipairs(threads) do
    b, t, o = b + thread:get("booked"), t + thread:get("taken"), o + thread:get("other")
  end
  io.write(string.format("ANSWERS booked=%d taken=%d other=%d\n", b, t, o))
  io.write(string.format("LATENCY p50=%.1f p99=%.1f\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def create_api_app() -> Any:
    """Granian factory: the real app over the bench region's hub (in-process), the bench clock, and a relay
    that leaves the outbox to workers."""
    from backend.adapters import set_booking_hub
    from backend.app import create_app
    from backend.booking import service
    from integrations.fer.simulator import simulator_state

    runtime = p2._runtime(os.environ["MZ_DATABASE_URL"])
    set_booking_hub(runtime, p2.DirectHub(simulator_state(p2.served_hub())))  # type: ignore[arg-type]
    service.set_clock(runtime, lambda: p2.MOMENT.astimezone(UTC))
    return create_app(runtime=runtime)


async def _operators(url: str, patient_ids: list[uuid.UUID]) -> list[str]:
    """An operator's on-behalf session (and its access token) for each patient, written in bulk."""
    from backend.core.context import Channel
    from backend.identity import policy, sessions
    from backend.identity.models import AuthSession

    runtime = p2._runtime(url)
    try:
        at = datetime.now(UTC)
        rows = []
        async with runtime.sessionmaker() as session, session.begin():
            for patient_id in patient_ids:
                row = AuthSession(
                    id=uuid.uuid4(),
                    kind=sessions.SessionKind.ON_BEHALF.value,
                    channel=Channel.CALLCENTRE.value,
                    patient_id=patient_id,
                    actor_id=f"operator-{patient_id.hex[:8]}",
                    client_id=None,
                    scopes=sorted(policy.OPERATOR_SCOPES),
                    esia_session_id=None,
                    created_at=at,
                    expires_at=at.replace(year=at.year + 1),
                    last_seen_at=at,
                    idle_timeout_s=None,
                )
                session.add(row)
                rows.append(row)
        return [sessions.access_token(runtime, row, ttl_s=3600)[0] for row in rows]
    finally:
        await runtime.close()


def _pool() -> list[str]:
    from backend.booking.service import SlotRef
    from integrations.fer.simulator import simulator_state

    state = simulator_state(p2.served_hub())
    refs = []
    for d in range(p2.DOCTORS):
        for n in range(p2.DAYS):
            day = p2.TODAY + p2.timedelta(days=n)
            start, end = datetime.combine(day, p2.dtime.min), datetime.combine(day, p2.dtime.max)
            _, slots = state.available_slots("1001", f"doc-{d}", start, end)
            refs += [SlotRef("1001", f"doc-{d}", s.id, day).encode() for s in slots]
    return refs


def main() -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from backend.api.trusted import document_hash
    from backend.identity.models import Patient

    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    os.environ["MZ_JWT_PRIVATE_KEY_PEM"] = key.decode()  # the parent mints, the workers verify
    workers = p2.PROCESSES
    print(f"P2 API: {os.cpu_count()} CPUs; Granian with {workers} workers; wrk {CONNECTIONS} connections", flush=True)
    url = asyncio.run(p2._database())
    try:
        asyncio.run(p2._prepare(url))

        async def patients() -> list[uuid.UUID]:
            runtime = p2._runtime(url)
            try:
                async with runtime.sessionmaker() as session:
                    return list((await session.scalars(select(Patient.id).order_by(Patient.esia_oid))).all())
            finally:
                await runtime.close()

        ids = asyncio.run(patients())
        tokens = asyncio.run(_operators(url, ids))
        pool = _pool()
        rng = random.Random(26)
        requests = ROOT / "var" / f"p2-api-{os.getpid()}.tsv"
        requests.parent.mkdir(parents=True, exist_ok=True)
        with requests.open("w", encoding="ascii") as out:
            for i, token in enumerate(tokens):
                # The window moves one slot every four requests: about four clients go for each slot.
                slot = pool[min(len(pool) - 1, i // 4 + rng.randrange(WINDOW))]
                out.write(f"{token}\t{slot}\tbench-{i}\n")
        threads = 2
        script = ROOT / "var" / f"p2-api-{os.getpid()}.lua"
        lua = _LUA.replace("{HASH}", document_hash(DOCUMENT.read_text(encoding="utf-8")))
        script.write_text(lua.replace("{THREADS}", str(threads)).replace("{REQUESTS}", str(requests)), "utf-8")
        env = {
            "MZ_PROFILE": "test",
            "MZ_DATABASE_URL": url,
            "MZ_REDIS_URL": p2.REDIS,
            "MZ_LOG_LEVEL": "WARNING",
            "MZ_TRUSTED_DOCUMENTS_ONLY": "true",
            "MZ_CELERY_EAGER": "false",
        }
        raise_nofile()
        database = make_url(url).database
        with serve("bench.booking_api:create_api_app", env, workers=workers) as server:
            # One warm-up request per worker's pool of connections is made by wrk's first second.
            before = (
                process_tree_cpu_s(server.pid),
                p2._cpu_of(("postgres",), database=database),
                p2._cpu_of(("redis-server",)),
            )
            started = time.perf_counter()
            out = subprocess.run(
                [
                    ensure_wrk(),
                    f"-t{threads}",
                    f"-c{CONNECTIONS}",
                    f"-d{SECONDS}s",
                    "--latency",
                    "-s",
                    str(script),
                    f"{server.base}/graphql",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            elapsed = time.perf_counter() - started
            after = (
                process_tree_cpu_s(server.pid),
                p2._cpu_of(("postgres",), database=database),
                p2._cpu_of(("redis-server",)),
            )
        answers = dict(part.split("=") for part in out.stdout.split("ANSWERS ")[1].split("\n")[0].split())
        latency = dict(part.split("=") for part in out.stdout.split("LATENCY ")[1].split("\n")[0].split())
        guard = asyncio.run(p2._guard(url, None))  # each worker's hub is its own: only the database is read
        requests.unlink(missing_ok=True)
        script.unlink(missing_ok=True)
    finally:
        asyncio.run(p2._drop(url))
    confirmed = guard.live
    per = max(1, confirmed)
    figures = {
        "confirmed_per_s": round(confirmed / elapsed, 1),
        "requests_per_s": round(sum(int(n) for n in answers.values()) / elapsed, 1),
        "p50_ms": float(latency["p50"]),
        "p99_ms": float(latency["p99"]),
        "answers": answers,
        "confirmed_in_database": confirmed,
        "appointments": guard.booked,
        "slots_with_more_than_one_live_appointment": guard.db_doubles,
        "cpu_ms_per_confirmed": {
            "API server": round(1000 * (after[0] - before[0]) / per, 2),
            "PostgreSQL": round(1000 * (after[1] - before[1]) / per, 2),
            "Redis": round(1000 * (after[2] - before[2]) / per, 2),
        },
    }
    print(
        f"P2 booking through the API [{CONNECTIONS} wrk connections, {workers} Granian workers, "
        f"{elapsed:.1f} s]: " + json.dumps(figures, ensure_ascii=False),
        flush=True,
    )
    return figures


if __name__ == "__main__":
    main()
