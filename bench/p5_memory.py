"""P5: resident memory of one API worker, idle and holding 1,000 open connections (target ≤ 150 MB).

The served app (``backend.app:create_served_app``, what ``moe-zdorovye serve`` runs) in one Granian worker
with websockets on, in the ``test`` profile, not production's: PostgreSQL as in production, but no Redis
(the inbox bus is in-process, where production's is Redis's: one pattern subscription per worker, its
subscribers in the same in-process mailboxes), ad-hoc GraphQL documents allowed, GraphiQL and
introspection on, Celery eager, the upstreams' in-process simulators. Production's own profile needs real
upstream URLs and certificates that a bench machine does not have. RSS is VmRSS from
/proc/<pid>/status: the worker process(es) (every descendant of Granian's main process) summed, the main
process reported apart. "Idle" is after one GraphQL query and one subscribed websocket (imports and caches
warmed). Three runs, each in a fresh server (freed memory is not handed back, so a second figure from the
same worker would mean nothing):

* ``ws``: 1,000 graphql-transport-ws connections, each authenticated with its own patient's token in
  ``connection_init`` and holding an active ``inboxItemAdded`` subscription (checked: the worker's bus
  holds 1,000 subscribers);
* ``http``: 1,000 HTTP/1.1 keep-alive connections held open after one ``GET /health/live`` each;
* ``floor``: the same Granian serving a no-op ASGI app that accepts 1,000 websockets and answers
  ``connection_init``: what Granian itself keeps per websocket (its tungstenite read buffer is 128 KiB,
  zeroed at the upgrade, not configurable from Python), which no change in the app can remove.

Clients run in this process (their memory is not counted).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from bench.common import bench_database, descendants, raise_nofile, serve, show

CONNECTIONS = 1_000
QUERY = "subscription { inboxItemAdded { id title text createdAt } }"
CONNECT_CONCURRENCY = 100
SETTLE_S = 1.5


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _memory(master: int) -> tuple[float, float, int]:
    """(workers' RSS MB, main process RSS MB, worker count)."""
    workers = descendants(master)
    return sum(_rss_kb(p) for p in workers) / 1024, _rss_kb(master) / 1024, len(workers)


async def _open_websockets(url: str, tokens: list[str | None]) -> list[Any]:
    """One connection per token; with a token: authenticated at ``connection_init`` and subscribed."""
    from websockets.asyncio.client import connect

    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(token: str | None) -> Any:
        async with gate:
            ws = await connect(
                url, subprotocols=["graphql-transport-ws"], open_timeout=60, ping_interval=None, close_timeout=2
            )
            init: dict[str, Any] = {"type": "connection_init"}
            if token:
                init["payload"] = {"Authorization": f"Bearer {token}"}
            await ws.send(json.dumps(init))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"no connection_ack: {ack}")
            if token:
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": QUERY}}))
            return ws

    results = await asyncio.gather(*(one(t) for t in tokens), return_exceptions=True)
    return list(results)


async def _subscribers(base: str, patients: list[str]) -> int:
    """The worker's live bus subscriptions of these patients, once they stop growing (at most 60 s)."""
    import httpx

    count = -1
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for _ in range(120):
            now = (await http.post("/bench/inbox/subscribers", json={"patients": patients})).json()["subscribers"]
            if now == count or now >= len(patients):
                return int(now)
            count = now
            await asyncio.sleep(0.5)
    return count


def create_bench_app() -> Any:
    """The served app plus the bench-only route that counts bus subscribers (P4's)."""
    from backend.app import create_served_app
    from bench.p4_fanout import count_subscribers

    app = create_served_app()
    app.register(count_subscribers)
    return app


def create_noop_app() -> Any:
    """An ASGI app that accepts websockets, acks ``connection_init`` and keeps nothing: Granian's floor."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        elif scope["type"] == "http":
            await receive()
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"{}"})
        else:
            await receive()
            await send({"type": "websocket.accept", "subprotocol": "graphql-transport-ws"})
            while (message := await receive())["type"] != "websocket.disconnect":
                if "connection_init" in (message.get("text") or ""):
                    await send({"type": "websocket.send", "text": '{"type":"connection_ack"}'})

    return app


async def _open_keepalive(host: str, port: int, n: int) -> list[Any]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    request = f"GET /health/live HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n\r\n".encode()

    async def one() -> Any:
        async with gate:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head[:80].decode("latin-1"))
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            await reader.readexactly(length)
            return writer

    results = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
    return list(results)


async def _measure(base: str, master: int, users: list[dict[str, str]], kind: str) -> dict[str, Any]:
    """Idle RSS, then RSS holding one connection of ``kind`` ("ws", "http" or "floor") per user."""
    import httpx

    n = len(users) - 1  # the first user warms up
    ws_url = base.replace("http://", "ws://") + ("/" if kind == "floor" else "/graphql")
    host, port = base.removeprefix("http://").split(":")
    if kind != "floor":
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:  # warm-up: one query, one subscription
            answer = (await http.post("/graphql", json={"query": "{ apiInfo { version } }"})).json()
            if answer.get("errors"):
                raise SystemExit(f"bench: {answer}")
    tokens: list[str | None] = [None if kind == "floor" else u["token"] for u in users]
    for ws in await _open_websockets(ws_url, tokens[:1]):
        if isinstance(ws, BaseException):
            raise ws
        await ws.close()
    await asyncio.sleep(SETTLE_S)
    idle, master_idle, workers = _memory(master)
    began = time.monotonic()
    opened = await (_open_keepalive(host, int(port), n) if kind == "http" else _open_websockets(ws_url, tokens[1:]))
    open_s = time.monotonic() - began
    held = [s for s in opened if not isinstance(s, BaseException)]
    errors = [s for s in opened if isinstance(s, BaseException)]
    subscribed = await _subscribers(base, [u["patient"] for u in users[1:]]) if kind == "ws" else None
    await asyncio.sleep(SETTLE_S)
    loaded, master_loaded, _ = _memory(master)
    if kind != "http":
        await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)
    else:
        for writer in held:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for w in held), return_exceptions=True)
    figures: dict[str, Any] = {
        "worker_processes": workers,
        "idle_worker_mb": round(idle, 1),
        f"{kind}_held": len(held),
        f"{kind}_open_s": round(open_s, 1),
        f"worker_mb_with_{kind}": round(loaded, 1),
        f"kb_per_{kind}": round((loaded - idle) * 1024 / max(1, len(held)), 1),
        "master_mb_idle/loaded": f"{master_idle:.1f}/{master_loaded:.1f}",
    }
    if subscribed is not None:
        figures["subscriptions"] = subscribed
    if errors:
        figures["errors"] = f"{len(errors)}: {errors[0]!r}"[:200]
    return figures


def main(connections: int = CONNECTIONS) -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from bench.p4_fanout import _prepare

    raise_nofile()
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    env = {
        "MZ_PROFILE": "test",
        "MZ_DATABASE_URL": bench_database("p5"),
        "MZ_LOG_LEVEL": "WARNING",
        "MZ_JWT_PRIVATE_KEY_PEM": pem.decode("ascii"),
        "GRANIAN_BACKPRESSURE": str(connections + 1024),
    }
    users = asyncio.run(_prepare(env, connections + 1))
    result: dict[str, Any] = {}
    runs = (
        ("ws", "bench.p5_memory:create_bench_app", "graphql-transport-ws, each authenticated and subscribed"),
        ("http", "bench.p5_memory:create_bench_app", "HTTP/1.1 keep-alive"),
        ("floor", "bench.p5_memory:create_noop_app", "websockets to a no-op ASGI app (Granian's own floor)"),
    )
    for kind, factory, what in runs:
        with serve(factory, env, websockets=True) as server:
            result[kind] = figures = asyncio.run(_measure(server.base, server.pid, users, kind))
        show(f"P5 RSS of one worker, idle and with {connections:,} open {what} (target ≤ 150 MB)", figures)
    return result


if __name__ == "__main__":
    main()
