"""The websocket delivery floor on this machine: what a server allows with no logic at all.

A bare ASGI app (no framework, no GraphQL, no database, no bus) holds ``MZ_BENCH_WS_SOCKETS`` websockets
(10,000: issue 21's subscribers) and sends ``MZ_BENCH_WS_RATE`` messages per second (2,000: issue 21's
deliveries) round robin, each a ~300-byte text frame carrying its send time, for ``MZ_BENCH_SECONDS``. The
same clients as ``bench/ambulance.py`` (the ``websockets`` library, two processes) record receive time −
send time. Run once per server (``MZ_BENCH_WS_SERVERS``: ``granian,uvicorn``): printed per server the
deliveries/s, p50/p99 and the server's CPU per delivery, and the ratio between the two.

This decides what the live path is served by: the server's own cost per frame is below anything the
application can remove.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from typing import Any

from bench.common import ROOT, descendants, raise_nofile, serve, show

SOCKETS = int(os.environ.get("MZ_BENCH_WS_SOCKETS", "10000"))
RATE = float(os.environ.get("MZ_BENCH_WS_RATE", "2000"))
SECONDS = float(os.environ.get("MZ_BENCH_SECONDS", "30"))
CLIENT_PROCESSES = 2
PAD = "x" * 240


def create_app() -> Any:
    """The bare ASGI app: websockets held in a list; a ticker sends RATE frames/s round robin."""
    sockets: list[Any] = []
    state = {"ticker": None}

    async def ticker() -> None:
        step = 0.01
        owed = 0.0
        i = 0
        while True:
            await asyncio.sleep(step)
            owed += RATE * step
            while owed >= 1 and sockets:
                owed -= 1
                i = (i + 1) % len(sockets)
                text = '{"type":"next","payload":{"at":' + repr(time.time()) + ',"pad":"' + PAD + '"}}'
                with contextlib.suppress(Exception):
                    await sockets[i]({"type": "websocket.send", "text": text})

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "http":
            await receive()
            body = json.dumps({"sockets": len(sockets)}).encode()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "websocket":
            return
        await receive()  # connect
        await send({"type": "websocket.accept"})
        if state["ticker"] is None:
            state["ticker"] = asyncio.ensure_future(ticker())
        sockets.append(send)
        try:
            while (await receive())["type"] != "websocket.disconnect":
                pass
        finally:
            sockets.remove(send)

    return app


async def _client(url: str, count: int) -> None:
    from websockets.asyncio.client import connect

    latencies: list[float] = []
    sockets: list[Any] = []
    gate = asyncio.Semaphore(100)

    async def read(ws: Any) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                now = time.time()
                latencies.append((now - json.loads(raw)["payload"]["at"]) * 1000)

    async def open_one() -> None:
        async with gate:
            ws = await connect(url, open_timeout=60, ping_interval=None)
            sockets.append(ws)
            asyncio.create_task(read(ws))  # noqa: RUF006 - lives as long as the process

    await asyncio.gather(*(open_one() for _ in range(count)), return_exceptions=True)
    print(json.dumps({"connected": len(sockets)}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # "start"
    latencies.clear()
    await loop.run_in_executor(None, sys.stdin.readline)  # "collect"
    print(json.dumps({"latencies": latencies}), flush=True)


def _cpu_ms(pids: list[int]) -> float:
    from bench.ambulance import _cpu_ms as cpu

    return cpu(pids)


def _run(server_name: str) -> dict[str, Any]:
    from bench.ambulance import _pct

    os.environ["MZ_BENCH_SERVER"] = server_name
    clients: list[subprocess.Popen[str]] = []
    with serve("bench.ws_floor:create_app", {}, websockets=True) as server:
        url = server.base.replace("http://", "ws://") + "/ws"
        share = SOCKETS // CLIENT_PROCESSES
        for _ in range(CLIENT_PROCESSES):
            argv = [sys.executable, "-m", "bench.ws_floor", "--client", url, str(share)]
            clients.append(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT))
        connected = sum(json.loads(c.stdout.readline() or "{}").get("connected", 0) for c in clients)  # type: ignore[union-attr]
        time.sleep(2)
        pids = descendants(server.pid) or [server.pid]
        for c in clients:
            c.stdin.write("start\n")  # type: ignore[union-attr]
            c.stdin.flush()  # type: ignore[union-attr]
        cpu0, t0 = _cpu_ms(pids), time.monotonic()
        time.sleep(SECONDS)
        cpu, took = _cpu_ms(pids) - cpu0, time.monotonic() - t0
        latencies: list[float] = []
        for c in clients:
            c.stdin.write("collect\n")  # type: ignore[union-attr]
            c.stdin.flush()  # type: ignore[union-attr]
        for c in clients:
            latencies += json.loads(c.stdout.readline() or "{}").get("latencies", [])  # type: ignore[union-attr]
            c.kill()
    figures = {
        "sockets": connected,
        "deliveries_per_s": round(len(latencies) / took, 1),
        "p50_ms": _pct(latencies, 0.5),
        "p99_ms": _pct(latencies, 0.99),
        "server_cpu_us_per_delivery": round(cpu * 1000 / max(1, len(latencies)), 1),
    }
    show(f"websocket floor, {server_name}, {RATE:.0f} frames/s offered", figures)
    return figures


def main() -> dict[str, Any]:
    raise_nofile()
    import importlib.util

    servers = os.environ.get("MZ_BENCH_WS_SERVERS", "granian,uvicorn").split(",")
    if "uvicorn" in servers and importlib.util.find_spec("uvicorn") is None:
        print("websocket floor, uvicorn: not installed (not in the lock; install it by hand to compare)", flush=True)
        servers.remove("uvicorn")
    return {name: _run(name) for name in servers}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        raise_nofile()
        asyncio.run(_client(sys.argv[2], int(sys.argv[3])))
    else:
        main()
