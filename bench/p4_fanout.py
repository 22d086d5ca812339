"""P4: subscription fan-out on one API node (one Granian worker); target p99 publish→client < 250 ms.

What is measured: the real inbox feed. N patients, each with one inbox item in the bench database, each
authenticated with their own ES256 access token (``connection_init`` payload), subscribed over
graphql-transport-ws to ``inboxItemAdded``. Once the worker holds N bus subscriptions, one item per
patient (the stored item as an ``InboxEvent``, what ``notifications.service.plan`` publishes after
commit) is published in one burst, and each delivery runs the real resolver (the bus, the ownership
check, GraphQL execution of the client's selection, serialisation, the websocket send; no database
read: the item travels on the bus). Latency = client receive time − the publisher's time just before
that item's publish (same host clock). Clients: two processes of asyncio + ``websockets``.

Two runs of N = 10,000: the in-process bus (no Redis: the embedded profile), published in the worker by a
bench-only route through the app's own bus (``runtime.adapters.inbox_bus``); and the Redis bus (``REDIS_URL``
set, as in production): the worker holds one pattern subscription fanning out locally, and the burst is
published from another process (as Celery workers do), pipelined in chunks of 500 ``PUBLISH`` commands,
each item's time taken before its chunk is sent.

The worker runs ``backend.app:create_served_app`` (what ``moe-zdorovye serve`` runs: startup heap frozen,
raised GC thresholds) plus bench-only routes. Also printed: the CPU time the worker and the two client
processes used from the burst until every client reported (/proc/<pid>/stat: the worker's is the fan-out's
cost, and the machine has 2 cores for all of them), the objects the worker's cyclic GC tracks once all are
subscribed, and the milliseconds and runs of each GC generation during the burst (``gc.callbacks``), since a
full collection walks every open connection's objects.

``MZ_BENCH_PYSPY=<dir>`` with py-spy on PATH samples the worker from the burst until every client has
reported (collapsed stacks in ``<dir>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litestar import Litestar, post
from litestar.datastructures import State

from bench.common import ROOT, bench_database, descendants, profiled, raise_nofile, serve, show

SUBSCRIBERS = 10_000
REDIS_SUBSCRIBERS = 10_000
PUBLISH_CHUNK = 500
CLIENT_PROCESSES = 2
CONNECT_CONCURRENCY = 100
READY_TIMEOUT_S = 90.0
COLLECT_TIMEOUT_S = 30.0
QUERY = "subscription { inboxItemAdded { id } }"
CREATED_AT = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


# --------------------------------------------------------------------------------------- server side


def _events(pairs: list[list[str]], created_at: str) -> list[Any]:
    """The bench items as ``plan`` publishes them (they are in the database with these fields)."""
    from notifications.channels import InboxEvent

    at = datetime.fromisoformat(created_at)
    return [
        InboxEvent(id=uuid.UUID(i), patient_id=uuid.UUID(p), event="bench", title="P4", text="fan-out", created_at=at)
        for p, i in pairs
    ]


@post("/bench/inbox/publish")
async def publish_items(state: State, data: dict[str, Any]) -> dict[str, Any]:
    """Publish ``[[patient_id, item_id], …]`` through the app's inbox bus; the time before each publish."""
    bus = state.runtime.adapters.inbox_bus
    published: dict[str, float] = {}
    for item in _events(data["pairs"], data["created_at"]):
        published[str(item.id)] = time.time()
        await bus.publish(item)
    return {"published": published}


async def _publish_via_redis(redis_url: str, pairs: list[list[str]], created_at: str) -> dict[str, float]:
    """Another node's burst: the bus's wire format, pipelined; each item's time is its chunk's send time."""
    from redis.asyncio import Redis

    from notifications.channels import RedisInboxBus

    items = _events(pairs, created_at)
    published: dict[str, float] = {}
    redis = Redis.from_url(redis_url)
    try:
        for start in range(0, len(items), PUBLISH_CHUNK):
            pipe = redis.pipeline(transaction=False)
            chunk = items[start : start + PUBLISH_CHUNK]
            for item in chunk:
                pipe.publish(f"{RedisInboxBus.PREFIX}{item.patient_id}", item.encode())
            at = time.time()
            published.update((str(item.id), at) for item in chunk)
            await pipe.execute()
    finally:
        await redis.aclose()
    return published


@post("/bench/inbox/subscribers")
async def count_subscribers(state: State, data: dict[str, Any]) -> dict[str, int]:
    """How many live bus subscriptions the worker holds for these patients."""
    bus = state.runtime.adapters.inbox_bus
    return {"subscribers": sum(bus.subscriber_count(uuid.UUID(p)) for p in data["patients"])}


class _GcClock:
    """Wall time the worker spends in the cyclic garbage collector (``gc.callbacks``), per generation."""

    def __init__(self) -> None:
        self.ms = [0.0, 0.0, 0.0]
        self.runs = [0, 0, 0]
        self._began = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.ms[info["generation"]] += (time.perf_counter() - self._began) * 1000
            self.runs[info["generation"]] += 1


GC_CLOCK = _GcClock()


@post("/bench/gc")
async def gc_figures() -> dict[str, Any]:
    """GC time and runs per generation since the worker started, and the objects it tracks."""
    return {"ms": [round(v, 1) for v in GC_CLOCK.ms], "runs": GC_CLOCK.runs, "objects": len(gc.get_objects())}


def create_bench_app() -> Litestar:
    from backend.app import create_served_app

    app = create_served_app()
    app.register(publish_items)
    app.register(count_subscribers)
    app.register(gc_figures)
    return app


# --------------------------------------------------------------------------------------- client side


async def _client(url: str, users: list[dict[str, str]]) -> None:
    """Connect and subscribe ``users``, report, wait for "collect", report receive times."""
    from websockets.asyncio.client import connect

    received: dict[str, float] = {}
    all_in = asyncio.Event()
    sockets: list[Any] = []
    readers: list[asyncio.Task[None]] = []
    errors: list[str] = []
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def read(ws: Any) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") == "next":
                    item = message["payload"]["data"]["inboxItemAdded"]["id"]
                    received[item] = time.time()
                    if len(received) >= len(sockets):
                        all_in.set()

    async def open_one(token: str) -> None:
        async with gate:
            try:
                ws = await connect(
                    url, subprotocols=["graphql-transport-ws"], open_timeout=60, ping_interval=None, close_timeout=2
                )
                await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
                ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if ack.get("type") != "connection_ack":
                    raise RuntimeError(f"no ack: {ack}")
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": QUERY}}))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                return
            sockets.append(ws)
            readers.append(asyncio.create_task(read(ws)))

    began = time.monotonic()
    await asyncio.gather(*(open_one(u["token"]) for u in users))
    report = {"connected": len(sockets), "failed": len(errors), "connect_s": time.monotonic() - began}
    print(json.dumps(report | {"first_error": errors[0] if errors else None}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # "collect"
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_in.wait(), COLLECT_TIMEOUT_S)
    print(json.dumps({"received": received}), flush=True)
    for task in readers:
        task.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True), 10)


# --------------------------------------------------------------------------------------- the run


async def _prepare(env: dict[str, str], n: int) -> list[dict[str, str]]:
    """Migrate, insert n patients' inbox items (and their messages), mint each patient a token."""
    from alembic import command
    from sqlalchemy import insert

    from backend.cli import alembic_config
    from backend.core.context import ActorKind, Channel
    from backend.identity import tokens
    from backend.identity.policy import ALL_PATIENT_SCOPES
    from backend.runtime import Runtime
    from backend.settings import load_settings
    from notifications.models import InboxItem, NotificationMessage

    settings = load_settings(**{k.removeprefix("MZ_").lower(): v for k, v in env.items() if k.startswith("MZ_")})
    await asyncio.to_thread(command.upgrade, alembic_config(settings.database_url), "head")  # type: ignore[arg-type]
    runtime = Runtime.build(settings)
    users = []
    try:
        messages, items = [], []
        for i in range(n):
            patient, message, item = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            common = {"dedupe_key": f"bench-p4-{i}", "patient_id": patient, "event": "bench", "title": "P4"}
            messages.append({"id": message, "channel": "inbox", "body": "fan-out", "status": "delivered", **common})
            items.append({"id": item, "message_id": message, "body": "fan-out", "created_at": CREATED_AT, **common})
            token, _ = tokens.issue_access_token(
                runtime,
                subject=str(patient),
                kind=ActorKind.PATIENT,
                channel=Channel.MOBILE,
                scopes=ALL_PATIENT_SCOPES,
                ttl_s=1800,
            )
            users.append({"patient": str(patient), "item": str(item), "token": token})
        async with runtime.sessionmaker() as session, session.begin():
            for start in range(0, n, 2000):
                await session.execute(insert(NotificationMessage), messages[start : start + 2000])
                await session.execute(insert(InboxItem), items[start : start + 2000])
    finally:
        await runtime.close()
    return users


def _cpu_ms(pids: list[int]) -> float:
    """User + system CPU time these processes have used (/proc/<pid>/stat), in milliseconds."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total * 1000 / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def _run(label: str, n: int, redis_url: str | None) -> dict[str, Any]:
    import httpx
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    env = {
        "MZ_PROFILE": "test",
        "MZ_DATABASE_URL": bench_database("p4"),
        "MZ_LOG_LEVEL": "WARNING",
        "MZ_JWT_PRIVATE_KEY_PEM": pem.decode("ascii"),
        "GRANIAN_BACKPRESSURE": str(n + 1024),  # default backlog/workers = 1024 concurrent requests
    }
    if redis_url:
        env["MZ_REDIS_URL"] = redis_url
    users = asyncio.run(_prepare(env, n))
    tokens_file = ROOT / "var" / f"p4-tokens-{os.getpid()}.json"
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    tokens_file.write_text(json.dumps(users), encoding="utf-8")
    patients = [u["patient"] for u in users]
    clients: list[subprocess.Popen[str]] = []
    try:
        with serve("bench.p4_fanout:create_bench_app", env, websockets=True) as server:
            ws_url = server.base.replace("http://", "ws://") + "/graphql"
            began = time.monotonic()
            share = -(-n // CLIENT_PROCESSES)
            for start in range(0, n, share):
                clients.append(
                    subprocess.Popen(
                        [
                            *(sys.executable, "-m", "bench.p4_fanout", "--client", ws_url, str(tokens_file)),
                            *(str(start), str(min(n, start + share))),
                        ],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        text=True,
                        cwd=ROOT,
                    )
                )
            reports = [json.loads(c.stdout.readline() or "{}") for c in clients]  # type: ignore[union-attr]
            connect_s = time.monotonic() - began
            connected = sum(r.get("connected", 0) for r in reports)
            failed = sum(r.get("failed", 0) for r in reports)
            first_error = next((r["first_error"] for r in reports if r.get("first_error")), None)
            with httpx.Client(base_url=server.base, timeout=60) as http:
                deadline = time.monotonic() + READY_TIMEOUT_S
                subscribed = 0
                while time.monotonic() < deadline:
                    subscribed = http.post("/bench/inbox/subscribers", json={"patients": patients}).json()[
                        "subscribers"
                    ]
                    if subscribed >= connected:
                        break
                    time.sleep(0.5)
                ready_s = time.monotonic() - began
                pairs = [[u["patient"], u["item"]] for u in users]
                gc_before = http.post("/bench/gc").json()
                workers, client_pids = descendants(server.pid), [c.pid for c in clients]
                cpu_before = _cpu_ms(workers), _cpu_ms(client_pids)
                with profiled(server.pid, f"p4-{'redis' if redis_url else 'inprocess'}-{n}"):
                    if redis_url:
                        published = asyncio.run(_publish_via_redis(redis_url, pairs, CREATED_AT.isoformat()))
                    else:
                        body = {"pairs": pairs, "created_at": CREATED_AT.isoformat()}
                        published = http.post("/bench/inbox/publish", json=body).json()["published"]
                    for c in clients:
                        c.stdin.write("collect\n")  # type: ignore[union-attr]
                        c.stdin.flush()  # type: ignore[union-attr]
                    received: dict[str, float] = {}
                    for c in clients:
                        received |= json.loads(c.stdout.readline() or '{"received": {}}')["received"]  # type: ignore[union-attr]
                cpu_after = _cpu_ms(workers), _cpu_ms(client_pids)
            with httpx.Client(base_url=server.base, timeout=60) as http:
                gc_after = http.post("/bench/gc").json()
            for c in clients:
                c.wait(timeout=30)
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
                c.wait()
        tokens_file.unlink(missing_ok=True)
    latencies = [(t - published[item]) * 1000 for item, t in received.items() if item in published]
    spread = (max(published.values()) - min(published.values())) * 1000 if published else 0.0
    figures: dict[str, Any] = {
        "subscribers_asked": n,
        "connected": connected,
        "connect_failed": failed,
        "bus_subscriptions": subscribed,
        "connect_all_s": round(connect_s, 1),
        "subscribed_all_s": round(ready_s, 1),
        "published": len(published),
        "publish_burst_ms": round(spread, 1),
        "received": len(received),
        "p50_ms": _pct(latencies, 0.50),
        "p95_ms": _pct(latencies, 0.95),
        "p99_ms": _pct(latencies, 0.99),
        "max_ms": round(max(latencies), 1) if latencies else float("nan"),
        "worker_cpu_ms_in_burst": round(cpu_after[0] - cpu_before[0]),
        "clients_cpu_ms_in_burst": round(cpu_after[1] - cpu_before[1]),
        "gc_objects": gc_before["objects"],
        "gc_ms_in_burst": [round(a - b, 1) for a, b in zip(gc_after["ms"], gc_before["ms"], strict=True)],
        "gc_runs_in_burst": [a - b for a, b in zip(gc_after["runs"], gc_before["runs"], strict=True)],
    }
    if first_error:
        figures["first_error"] = first_error
    show(f"P4 inboxItemAdded fan-out, {label}, one worker (target p99 < 250 ms)", figures)
    return figures


def main(subscribers: int = SUBSCRIBERS, redis_subscribers: int = REDIS_SUBSCRIBERS) -> dict[str, Any]:
    raise_nofile()
    result: dict[str, Any] = {"in_process": _run("in-process bus", subscribers, None)}
    if redis_subscribers:
        redis_url = os.environ.get("MZ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
        result["redis"] = _run("Redis pub/sub bus", redis_subscribers, redis_url)
    return result


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        raise_nofile()
        chosen = json.loads(Path(sys.argv[3]).read_text(encoding="utf-8"))[int(sys.argv[4]) : int(sys.argv[5])]
        asyncio.run(_client(sys.argv[2], chosen))
    else:
        args = [int(a) for a in sys.argv[1:3]]
        main(*args)
