"""With a real Celery worker on a real Redis (a redis-server this test starts and restarts itself): a worker
killed mid-send, Redis restarted with its queues lost, a provider failing then recovering — every SMS
arrives once: none lost, none twice (counted in the provider simulator's own state)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from litestar import Litestar
from redis import Redis
from sqlalchemy import select

from backend.adapters import build_sms_gateway
from backend.outbox import service as outbox
from backend.runtime import Runtime
from backend.settings import get_settings
from backend.worker import celery_app, configure_celery
from backend.worker import worker_loop as _loop
from integrations.common.faults import Fault, FaultInjector, FaultProfile
from integrations.sms import SmsGateway
from integrations.sms.simulator import create_smsc_simulator, smsc_state
from notifications import tasks as notification_tasks
from notifications.models import DeliveryAttempt, MessageStatus, NotificationMessage
from tests.conftest import make_settings
from tests.support.notifications import CrashingGateway, emit, with_phone

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

DONE = {MessageStatus.SENT.value, MessageStatus.DELIVERED.value}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server of the test's own, without persistence: a restart loses every queued task."""

    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        self.tmp = tmp
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--save", "", "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                if Redis(port=self.port, socket_connect_timeout=0.2).ping():
                    return
            except Exception:  # not up yet
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def worker_env(
    database_url: str, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    env = {
        "MZ_PROFILE": "test",
        "MZ_DATABASE_URL": database_url,
        "MZ_REDIS_URL": redis_server.url,
        "MZ_CELERY_EAGER": "false",
        "MZ_VAR_DIR": str(tmp_path),
        # Short leases and back-off so the scenario plays out in seconds; quiet hours off (real clock).
        "MZ_NOTIFY_RETRY_BASE_S": "0.2",
        "MZ_NOTIFY_SEND_LEASE_S": "1",
        "MZ_NOTIFY_STATUS_POLL_S": "0.3",
        "MZ_NOTIFY_QUIET_START_HOUR": "0",
        "MZ_NOTIFY_QUIET_END_HOUR": "0",
        "MZ_UPSTREAM_TIMEOUT_S": "2",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    _forget_broker_connections()
    configure_celery(celery_app, get_settings())
    yield
    _loop.shutdown()
    get_settings.cache_clear()
    _forget_broker_connections()
    configure_celery(celery_app, get_settings())


def _forget_broker_connections() -> None:
    """The app caches its connection and producer pools: drop them, each test has a Redis of its own."""
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
async def producer(worker_env: None) -> AsyncIterator[Runtime]:
    """The API side: commits notifications and relays the outbox to the workers through Redis."""
    settings = get_settings()
    runtime = Runtime.build(make_settings(settings.database_url, settings.redis_url, celery_eager=False))
    yield runtime
    await runtime.close()


@pytest.fixture
def provider() -> Iterator[tuple[Litestar, FaultInjector]]:
    """SMSC, outliving any worker (as the real one does)."""
    injector = FaultInjector(FaultProfile())
    settings = get_settings()
    app = create_smsc_simulator(
        settings.smsc_login, settings.smsc_password, faults=injector, sending_delay_s=0.05, delivery_delay_s=0.2
    )
    yield app, injector
    _loop.run(smsc_state(app).aclose())


def _worker_uses(app: Litestar, wrap: Callable[[SmsGateway], SmsGateway] = lambda g: g) -> None:
    """(Re)build this process's worker runtime and point it at the provider (a fresh worker process)."""

    async def install() -> None:
        runtime = await _loop.runtime()
        runtime.adapters.set_sms(wrap(build_sms_gateway(runtime.settings, app)), simulator=app)

    _loop.run(install())


async def _statuses(runtime: Runtime, patients: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    async with runtime.sessionmaker() as session:
        rows = await session.execute(
            select(NotificationMessage.patient_id, NotificationMessage.status).where(
                NotificationMessage.patient_id.in_(patients), NotificationMessage.channel == "sms"
            )
        )
        return {row.patient_id: row.status for row in rows}


async def _wait(check: Callable[[], Awaitable[bool]], *, poke: Callable[[], Awaitable[None]] | None = None) -> None:
    """Poll until ``check`` holds (a generous deadline only guards against a hang; no timing asserted)."""
    for _ in range(600):
        if await check():
            return
        if poke is not None:
            await poke()
        await asyncio.sleep(0.1)
    raise AssertionError("the pipeline did not settle")


async def _beat(producer: Runtime) -> None:
    """What beat does: the outbox sweep and the notifications tick."""
    await outbox.sweep(producer, older_than=timedelta(0))
    await asyncio.to_thread(celery_app.send_task, notification_tasks.TICK_TASK)


def _numbers(n: int, base: int) -> list[str]:
    return [f"+7912{base + i:07d}" for i in range(n)]


async def _patients(runtime: Runtime, numbers: list[str]) -> list[uuid.UUID]:
    return [await with_phone(runtime, number) for number in numbers]


def _assert_once_each(app: Litestar, numbers: list[str]) -> None:
    state = smsc_state(app)
    assert {number: len(state.messages_to(number)) for number in numbers} == dict.fromkeys(numbers, 1)


async def test_worker_killed_mid_send_then_restarted(
    producer: Runtime, provider: tuple[Litestar, FaultInjector]
) -> None:
    app, _ = provider
    numbers = _numbers(5, 1000)
    patients = await _patients(producer, numbers)
    _worker_uses(app, CrashingGateway)  # this worker dies after SMSC accepts each SMS
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        for patient in patients:
            await emit(producer, patient)
        await _wait(lambda: _all_sent_to(app, numbers))
    statuses = await _statuses(producer, patients)
    assert set(statuses.values()) == {MessageStatus.SENDING.value}  # nothing recorded: outcome unknown

    _loop.shutdown()  # the process is gone; a new one starts with its own runtime
    _worker_uses(app)
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        await _wait(lambda: _settled(producer, patients), poke=lambda: _beat(producer))
    _assert_once_each(app, numbers)
    async with producer.sessionmaker() as session:
        outcomes = list(await session.scalars(select(DeliveryAttempt.outcome)))
    assert outcomes == ["reconciled"] * 5


async def test_redis_restart_loses_queues_but_no_notification(
    producer: Runtime, provider: tuple[Litestar, FaultInjector], redis_server: RedisServer
) -> None:
    app, _ = provider
    before, during = _numbers(3, 2000), _numbers(4, 3000)
    patients_before, patients_during = await _patients(producer, before), await _patients(producer, during)
    _worker_uses(app)
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        for patient in patients_before:
            await emit(producer, patient)
        await _wait(lambda: _settled(producer, patients_before))

        redis_server.stop()  # every queued task and the broker connection are gone
        for patient in patients_during:
            await emit(producer, patient)  # commits; the relay to Redis fails and is only logged
        assert set((await _statuses(producer, patients_during)).values()) <= {MessageStatus.QUEUED.value}
        redis_server.start()  # empty: nothing of what was queued survived

        await _wait(lambda: _settled(producer, patients_during), poke=lambda: _beat(producer))
    _assert_once_each(app, before + during)


async def test_provider_failing_then_recovering(producer: Runtime, provider: tuple[Litestar, FaultInjector]) -> None:
    app, injector = provider
    numbers = _numbers(4, 4000)
    patients = await _patients(producer, numbers)
    # Down three times, then a reply lost after SMSC accepted, then healthy.
    injector.force(Fault.ERROR, Fault.ERROR, Fault.ERROR, Fault.MALFORMED)
    _worker_uses(app)
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        for patient in patients:
            await emit(producer, patient)
        await _wait(lambda: _settled(producer, patients), poke=lambda: _beat(producer))
    _assert_once_each(app, numbers)
    async with producer.sessionmaker() as session:
        outcomes = list(await session.scalars(select(DeliveryAttempt.outcome)))
    assert outcomes.count("temporary_error") == 3
    assert "unknown" in outcomes or "reconciled" in outcomes


async def _all_sent_to(app: Litestar, numbers: list[str]) -> bool:
    state = smsc_state(app)
    return all(state.messages_to(number) for number in numbers)


async def _settled(runtime: Runtime, patients: list[uuid.UUID]) -> bool:
    statuses = await _statuses(runtime, patients)
    return len(statuses) == len(patients) and set(statuses.values()) <= DONE
