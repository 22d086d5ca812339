"""Shared bench plumbing: serve an app in its own process, load it with wrk from another, read figures."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["bash", "-c", "apt-get update -qq && apt-get install -y -qq wrk >/dev/null"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: wrk is needed (Debian package wrk)")
    return found


def raise_nofile() -> int:
    """Raise this process's open-files soft limit to the hard limit (children inherit it); return it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass
class Server:
    base: str
    pid: int  # Granian's main process; its workers are its child processes


@contextlib.contextmanager
def served(factory: str, env: dict[str, str], *, workers: int = 1, websockets: bool = False) -> Iterator[str]:
    """Serve ``module:factory`` with Granian in a child process; yield its base URL."""
    with serve(factory, env, workers=workers, websockets=websockets) as server:
        yield server.base


@contextlib.contextmanager
def serve(factory: str, env: dict[str, str], *, workers: int = 1, websockets: bool = False) -> Iterator[Server]:
    """:func:`served` that also tells the server's pid (memory figures); open-files limit raised to the hard one."""
    port = free_port()
    child_env = {**os.environ, **env}
    raise_nofile()  # inherited by the server
    if os.environ.get("MZ_BENCH_SERVER", "granian") == "uvicorn":
        argv = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", str(workers), "--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
        argv += ["--no-access-log", "--ws", "websockets" if websockets else "none"]
    else:
        argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", factory, "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--workers", str(workers), *(() if websockets else ("--no-ws",))]
        argv += ["--log-level", "warning"]
    proc = subprocess.Popen(argv, env=child_env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if proc.poll() is not None:
                raise SystemExit(f"bench: the server for {factory} exited with {proc.returncode}")
            time.sleep(0.2)
        yield Server(base=base, pid=proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int
    requests: int = 0


def process_tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
    return total


_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(
    url: str, *, body: dict[str, object] | None = None, seconds: int = 10, connections: int = 32, threads: int = 1
) -> WrkResult:
    wrk = ensure_wrk()
    script = None
    args = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if body is not None:
        payload = json.dumps(body).replace("\\", "\\\\").replace('"', '\\"')
        script = ROOT / "var" / f"wrk-{os.getpid()}.lua"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(
            f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = "{payload}"\n',
            encoding="utf-8",
        )
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    if script is not None:
        script.unlink(missing_ok=True)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latencies = {m.group(1): _ms(m.group(2), m.group(3)) for m in _LATENCY.finditer(out)}
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    requests = re.search(r"(\d+) requests in", out)
    return WrkResult(
        requests_per_s=rps,
        p50_ms=latencies.get("50", float("nan")),
        p99_ms=latencies.get("99", float("nan")),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(g) for g in errors.groups()) if errors else 0,
        requests=int(requests.group(1)) if requests else 0,
    )


def descendants(pid: int) -> list[int]:
    """Every descendant process of ``pid`` (Granian's workers of its main process)."""
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


@contextlib.contextmanager
def profiled(pid: int, label: str) -> Iterator[None]:
    """With ``MZ_BENCH_PYSPY=<directory>`` and py-spy on PATH (not a project dependency), sample the
    worker processes of Granian's main process ``pid`` while the block runs: ``<directory>/<label>.txt``
    (collapsed stacks) for reading or flame graphs. Without it, nothing."""
    directory = os.environ.get("MZ_BENCH_PYSPY")
    spy = shutil.which("py-spy")
    if not directory or not spy:
        yield
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    options = ["--format", "raw", "--rate", "200", "--nonblocking"]
    procs = [
        subprocess.Popen(
            [spy, "record", "--pid", str(worker), *options, "--output", str(Path(directory) / f"{label}-{worker}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for worker in descendants(pid)
    ]
    time.sleep(0.5)  # py-spy attaches
    try:
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)


def show(name: str, figures: dict[str, object]) -> None:
    print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)


POSTGRES_SERVER = os.environ.get("MZ_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


T = TypeVar("T")


def run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on uvloop, as the API's Granian workers do (``MZ_BENCH_LOOP=asyncio``: the standard loop)."""
    import asyncio

    if os.environ.get("MZ_BENCH_LOOP") == "asyncio":
        return asyncio.run(coro)
    import uvloop

    return uvloop.run(coro)


def bench_database(name: str) -> str:
    """A fresh PostgreSQL database for one scenario (``mz_bench_<name>``), as production runs on."""
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    database = f"mz_bench_{name}"

    async def recreate() -> None:
        admin = create_async_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                await conn.execute(text(f'CREATE DATABASE "{database}"'))
        finally:
            await admin.dispose()

    asyncio.run(recreate())
    return make_url(POSTGRES_SERVER).set(database=database).render_as_string(hide_password=False)


def check_graphql(url: str, body: dict[str, object], field: str) -> None:
    """One request before the load: the figures mean nothing if the answer is an error."""
    import httpx

    answer = httpx.post(url, json=body, timeout=30).json()
    if answer.get("errors") or not answer.get("data", {}).get(field):
        raise SystemExit(f"bench: {url} answered {str(answer)[:300]}")
