"""P2's floor (``python -m bench.floor``): a booking's round trips with no logic at all, on this machine.

What no implementation in Python on these cores can beat with the same conversation: each operation sends
what one confirmed one-step booking of a new patient sends (bench/booking.py), and nothing else happens
between the answers —

* Redis, one pipeline: ``SET slot-marker NX EX`` and ``GET`` of the remembered IdPat;
* PostgreSQL, one transaction: ``BEGIN``, a ``SELECT`` of one row by primary key (the patient), one
  statement that claims the slot (``INSERT … ON CONFLICT DO NOTHING RETURNING`` on a unique slot) and, only
  if it did, writes an audit row and an outbox row (data-modifying CTEs, as the unit of work's combined
  write), ``COMMIT``;
* Redis: ``SET`` of the IdPat the hub gave.

With raw asyncpg and redis-py (prepared statements, no SQLAlchemy, no GraphQL, no rules, no hub), the same
64 clients in the same worker processes (one event loop each, on uvloop as bench.booking) for
``MZ_BENCH_SECONDS``. Printed: operations per second, the client CPU per operation, and PostgreSQL's.
bench/booking.py prints its confirmed bookings per second against this figure. No assertions on time.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid

from sqlalchemy.engine import make_url

from bench.booking import CLIENTS, PROCESSES, REDIS, SECONDS, _cpu_of, _drop
from bench.common import ROOT, bench_database, run_loop

_TABLES = (
    "CREATE TABLE floor_rows (id uuid PRIMARY KEY, patient_id uuid NOT NULL, slot text NOT NULL UNIQUE, body text)",
    "CREATE TABLE floor_audit (id uuid PRIMARY KEY, row_id uuid NOT NULL, action text NOT NULL, body text)",
    "CREATE TABLE floor_outbox (id uuid PRIMARY KEY, row_id uuid NOT NULL, topic text NOT NULL, payload text)",
)
# The claim, its audit row and its outbox row: one statement, the last two only if the claim inserted.
_CLAIM = """
WITH claim AS (
    INSERT INTO floor_rows (id, patient_id, slot, body) VALUES ($1, $2, $3, $4)
    ON CONFLICT DO NOTHING RETURNING id
), audit AS (
    INSERT INTO floor_audit (id, row_id, action, body) SELECT $5, id, 'booked', $6 FROM claim
), outbox AS (
    INSERT INTO floor_outbox (id, row_id, topic, payload) SELECT $7, id, 'booked', $8 FROM claim
)
SELECT id FROM claim
"""


def _dsn(url: str) -> str:
    u = make_url(url)
    return f"postgresql://{u.username or 'postgres'}@{u.host or '127.0.0.1'}:{u.port or 5432}/{u.database}"


def _database() -> str:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    url = bench_database("floor")

    async def create_table() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                for table in _TABLES:
                    await conn.execute(text(table))
        finally:
            await engine.dispose()

    asyncio.run(create_table())
    return url


async def _worker(url: str, clients: int, start_at: float) -> dict[str, float]:
    import asyncpg
    import redis.asyncio as aioredis

    pool = await asyncpg.create_pool(_dsn(url), min_size=clients, max_size=clients)
    redis = aioredis.Redis.from_url(REDIS or "redis://127.0.0.1:6379/14", max_connections=clients)
    done = 0
    await asyncio.sleep(max(0.0, start_at - time.time()))
    deadline = time.perf_counter() + SECONDS

    async def client() -> None:
        nonlocal done
        async with pool.acquire() as conn:
            read = await conn.prepare("SELECT id, slot FROM floor_rows WHERE id = $1")
            claim = await conn.prepare(_CLAIM)
            while time.perf_counter() < deadline:
                key = uuid.uuid4().hex
                async with redis.pipeline(transaction=False) as pipe:
                    pipe.set(f"floor:slot:{key}", "1", nx=True, ex=30)
                    pipe.get(f"floor:idpat:{key}")
                    await pipe.execute()
                async with conn.transaction():
                    await read.fetch(uuid.uuid4())
                    await claim.fetch(
                        uuid.uuid4(), uuid.uuid4(), key, "x" * 400, uuid.uuid4(), "a" * 200, uuid.uuid4(), "o" * 300
                    )
                await redis.set(f"floor:idpat:{key}", "42", ex=30)
                done += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client() for _ in range(clients)))
    figures = {"done": done, "elapsed": time.perf_counter() - started, "cpu_s": time.process_time() - cpu}
    print(json.dumps(figures), flush=True)
    await asyncio.sleep(1.0)  # the parent reads PostgreSQL's CPU while these backends still exist
    await pool.close()
    await redis.aclose()
    return figures


async def _rows(url: str) -> dict[str, int]:
    """Rows written: a claim, an audit row and an outbox row per operation."""
    import asyncpg

    conn = await asyncpg.connect(_dsn(url))
    try:
        tables = ("floor_rows", "floor_audit", "floor_outbox")
        return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in tables}
    finally:
        await conn.close()


def measure() -> dict[str, float]:
    """Run the floor; returns operations per second and CPU ms per operation (clients, PostgreSQL)."""
    url = _database()
    try:
        start_at = time.time() + 3.0
        per = CLIENTS // PROCESSES
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "bench.floor", "--worker", url, str(per), str(start_at)],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for _ in range(PROCESSES)
        ]
        time.sleep(max(0.0, start_at - time.time()))
        database = make_url(url).database
        pg_before = _cpu_of(("postgres",), database=database)
        outputs = [child.stdout.readline() if child.stdout else "" for child in children]
        pg = _cpu_of(("postgres",), database=database) - pg_before
        for child in children:
            child.communicate()
        if any(child.returncode for child in children):
            raise SystemExit(f"bench.floor: a worker failed: {[c.returncode for c in children]}")
        rows = asyncio.run(_rows(url))
    finally:
        asyncio.run(_drop(url))
    figures = [json.loads(out) for out in outputs]
    done = sum(f["done"] for f in figures)
    elapsed = max(f["elapsed"] for f in figures)
    per_op = 1000 / max(done, 1)
    if set(rows.values()) != {done}:
        raise SystemExit(f"bench.floor: {done} operations wrote {rows}: each must write one row of each")
    return {
        "ops_per_s": done / elapsed,
        "client_cpu_ms": sum(f["cpu_s"] for f in figures) * per_op,
        "postgres_cpu_ms": pg * per_op,
    }


def line(floor: dict[str, float]) -> str:
    return (
        f"P2 floor [a booking's round trips without any logic: raw asyncpg + redis-py, {CLIENTS} clients in "
        f"{PROCESSES} processes, {SECONDS:.0f} s]: {floor['ops_per_s']:.0f} operations/s; CPU ms per operation: "
        f"clients {floor['client_cpu_ms']:.2f}, PostgreSQL {floor['postgres_cpu_ms']:.2f}"
    )


def main() -> None:
    print(line(measure()), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        url, clients, start_at = sys.argv[2:5]
        run_loop(_worker(url, int(clients), float(start_at)))
    else:
        main()
