"""A real Celery worker on real Redis carries a committed outbox message to its handler, once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from celery.contrib.testing.worker import start_worker

from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.outbox.models import OutboxMessage
from backend.outbox.service import CeleryRelay
from backend.runtime import Runtime
from backend.settings import get_settings
from backend.worker import celery_app, configure_celery
from backend.worker import worker_loop as _loop
from tests.conftest import make_settings
from tests.support import testschema

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def worker_settings(database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The worker process builds its Runtime from the environment, as in production.
    monkeypatch.setenv("MZ_PROFILE", "test")
    monkeypatch.setenv("MZ_DATABASE_URL", database_url)
    monkeypatch.setenv("MZ_REDIS_URL", redis_url)
    monkeypatch.setenv("MZ_CELERY_EAGER", "false")
    get_settings.cache_clear()
    configure_celery(celery_app, get_settings())
    yield
    _loop.shutdown()
    get_settings.cache_clear()
    configure_celery(celery_app, get_settings())


async def test_worker_delivers_committed_message_once(worker_settings: None, database_url: str, redis_url: str) -> None:
    testschema.DELIVERIES.clear()
    settings = make_settings(database_url, redis_url, celery_eager=False)
    runtime = Runtime.build(settings)
    assert isinstance(runtime.relay, CeleryRelay)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            async with UnitOfWork(runtime, RequestContext.for_system("test")) as uow:
                message_id = uow.emit(testschema.TOPIC, {"n": 1})
            await runtime.relay.enqueue([message_id])  # a duplicate relay, as after a retry
            for _ in range(100):
                async with runtime.sessionmaker() as session:
                    row = await session.get_one(OutboxMessage, message_id)
                if row.dispatched_at is not None:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # let the duplicate run too
    finally:
        await runtime.close()
    assert row.dispatched_at is not None
    assert testschema.DELIVERIES[message_id] == 1
