"""P5: resident memory of one API worker, idle and holding 1,000 open connections (target ≤ 150 MB).

The real app (``backend.app:create_app``, PostgreSQL settings as in production, no Redis) in one Granian
worker with websockets on. RSS is VmRSS from /proc/<pid>/status: the worker process(es) (every
descendant of Granian's main process) summed, the main process reported apart. "Idle" is after one
GraphQL query and one websocket handshake (imports and caches warmed). Then 1,000 graphql-transport-ws
connections, each held open after ``connection_ack`` with no subscription; then, in a fresh server
(freed memory is not handed back, so a second figure from the same worker would mean nothing), 1,000
HTTP/1.1 keep-alive connections held open after one ``GET /health/live`` each. Clients run in
this process (their memory is not counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

from bench.common import bench_database, raise_nofile, serve, show

CONNECTIONS = 1_000
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


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _memory(master: int) -> tuple[float, float, int]:
    """(workers' RSS MB, main process RSS MB, worker count)."""
    workers = _descendants(master)
    return sum(_rss_kb(p) for p in workers) / 1024, _rss_kb(master) / 1024, len(workers)


async def _open_websockets(url: str, n: int) -> list[Any]:
    from websockets.asyncio.client import connect

    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> Any:
        async with gate:
            ws = await connect(
                url, subprotocols=["graphql-transport-ws"], open_timeout=60, ping_interval=None, close_timeout=2
            )
            await ws.send(json.dumps({"type": "connection_init"}))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"no connection_ack: {ack}")
            return ws

    results = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
    return list(results)


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


async def _measure(base: str, master: int, n: int, kind: str) -> dict[str, Any]:
    """Idle RSS, then RSS holding ``n`` connections of ``kind`` ("ws" or "http"); a fresh server each."""
    import httpx

    ws_url = base.replace("http://", "ws://") + "/graphql"
    host, port = base.removeprefix("http://").split(":")
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:  # warm-up: one query, one handshake
        answer = (await http.post("/graphql", json={"query": "{ apiInfo { version } }"})).json()
        if answer.get("errors"):
            raise SystemExit(f"bench: {answer}")
    for ws in await _open_websockets(ws_url, 1):
        if isinstance(ws, BaseException):
            raise ws
        await ws.close()
    await asyncio.sleep(SETTLE_S)
    idle, master_idle, workers = _memory(master)
    began = time.monotonic()
    opened = await (_open_websockets(ws_url, n) if kind == "ws" else _open_keepalive(host, int(port), n))
    open_s = time.monotonic() - began
    held = [s for s in opened if not isinstance(s, BaseException)]
    errors = [s for s in opened if isinstance(s, BaseException)]
    await asyncio.sleep(SETTLE_S)
    loaded, master_loaded, _ = _memory(master)
    if kind == "ws":
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
    if errors:
        figures["errors"] = f"{len(errors)}: {errors[0]!r}"[:200]
    return figures


def main(connections: int = CONNECTIONS) -> dict[str, Any]:
    raise_nofile()
    env = {
        "MZ_PROFILE": "test",
        "MZ_DATABASE_URL": bench_database("p5"),
        "MZ_LOG_LEVEL": "WARNING",
        "GRANIAN_BACKPRESSURE": str(connections + 1024),
    }
    result: dict[str, Any] = {}
    for kind, what in (("ws", "graphql-transport-ws after connection_ack"), ("http", "HTTP/1.1 keep-alive")):
        with serve("backend.app:create_app", env, websockets=True) as server:
            result[kind] = figures = asyncio.run(_measure(server.base, server.pid, connections, kind))
        show(f"P5 RSS of one API worker, idle and with {connections:,} open {what} (target ≤ 150 MB)", figures)
    return result


if __name__ == "__main__":
    main()
