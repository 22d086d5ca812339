"""Pharmacy availability with the regional ЛЛО system at 300 ms (``python -m bench.drugs``): issue 23.

The ЛЛО simulator answers every call after 300 ms (``FaultProfile``); the client is the real ``LloClient`` over
httpx to the in-process simulator. A beneficiary with an enalapril prescription searches for the pharmacies
that have it (``service.availability``, what ``pharmacyAvailability`` calls): the stock of the drug, the
pharmacy list and the person's registered location come from ``runtime.adapters.drugs_cache`` (booking's
stale-while-revalidate cache, Redis-backed). Printed, one figure a line, no assertions on time:

* one upstream call (``stock``), p50 of a few: what every search would cost without the cache;
* the cold search (cache empty: location, pharmacies and stock fetched, one after another);
* warm p50 / p99 of sequential searches, the p50 of their cache reads alone (the rest of a search is two
  reads of our database: the prescription and the person), and p50 / p99 of many concurrent clients;
* the same load while every entry is stale (served at once, one background refresh per key);
* the ratio cold / warm p50.

Environment: ``MZ_BENCH_REDIS_URL`` (default redis://127.0.0.1:6379/13; empty: the in-process cache),
``MZ_BENCH_DRUGS_LATENCY_MS`` (300), and the PostgreSQL server of bench/booking.py (``MZ_BENCH_POSTGRES_URL``: a
database of its own is created and dropped).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

REDIS = os.environ.get("MZ_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
LATENCY_MS = float(os.environ.get("MZ_BENCH_DRUGS_LATENCY_MS", "300"))
SEQUENTIAL = 300
CLIENTS = 32
PER_CLIENT = 10


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _line(label: str, value: float, unit: str = "ms", note: str = "") -> None:
    print(f"drugs {label}: {value:.2f} {unit}{f' ({note})' if note else ''}", flush=True)


async def _timed(call: Any) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def _run() -> dict[str, float]:
    from backend.drugs import service
    from backend.drugs.service.availability import home_of, pharmacies, stock
    from backend.identity.models import Patient
    from backend.runtime import Runtime
    from backend.settings import load_settings
    from bench.booking import _database, _drop
    from integrations.common.faults import FaultProfile
    from integrations.common.http import build_http_client
    from integrations.demo_region import get_region
    from integrations.llo import LloClient
    from integrations.llo.simulator import ENALAPRIL, create_llo_simulator, simulator_state

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mz-bench-drugs-") as tmp:
        root = Path(tmp)
        url = await _database()
        settings = load_settings(
            profile="test", database_url=url, redis_url=REDIS, var_dir=root / "var", log_level="WARNING"
        )
        runtime = Runtime.build(settings)
        profile = FaultProfile()
        app = create_llo_simulator(get_region(), faults=profile)
        http = build_http_client("inprocess://llo", simulator_app=lambda: app, timeout_s=10)
        try:
            if runtime.redis is not None:
                await runtime.redis.flushdb()
            runtime.adapters.llo = LloClient(http, token=None, timeout_s=10)
            snils = "111-222-333 96"
            simulator_state(app).enrol(snils, "083", latitude=45.04, longitude=41.97)
            simulator_state(app).issue(snils, ENALAPRIL, quantity=30, valid_days=30, benefit_code="083", chronic=True)
            patient = Patient(
                last_name="Нагрузочный", first_name="Лев", birth_date=date(1950, 1, 1), sex="M", snils=snils
            )
            async with runtime.sessionmaker() as session, session.begin():
                session.add(patient)
            rows = (await service.list_prescriptions(runtime, patient.id)).rows
            prescription = rows[0].id
            profile.latency_ms = LATENCY_MS  # from here on, every upstream call takes 300 ms

            upstream = [await _timed(lambda: runtime.adapters.llo.stock("Эналаприл", "10 мг")) for _ in range(5)]
            figures["upstream_p50"] = statistics.median(upstream)
            _line("one upstream call (stock) p50", figures["upstream_p50"])

            async def search() -> None:
                found = await service.availability(runtime, patient.id, prescription)
                assert found.in_stock, "the bench's drug is in stock"

            figures["cold"] = await _timed(search)
            _line("cold search (cache empty: location, pharmacies, stock)", figures["cold"])

            warm = [await _timed(search) for _ in range(SEQUENTIAL)]
            figures["warm_p50"], figures["warm_p99"] = statistics.median(warm), _pct(warm, 0.99)
            _line("warm search p50", figures["warm_p50"], note=f"{SEQUENTIAL} sequential")
            _line("warm search p99", figures["warm_p99"])

            async def cached_part() -> None:
                await home_of(runtime, snils)
                await pharmacies(runtime)
                await stock(runtime, "Эналаприл", "10 мг")

            part = [await _timed(cached_part) for _ in range(SEQUENTIAL)]
            figures["cache_p50"] = statistics.median(part)
            _line("the search's cache reads alone p50", figures["cache_p50"], note="the rest is two database reads")

            async def client() -> list[float]:
                return [await _timed(search) for _ in range(PER_CLIENT)]

            many = [t for batch in await asyncio.gather(*(client() for _ in range(CLIENTS))) for t in batch]
            figures["concurrent_p50"], figures["concurrent_p99"] = statistics.median(many), _pct(many, 0.99)
            _line("warm search p50, concurrent", figures["concurrent_p50"], note=f"{CLIENTS} clients")
            _line("warm search p99, concurrent", figures["concurrent_p99"])

            cache = runtime.adapters.drugs_cache
            cache.local.clear()
            cache.clock = lambda: time.time() + settings.llo_stock_fresh_s + 1  # every entry is now stale
            refreshes = cache.refreshes
            stale = [t for batch in await asyncio.gather(*(client() for _ in range(CLIENTS))) for t in batch]
            await cache.drain()
            figures["stale_p50"], figures["stale_p99"] = statistics.median(stale), _pct(stale, 0.99)
            _line("stale search p50, concurrent", figures["stale_p50"], note="served at once")
            _line("stale search p99, concurrent", figures["stale_p99"])
            _line("background refreshes while stale", cache.refreshes - refreshes, unit="", note="one per key")
            figures["ratio"] = figures["cold"] / figures["warm_p50"]
            _line("cold / warm p50", figures["ratio"], unit="×")
        finally:
            await http.aclose()
            await runtime.close()
            await _drop(url)
    return figures


def main() -> None:
    asyncio.run(_run())


if __name__ == "__main__":
    main()
