"""Throughput of the notifications pipeline: outbox → worker → SMS provider simulator.

    python -m bench.notifications                       # embedded: SQLite file, inline relay
    python -m bench.notifications --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        --redis redis://127.0.0.1:6379/14               # PostgreSQL + a real Celery worker on Redis

It commits ``--count`` notifications (``--batch`` per unit of work), waits until every SMS is accepted by
the in-process SMSC simulator, checks that each number got exactly one, and prints messages per second.
No assertion on time: the figure depends on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine


def _settings(database_url: str, redis_url: str, var_dir: Path) -> Any:
    from backend.settings import load_settings

    return load_settings(
        profile="test",
        database_url=database_url,
        redis_url=redis_url,
        celery_eager=not redis_url,
        var_dir=var_dir,
        log_level="WARNING",
        notify_quiet_start_hour=0,
        notify_quiet_end_hour=0,
    )


async def _migrate(url: str) -> None:
    from alembic import command

    from backend.cli import alembic_config

    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


async def _scratch_postgres(server_url: str, name: str, *, create: bool) -> str:
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if create:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def run(count: int, batch: int, postgres: str | None, redis_url: str) -> dict[str, Any]:
    import structlog

    from backend.adapters import build_sms_gateway
    from backend.core.context import RequestContext
    from backend.core.uow import UnitOfWork
    from backend.logging import configure_logging
    from backend.runtime import Runtime
    from integrations.sms.simulator import create_smsc_simulator, smsc_state
    from notifications.models import MessageStatus, NotificationMessage
    from notifications.preferences import upsert_contacts
    from notifications.service import notify

    configure_logging("WARNING", json=True)
    structlog.get_logger(__name__)
    tmp = Path(tempfile.mkdtemp(prefix="mz-bench-"))
    scratch = f"mz_bench_{os.getpid()}"
    database_url = (
        await _scratch_postgres(postgres, scratch, create=True)
        if postgres
        else f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    )
    await _migrate(database_url)
    settings = _settings(database_url, redis_url, tmp)
    simulator = create_smsc_simulator(
        settings.smsc_login, settings.smsc_password, sending_delay_s=0.0, delivery_delay_s=0.5
    )
    runtime = Runtime.build(settings)
    runtime.adapters.set_sms(build_sms_gateway(settings, simulator), simulator=simulator)
    worker_cm: Any = None
    if redis_url:
        worker_cm = _start_worker(settings, simulator)

    numbers = [f"+7912{i:07d}" for i in range(count)]
    patients = [uuid.uuid4() for _ in numbers]
    async with runtime.sessionmaker() as session, session.begin():
        for patient, number in zip(patients, numbers, strict=True):
            await upsert_contacts(session, patient, phone=number)
    data = {"specialty": "Терапевт", "doctor": "Иванова А. П.", "starts_at": "2026-03-12T07:30:00+00:00"}

    started = time.perf_counter()
    for offset in range(0, count, batch):
        async with UnitOfWork(runtime, RequestContext.for_system("bench")) as uow:
            for patient in patients[offset : offset + batch]:
                notify(uow, patient_id=patient, event="appointment.booked", data=data, dedupe_key=f"bench:{patient}")
    done = 0
    while done < count:
        await runtime.relay.drain()
        async with runtime.sessionmaker() as session:
            done = int(
                await session.scalar(
                    select(func.count())
                    .select_from(NotificationMessage)
                    .where(
                        NotificationMessage.channel == "sms",
                        NotificationMessage.status.in_([MessageStatus.SENT.value, MessageStatus.DELIVERED.value]),
                    )
                )
                or 0
            )
        if done < count:
            await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started

    state = smsc_state(simulator)
    per_number = {len(state.messages_to(n)) for n in numbers}
    if worker_cm is not None:
        worker_cm.__exit__(None, None, None)
        from backend.worker import worker_loop as _loop

        _loop.shutdown()
    await state.aclose()
    await runtime.close()
    if postgres:
        await _scratch_postgres(postgres, scratch, create=False)
    return {
        "mode": "postgres+celery" if redis_url else ("postgres+inline" if postgres else "sqlite+inline"),
        "messages": count,
        "seconds": round(elapsed, 3),
        "messages_per_second": round(count / elapsed, 1),
        "each_number_once": per_number == {1},
    }


def _start_worker(settings: Any, simulator: Any) -> Any:
    """An in-thread Celery worker (solo pool) whose runtime talks to the same simulator."""
    from celery.contrib.testing.worker import start_worker

    from backend.adapters import build_sms_gateway
    from backend.settings import get_settings
    from backend.worker import celery_app, configure_celery
    from backend.worker import worker_loop as _loop
    from notifications import tasks as _tasks  # noqa: F401 - registers the tasks

    for name, value in {
        "MZ_PROFILE": "test",
        "MZ_DATABASE_URL": settings.database_url,
        "MZ_REDIS_URL": settings.redis_url,
        "MZ_CELERY_EAGER": "false",
        "MZ_LOG_LEVEL": "WARNING",
        "MZ_NOTIFY_QUIET_START_HOUR": "0",
        "MZ_NOTIFY_QUIET_END_HOUR": "0",
    }.items():
        os.environ[name] = value
    get_settings.cache_clear()
    configure_celery(celery_app, get_settings())

    async def install() -> None:
        rt = await _loop.runtime()
        rt.adapters.set_sms(build_sms_gateway(rt.settings, simulator), simulator=simulator)

    _loop.run(install())
    worker = start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING")
    worker.__enter__()
    return worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--batch", type=int, default=50, help="notifications per unit of work")
    parser.add_argument("--postgres", help="server URL; a scratch database is created and dropped")
    parser.add_argument("--redis", default="", help="Redis URL: relay through a real Celery worker")
    args = parser.parse_args()
    if args.redis and not args.postgres:
        parser.error("--redis needs --postgres (the worker and the API share the database)")
    result = asyncio.run(run(args.count, args.batch, args.postgres, args.redis))
    for key, value in result.items():
        print(f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
