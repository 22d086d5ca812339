"""The ambulance live path alone, in one process: CPU per delivery of each way of serving the subscription.

Why beside ``bench/ambulance.py``: on the shared 2-core machine that bench's latencies move by seconds from
run to run with the other load (its floor's p99 went from 29 ms to 3.4 s), and its CPU per delivery includes
the webhook's ingest. Here nothing but the delivery is measured, as this process's CPU time
(``time.process_time``), which other load hardly moves.

What runs: ``CALLS`` open calls (``MZ_BENCH_AMBULANCE_LIVE_CALLS``, default 500) in PostgreSQL, two
subscribers each (the caller and the patient, own tokens) over graphql-transport-ws on the application
itself, driven as ASGI in this event loop (no network, no Granian; each client only counts its frames),
the in-process bus. Once every subscriber has its current state, ``ROUNDS`` rounds
(``MZ_BENCH_AMBULANCE_LIVE_ROUNDS``, default 20) each publish one position per call and wait until every
subscriber received it. Sides, each with fresh connections:

* ``floor``: the no-op subscription of ``bench/ambulance_noop.py`` (Strawberry's executor, one field);
* ``executor``: the mobile app's ``AmbulanceCallUpdated`` selection as an ad-hoc document (Strawberry's
  executor per subscriber and update);
* ``shared``: the registered document (``backend/api/live.py``: once per update for all subscribers).

Printed: deliveries, CPU µs per delivery per side, and each side's ratio to the floor.
Environment: the two above, ``MZ_TEST_REDIS_URL``.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from bench.ambulance import DOMAIN, FLOOR, SHARED, _prepare
from bench.common import bench_database, show

CALLS = int(os.environ.get("MZ_BENCH_AMBULANCE_LIVE_CALLS", "500"))
ROUNDS = int(os.environ.get("MZ_BENCH_AMBULANCE_LIVE_ROUNDS", "20"))
SIDES = {"floor": FLOOR, "executor": DOMAIN, "shared": SHARED}


class _Client:
    """One websocket to the ASGI app: frames counted, the first ones kept (the handshake)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.frames = 0
        self.arrived = asyncio.Event()
        self.wanted = 0
        self.task: asyncio.Task[None] | None = None

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            self.frames += 1
            if self.frames >= self.wanted:
                self.arrived.set()
            if self.frames <= 2:
                self.first.append(message)
        elif message["type"] == "websocket.accept":
            self.first.append(message)

    async def open(self, token: str, query: str, ref: str) -> None:
        self.first: list[dict[str, Any]] = []
        scope = {
            "type": "websocket", "asgi": {"version": "3.0", "spec_version": "2.3"}, "scheme": "ws",
            "http_version": "1.1", "path": "/graphql", "raw_path": b"/graphql", "root_path": "", "query_string": b"",
            "headers": [(b"host", b"bench"), (b"sec-websocket-protocol", b"graphql-transport-ws")],
            "subprotocols": ["graphql-transport-ws"], "client": ("127.0.0.1", 1), "server": ("bench", 80),
            "state": {}, "extensions": {"websocket.http.response": {}},
        }  # fmt: skip
        self.task = asyncio.create_task(self.app(scope, self.inbox.get, self.send))
        await self.inbox.put({"type": "websocket.connect"})
        for message in (
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}},
            {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"callId": ref}}},
        ):
            await self.inbox.put({"type": "websocket.receive", "text": orjson.dumps(message).decode()})

    async def until(self, frames: int) -> None:
        self.wanted = frames
        if self.frames < frames:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 120)

    async def close(self) -> None:
        await self.inbox.put({"type": "websocket.disconnect", "code": 1000})
        if self.task is not None:
            try:
                await asyncio.wait_for(self.task, 10)
            except Exception:
                self.task.cancel()


async def _side(app: Any, bus: Any, subs: list[dict[str, str]], query: str) -> dict[str, float]:
    from backend.ambulance.live import POSITION, LiveUpdate

    clients = [_Client(app) for _ in subs]
    for client, sub in zip(clients, subs, strict=True):
        await client.open(sub["token"], query, sub["ref"])
    state = 1 if query is not FLOOR else 0  # the ack, then (but for the floor) the current state
    await asyncio.gather(*(c.until(1 + state) for c in clients))
    refs = list(dict.fromkeys(uuid.UUID(s["ref"]) for s in subs))
    began_cpu, began = time.process_time(), time.perf_counter()
    for r in range(ROUNDS):
        at = datetime.now(UTC)
        for i, ref in enumerate(refs):
            bus.deliver(LiveUpdate(
                ref, f"B-{i:06d}", POSITION, 1000 + r, "en_route", "Б-1", "Станция", None,
                45.0 + r / 1000, 41.9, 50.0, 90.0, at, 5, at, at,
            ))  # fmt: skip
        await asyncio.gather(*(c.until(2 + state + r) for c in clients))
    cpu, wall = time.process_time() - began_cpu, time.perf_counter() - began
    for client in clients:
        await client.close()
    deliveries = ROUNDS * len(clients)
    return {"deliveries": deliveries, "cpu_us_per_delivery": round(cpu / deliveries * 1e6, 1),
            "wall_s": round(wall, 2)}  # fmt: skip


async def _main(calls: int, database_url: str) -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from backend.ambulance.live import InProcessAmbulanceBus
    from backend.app import create_app
    from backend.runtime import Runtime
    from backend.settings import load_settings
    from bench import ambulance_noop

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    env = {
        "MZ_PROFILE": "test",
        "MZ_JWT_PRIVATE_KEY_PEM": pem.decode("ascii"),
        "MZ_DATABASE_URL": database_url,
        "MZ_REDIS_URL": os.environ.get("MZ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "MZ_LOG_LEVEL": "WARNING",
    }
    subs = await _prepare(env, calls)
    settings = load_settings(**{k.removeprefix("MZ_").lower(): v for k, v in env.items()})
    runtime = Runtime.build(settings)
    bus = InProcessAmbulanceBus()
    runtime.adapters.ambulance_bus = bus
    app = create_app(runtime=runtime, extra_schema_modules=[ambulance_noop])
    app.state.runtime = runtime
    figures: dict[str, Any] = {}
    try:
        for side, query in SIDES.items():
            figures[side] = await _side(app, bus, subs, query)
    finally:
        await runtime.close()
    floor = figures["floor"]["cpu_us_per_delivery"]
    for side in ("executor", "shared"):
        figures[side]["ratio_to_floor"] = round(figures[side]["cpu_us_per_delivery"] / floor, 2)
    return figures


def main(calls: int = CALLS) -> dict[str, Any]:
    figures = asyncio.run(_main(calls, bench_database("ambulance_live")))
    for side, values in figures.items():
        show(f"ambulance live path in-process, {side}, {calls} calls / {2 * calls} subscribers", values)
    return figures


if __name__ == "__main__":
    main()
