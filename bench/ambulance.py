"""Ambulance live path on one API node (one Granian worker), PostgreSQL and Redis; target p99 < 250 ms.

What is measured: ``CALLS`` open calls (``MZ_BENCH_AMBULANCE_CALLS``, the issue's scale 5,000), each watched
by two subscribers (the caller and the patient it is for, each with a login session and an ES256 token of
it, so the server watches each socket's session: ``backend/identity/live_sessions.py``) over
graphql-transport-ws (``ambulanceCallUpdated``: the policy, the current state first, then every change).
A feeder process plays the dispatch side: one position per call every ``INTERVAL_S`` seconds (staggered:
1,000 positions/s at 5,000 calls), each fix timestamped when it falls due, for ``MZ_BENCH_SECONDS`` (default
60). It pushes them to the real webhook ``POST /api/v1/ambulance/feed``, HMAC-signed, as the dispatch side
batches them: every ``BATCH_WINDOW_S`` (50 ms) what fell due, as one ``{"events": [...]}`` (about 50 at
this scale). The worker verifies the signature, applies the push's positions in one transaction (the calls'
state read and locked, the moves pipelined, our ETA, a prediction row a minute), commits, and publishes them
in one Redis pipeline; the worker's one pattern subscription fans each out to the call's mailboxes (latest
position wins) and each subscription sends it. Latency = client receive time − the fix's time (same host
clock): it includes up to one window of the dispatch side's batching, so it bounds "from received" from
above; ``applied_*`` is client receive − the update's ``at``, taken by the worker as it applies the push
(the live path alone). Measured once every subscriber has received its current state (the subscribe step,
with its database reads and audit row, is done; ``MZ_BENCH_AMBULANCE_CONNECT`` subscribes in flight per
client process, default 16).

The sides, each in a fresh worker:

* ``floor``: the same clients, pacing and batches, a no-op subscription (``bench/ambulance_noop.py``: no
  policy, no database, no state) and a bench route that publishes the batch straight on the same Redis bus
  (no signature, no database);
* ``single``: one position per signed request (64 in flight), the design before batches;
* ``domain``: the mobile app's ``AmbulanceCallUpdated`` selection sent as an ad-hoc document (a comment
  appended: no registered hash), so Strawberry's executor runs it for every subscriber and every update;
* ``shared-durable``: the registered document, served by ``backend/api/live.py`` (executed and encoded once
  per update for every subscriber of the call), positions committed durably;
* ``shared``: the same, and the push's transaction commits without waiting for the WAL flush
  (``MZ_AMBULANCE_POSITION_ASYNC_COMMIT``, the default).

Printed for each: positions in/s, requests/s, deliveries/s, p50/p95/p99 latency, the webhook's p50/p99 (the
feeder's POST), ``applied_p50/p99``, worker CPU per delivery, the worker's RSS at the end, refusals.

Environment: ``MZ_BENCH_AMBULANCE_CALLS`` (default 5,000), ``MZ_BENCH_SECONDS`` (60), ``MZ_TEST_REDIS_URL``,
``MZ_BENCH_AMBULANCE_SIDES`` (which runs, comma-separated: default all five), ``MZ_BENCH_AMBULANCE_CONNECT``,
``MZ_BENCH_SERVER`` (``granian``, the default and what ``serve`` runs, or ``uvicorn`` if installed by hand),
``MZ_BENCH_PROFILE`` (a path prefix: py-spy, if installed in the venv by hand, samples the worker during each
run).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from litestar import Litestar, post
from litestar.datastructures import State

from bench.common import ROOT, bench_database, descendants, raise_nofile, serve, show

CALLS = int(os.environ.get("MZ_BENCH_AMBULANCE_CALLS", "5000"))
SECONDS = float(os.environ.get("MZ_BENCH_SECONDS", "60"))
INTERVAL_S = 5.0
CLIENT_PROCESSES = 2
FEED_CONCURRENCY = 64  # the one-event-per-request feeder's requests in flight
BATCHES_IN_FLIGHT = 8  # the batching feeder's
CONNECT_CONCURRENCY = int(os.environ.get("MZ_BENCH_AMBULANCE_CONNECT", "16"))  # subscribes in flight per client process
SECRET = "bench-smp-secret"
#: ``MZ_BENCH_AMBULANCE_SESSIONS=0``: tokens without a login session (nothing for the server to watch).
SESSIONS = os.environ.get("MZ_BENCH_AMBULANCE_SESSIONS", "1") != "0"
#: The mobile app's registered document: served once per update for every subscriber (backend/api/live.py).
SHARED = (ROOT / "graphql" / "mobile" / "AmbulanceCallUpdated.graphql").read_text(encoding="utf-8")
#: The same selection as an ad-hoc document (its hash is no registered one): Strawberry's executor per subscriber.
DOMAIN = SHARED + "# ad hoc\n"
FLOOR = "subscription($callId: UUID!) { benchAmbulanceNoop(callId: $callId) { at } }"
QUERIES = {"floor": FLOOR, "single": SHARED, "domain": DOMAIN, "shared-durable": SHARED, "shared": SHARED}
SIDES = {
    "floor": "no-op subscription, positions published straight on the bus in batches (floor)",
    "single": "registered document shared per update, one position per webhook request (the design before batches)",
    "domain": "Strawberry's executor per subscriber (ad-hoc document), batched feed",
    "shared-durable": "registered document shared per update, batched feed, durable commits",
    "shared": "registered document shared per update, batched feed, commits without waiting for the WAL flush",
}
#: What each side changes in the worker's settings.
SIDE_ENV = {"shared-durable": {"MZ_AMBULANCE_POSITION_ASYNC_COMMIT": "false"}}
#: The sides whose feeder posts one event per request (the others post what a window gathered, as a batch).
SINGLE = {"single"}


# --------------------------------------------------------------------------------------- server side


@post("/bench/ambulance/noop", status_code=200)
async def publish_noop(state: State, data: dict[str, Any]) -> dict[str, int]:
    """The floor's feed: a batch's updates straight on the bus (one pipeline)."""
    from backend.ambulance.live import POSITION, LiveUpdate

    updates = []
    for event in data["events"]:
        at = datetime.fromisoformat(event["ts"])
        ref, seq = uuid.UUID(event["ref"]), int(event["seq"])
        fix = (45.0, 41.9, 50.0, 90.0, at)
        update = LiveUpdate(ref, "C", POSITION, seq, "en_route", None, None, None, *fix, 3, at, at)
        updates.append(update)
    await state.runtime.adapters.ambulance_bus.publish_many(updates)
    return {"ok": len(updates)}


@post("/bench/ambulance/subscribers", status_code=200)
async def count_subscribers(state: State, data: dict[str, Any]) -> dict[str, int]:
    bus = state.runtime.adapters.ambulance_bus
    return {"subscribers": sum(bus.subscriber_count(uuid.UUID(r)) for r in data["refs"])}


def _log_gc_pauses(app: Litestar) -> None:
    """``MZ_BENCH_GC_LOG``: the cyclic collector's pauses by generation, printed (stderr) at shutdown."""
    import gc

    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    began: list[float] = [0.0]

    long: list[tuple[float, int, float]] = []  # (wall clock, generation, ms) of pauses past 50 ms

    def watch(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            took = (time.perf_counter() - began[0]) * 1000
            pauses[info["generation"]].append(took)
            if took > 50:
                long.append((time.time(), info["generation"], round(took)))

    def report() -> None:
        for generation, took in pauses.items():
            if took:
                print(f"gc gen{generation}: {len(took)} pauses, {sum(took):.0f} ms", file=sys.stderr)
        print(f"gc pauses past 50 ms (wall, generation, ms): {long}", file=sys.stderr)

    gc.callbacks.append(watch)
    app.on_shutdown.append(report)


def create_bench_app() -> Litestar:
    from backend.app import create_app, tune_gc
    from bench import ambulance_noop

    app = create_app(extra_schema_modules=[ambulance_noop])
    app.on_startup.append(tune_gc)
    if os.environ.get("MZ_BENCH_GC_LOG"):
        _log_gc_pauses(app)
    if os.environ.get("MZ_BENCH_GC_THRESHOLDS"):  # "a,b,c": try other thresholds than GC_THRESHOLDS
        import gc

        thresholds = [int(x) for x in os.environ["MZ_BENCH_GC_THRESHOLDS"].split(",")]
        app.on_startup.append(lambda: gc.set_threshold(*thresholds))
    app.register(publish_noop)
    app.register(count_subscribers)
    return app


# --------------------------------------------------------------------------------------- clients


async def _client(url: str, query: str, subs: list[dict[str, str]]) -> None:
    from websockets.asyncio.client import connect

    latencies: list[float] = []
    applied: list[float] = []  # from the worker's apply (the update's ``at``, taken before its commit)
    count = {"n": 0}
    sockets: list[Any] = []
    errors: list[str] = []
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    field = "ambulanceCallUpdated" if "ambulanceCallUpdated" in query else "benchAmbulanceNoop"

    stated: set[int] = set()  # sockets that got the current state (the subscription is fully set up)

    async def read(ws: Any) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                now = time.time()
                message = json.loads(raw)
                if message.get("type") != "next":
                    continue
                data = message["payload"]["data"][field]
                if field == "ambulanceCallUpdated":
                    if data["kind"] != "POSITION":
                        stated.add(id(ws))
                        continue
                    at = data["position"]["at"]
                    applied.append((now - datetime.fromisoformat(data["at"]).timestamp()) * 1000)
                else:
                    at = data["at"]
                    applied.append((now - datetime.fromisoformat(at).timestamp()) * 1000)
                latencies.append((now - datetime.fromisoformat(at).timestamp()) * 1000)
                count["n"] += 1

    async def open_one(sub: dict[str, str]) -> None:
        async with gate:
            try:
                ws = await connect(url, subprotocols=["graphql-transport-ws"], open_timeout=60, ping_interval=None)
                init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {sub['token']}"}}
                await ws.send(json.dumps(init))
                ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if ack.get("type") != "connection_ack":
                    raise RuntimeError(f"no ack: {ack}")
                payload = {"query": query, "variables": {"callId": sub["ref"]}}
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                return
            sockets.append(ws)
            asyncio.create_task(read(ws))  # noqa: RUF006 - lives as long as the process

    await asyncio.gather(*(open_one(s) for s in subs))
    if field == "ambulanceCallUpdated":  # measure from when every subscriber has its state, not while some wait
        deadline = time.monotonic() + 120
        while len(stated) < len(sockets) and time.monotonic() < deadline:  # noqa: ASYNC110 - a bench's poll
            await asyncio.sleep(0.2)
    print(json.dumps({"connected": len(sockets), "failed": len(errors), "first_error": errors[:1]}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # "start": forget what came before
    latencies.clear()
    applied.clear()
    await loop.run_in_executor(None, sys.stdin.readline)  # "collect"
    print(json.dumps({"latencies": latencies, "applied": applied}), flush=True)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True), 10)


# --------------------------------------------------------------------------------------- the feeder


def _event(r: dict[str, str], seq: int, fix: str, sent: str, n: int, floor: bool) -> dict[str, Any]:
    if floor:
        return {"ref": r["ref"], "ts": fix, "seq": seq}
    return {
        "callId": r["call_id"], "seq": seq, "kind": "position", "sentAt": sent,
        "position": {"lat": 45.0 + (n % 100) / 10000, "lon": 41.9, "speedKmh": 50, "heading": 90, "ts": fix},
        "etaMinutes": 5,
    }  # fmt: skip


async def _feed(base: str, refs: list[dict[str, str]], seconds: float, *, floor: bool, single: bool) -> dict[str, Any]:
    """One position per call every INTERVAL_S, staggered (each fix's time is when it is due). ``single``: one
    signed request per position (FEED_CONCURRENCY in flight); otherwise the dispatch side's batching: every
    BATCH_WINDOW_S what fell due, as one signed ``{"events": [...]}`` (BATCHES_IN_FLIGHT in flight).
    Returns positions sent, refused, and each request's time."""
    import httpx
    import orjson

    from integrations.smp import SIGNATURE_HEADER, sign
    from integrations.smp.protocol import BATCH_WINDOW_S

    path = "/bench/ambulance/noop" if floor else "/api/v1/ambulance/feed"
    sent, refused = 0, 0
    took: list[float] = []
    seq = dict.fromkeys((r["call_id"] for r in refs), 100)
    gate = asyncio.Semaphore(FEED_CONCURRENCY if single else BATCHES_IN_FLIGHT)
    tasks: set[asyncio.Task[None]] = set()

    async def post(http: httpx.AsyncClient, events: list[dict[str, Any]]) -> None:
        nonlocal sent, refused
        body = orjson.dumps(events[0] if single else {"events": events})
        headers = {"Content-Type": "application/json"}
        if not floor:
            headers[SIGNATURE_HEADER] = sign(body, SECRET, int(time.time()))
        try:
            began = time.monotonic()
            response = await http.post(path, content=body, headers=headers)
            took.append((time.monotonic() - began) * 1000)
            sent += len(events)
            refused += len(events) if response.status_code != 200 else 0
        except httpx.HTTPError:
            refused += len(events)
        finally:
            gate.release()

    start = time.monotonic()
    wall = time.time() - start  # monotonic → wall clock (the clients compare wall clocks)
    tick = INTERVAL_S / max(1, len(refs))
    window = tick if single else BATCH_WINDOW_S
    limits = httpx.Limits(max_connections=FEED_CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        n = 0
        while time.monotonic() - start < seconds:
            edge = time.monotonic()
            events = []
            while start + n * tick <= edge:  # what fell due by now, each fix at its due time
                r = refs[n % len(refs)]
                seq[r["call_id"]] += 1
                fix = datetime.fromtimestamp(wall + start + n * tick, UTC).isoformat()
                events.append(_event(r, seq[r["call_id"]], fix, datetime.now(UTC).isoformat(), n, floor))
                n += 1
            for part in ([e] for e in events) if single else ([events] if events else []):
                await gate.acquire()
                task = asyncio.create_task(post(http, part))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(max(0.0, edge + window - time.monotonic()))
        if tasks:
            await asyncio.gather(*tasks)
    return {"sent": sent, "refused": refused, "seconds": time.monotonic() - start, "took": took}


# --------------------------------------------------------------------------------------- the run


async def _prepare(env: dict[str, str], n: int) -> list[dict[str, str]]:
    """Migrate; n open calls (en route, calibrated), each with a caller and a patient; a token for each."""
    from alembic import command
    from sqlalchemy import insert

    from backend.ambulance.models import AmbulanceCall
    from backend.cli import alembic_config
    from backend.core.context import ActorKind, Channel
    from backend.identity import tokens
    from backend.identity.models import AuthSession
    from backend.identity.policy import ALL_PATIENT_SCOPES
    from backend.runtime import Runtime
    from backend.settings import load_settings

    settings = load_settings(**{k.removeprefix("MZ_").lower(): v for k, v in env.items() if k.startswith("MZ_")})
    await asyncio.to_thread(command.upgrade, alembic_config(settings.database_url), "head")  # type: ignore[arg-type]
    runtime = Runtime.build(settings)
    subs, rows, logins = [], [], []
    now = datetime.now(UTC)
    try:
        for i in range(n):
            ref, caller, patient = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            rows.append({
                "id": ref, "call_id": f"B-{i:06d}", "caller_id": caller, "patient_id": patient,
                "caller_phone": "+79280000000", "status": "en_route", "district_id": "stavropol",
                "address": "bench", "place_lat": 45.05, "place_lon": 41.95, "accepted_at": now - timedelta(minutes=5),
                "departed_at": now - timedelta(minutes=3), "min_per_km": 2.0, "seq_high": 100,
                "created_at": now, "updated_at": now,
            })  # fmt: skip
            for person in (caller, patient):  # a login's session each, as the app's: the sockets are watched
                sid = uuid.uuid4()
                logins.append({
                    "id": sid, "kind": "mobile", "channel": Channel.MOBILE.value, "scopes": sorted(ALL_PATIENT_SCOPES),
                    "created_at": now, "expires_at": now + timedelta(hours=2), "last_seen_at": now,
                })  # fmt: skip
                token, _ = tokens.issue_access_token(
                    runtime, subject=str(person), kind=ActorKind.PATIENT, channel=Channel.MOBILE,
                    scopes=ALL_PATIENT_SCOPES, ttl_s=3600, session_id=sid if SESSIONS else None,
                )  # fmt: skip
                subs.append({"ref": str(ref), "call_id": f"B-{i:06d}", "token": token})
        async with runtime.sessionmaker() as session, session.begin():
            for start in range(0, n, 2000):
                await session.execute(insert(AmbulanceCall), rows[start : start + 2000])
            for start in range(0, len(logins), 2000):
                await session.execute(insert(AuthSession), logins[start : start + 2000])
    finally:
        await runtime.close()
    return subs


def _cpu_ms(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total * 1000 / os.sysconf("SC_CLK_TCK")


def _steal() -> tuple[int, int]:
    """(steal, total) CPU ticks of the machine so far (/proc/stat): a shared machine's noise, made visible."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (fields[7] if len(fields) > 7 else 0), sum(fields)


def _rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


def _profile(pids: list[int], seconds: float, side: str) -> subprocess.Popen[bytes] | None:
    """With ``MZ_BENCH_PROFILE=<prefix>``: py-spy (installed by hand, not in the lock) samples the worker while
    the feeder runs, folded stacks in ``<prefix>-<side>.txt``."""
    prefix = os.environ.get("MZ_BENCH_PROFILE")
    spy = Path(sys.executable).parent / "py-spy"
    if not prefix or not pids or not spy.exists():
        return None
    worker = max(pids, key=lambda pid: _cpu_ms([pid]))  # the one serving the websockets
    argv = [str(spy), "record", "-p", str(worker), "-d", str(max(1, int(seconds) - 2)), "-r", "100"]
    argv += ["-f", "raw", "-o", f"{prefix}-{side}.txt", "--nonblocking"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def _run(label: str, n: int, seconds: float, redis_url: str, *, side: str) -> dict[str, Any]:
    floor = side == "floor"
    import httpx
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    env = {
        "MZ_PROFILE": "test",
        "MZ_DATABASE_URL": bench_database("ambulance"),
        "MZ_REDIS_URL": redis_url,
        "MZ_LOG_LEVEL": "WARNING",
        "MZ_JWT_PRIVATE_KEY_PEM": pem.decode("ascii"),
        "MZ_SMP_WEBHOOK_SECRET": SECRET,
        "GRANIAN_BACKPRESSURE": str(2 * n + 1024),
        **SIDE_ENV.get(side, {}),
    }
    subs = asyncio.run(_prepare(env, n))
    subs_file = ROOT / "var" / f"ambulance-subs-{os.getpid()}.json"
    subs_file.parent.mkdir(parents=True, exist_ok=True)
    subs_file.write_text(json.dumps(subs), encoding="utf-8")
    refs = list({s["ref"]: s for s in subs}.values())
    clients: list[subprocess.Popen[str]] = []
    try:
        with serve("bench.ambulance:create_bench_app", env, websockets=True) as server:
            ws_url = server.base.replace("http://", "ws://") + "/graphql"
            setup_began = time.monotonic()
            share = -(-len(subs) // CLIENT_PROCESSES)
            for start in range(0, len(subs), share):
                argv = [sys.executable, "-m", "bench.ambulance", "--client", ws_url, side]
                argv += [str(subs_file), str(start), str(min(len(subs), start + share))]
                clients.append(
                    subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
                )
            setup_profiler = _profile(descendants(server.pid) or [server.pid], 30, f"{side}-setup")
            reports = [json.loads(c.stdout.readline() or "{}") for c in clients]  # type: ignore[union-attr]
            setup_s = time.monotonic() - setup_began
            if setup_profiler is not None:
                setup_profiler.wait(timeout=60)
            connected = sum(r.get("connected", 0) for r in reports)
            first_error = next((r["first_error"][0] for r in reports if r.get("first_error")), None)
            with httpx.Client(base_url=server.base, timeout=60) as http:
                deadline = time.monotonic() + 120
                subscribed = 0
                while time.monotonic() < deadline:
                    subscribed = http.post(
                        "/bench/ambulance/subscribers", json={"refs": [r["ref"] for r in refs]}
                    ).json()["subscribers"]
                    if subscribed >= connected:
                        break
                    time.sleep(0.5)
            for c in clients:
                c.stdin.write("start\n")  # type: ignore[union-attr]
                c.stdin.flush()  # type: ignore[union-attr]
            workers = descendants(server.pid) or [server.pid]
            profiler = _profile(workers, seconds, side)
            cpu_before = _cpu_ms(workers)
            steal_before = _steal()
            measured_from = time.time()
            fed = asyncio.run(_feed(server.base, refs, seconds, floor=floor, single=side in SINGLE))
            if profiler is not None:
                profiler.wait(timeout=60)
            time.sleep(1.0)  # the last deliveries
            cpu_ms = _cpu_ms(workers) - cpu_before
            steal = _steal()
            steal_pct = round(100 * (steal[0] - steal_before[0]) / max(1, steal[1] - steal_before[1]), 1)
            rss = _rss_mb(workers)
            latencies: list[float] = []
            applied: list[float] = []
            for c in clients:
                c.stdin.write("collect\n")  # type: ignore[union-attr]
                c.stdin.flush()  # type: ignore[union-attr]
            for c in clients:
                got = json.loads(c.stdout.readline() or "{}")  # type: ignore[union-attr]
                latencies += got.get("latencies", [])
                applied += got.get("applied", [])
            for c in clients:
                c.wait(timeout=30)
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
                c.wait()
        subs_file.unlink(missing_ok=True)
    delivered = len(latencies)
    figures = {
        "calls": n,
        "subscribers": len(subs),
        "connected": connected,
        "bus_subscriptions": subscribed,
        "subscribe_phase_s": round(setup_s, 1),
        "seconds": round(fed["seconds"], 1),
        "positions_in_per_s": round(fed["sent"] / fed["seconds"], 1),
        "refused": fed["refused"],
        "deliveries": delivered,
        "deliveries_per_s": round(delivered / fed["seconds"], 1),
        "p50_ms": _pct(latencies, 0.50),
        "p95_ms": _pct(latencies, 0.95),
        "p99_ms": _pct(latencies, 0.99),
        "requests_per_s": round(len(fed["took"]) / fed["seconds"], 1),
        "webhook_p50_ms": _pct(fed["took"], 0.50),
        "webhook_p99_ms": _pct(fed["took"], 0.99),
        "applied_p50_ms": _pct(applied, 0.50),
        "applied_p99_ms": _pct(applied, 0.99),
        "worker_cpu_ms_per_delivery": round(cpu_ms / delivered, 3) if delivered else float("nan"),
        "worker_rss_mb": rss,
        "machine_steal_pct": steal_pct,  # CPU time the hypervisor took from this machine meanwhile
    }
    if os.environ.get("MZ_BENCH_GC_LOG"):
        figures["measured_wall"] = [round(measured_from), round(measured_from + fed["seconds"])]
    if first_error:
        figures["first_connect_error"] = first_error
    show(f"ambulance live path, {label}, one worker (target p99 < 250 ms)", figures)
    return figures


def main(calls: int = CALLS, seconds: float = SECONDS) -> dict[str, Any]:
    raise_nofile()
    redis_url = os.environ.get("MZ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    sides = os.environ.get("MZ_BENCH_AMBULANCE_SIDES", ",".join(SIDES)).split(",")
    return {side: _run(label, calls, seconds, redis_url, side=side) for side, label in SIDES.items() if side in sides}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        raise_nofile()
        chosen = json.loads(Path(sys.argv[4]).read_text(encoding="utf-8"))[int(sys.argv[5]) : int(sys.argv[6])]
        asyncio.run(_client(sys.argv[2], QUERIES[sys.argv[3]], chosen))
    else:
        main()
