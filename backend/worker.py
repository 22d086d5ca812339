"""The Celery app: outbox dispatch and periodic jobs.

Tasks take ids and are idempotent by them. Celery tasks are synchronous; each worker process keeps one
event loop in a background thread with its own :class:`Runtime`, and tasks run coroutines on it.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import structlog
from celery import Celery, Task
from celery.schedules import crontab
from celery.signals import worker_process_shutdown

from backend.settings import Settings, get_settings

log = structlog.get_logger(__name__)
T = TypeVar("T")

# The domains' task modules, imported by the worker so their tasks (and outbox handlers) register.
TASK_MODULES: tuple[str, ...] = (
    "backend.directory.tasks",
    "backend.identity.tasks",
    "backend.booking.tasks",
    "notifications.tasks",
)

DISPATCH_TASK = "outbox.dispatch"
SWEEP_TASK = "outbox.sweep"


def configure_celery(app: Celery, settings: Settings) -> None:
    app.conf.update(
        broker_url=settings.celery_broker_url,
        task_always_eager=bool(settings.celery_eager),
    )


def make_celery() -> Celery:
    settings = get_settings()
    app = Celery("moe_zdorovye", broker=settings.celery_broker_url, include=list(TASK_MODULES))
    app.conf.update(
        task_always_eager=bool(settings.celery_eager),
        task_acks_late=True,  # a worker killed mid-task leaves the message to another worker
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 600},
        timezone="UTC",
        beat_schedule={
            "outbox-sweep": {"task": SWEEP_TASK, "schedule": 15.0},
            "directory-sync": {"task": "directory.sync", "schedule": crontab(hour=3, minute=15)},
            "identity-purge": {"task": "identity.purge_expired", "schedule": 3600.0},
            "booking-sync-statuses": {"task": "booking.sync_statuses", "schedule": 300.0},
            "booking-expire-holds": {"task": "booking.expire_holds", "schedule": 60.0},
            "notifications-tick": {"task": "notifications.tick", "schedule": 15.0},
            "notifications-reminders": {"task": "notifications.scan_reminders", "schedule": 60.0},
            "notifications-push-fallback": {"task": "notifications.scan_push_fallback", "schedule": 60.0},
        },
    )
    return app


celery_app = make_celery()


class _LoopThread:
    """One event loop per worker process, in a daemon thread, with the process's Runtime."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runtime: Any = None
        self._lock = threading.Lock()

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="worker-loop", daemon=True).start()
                self._loop = loop
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._start())
        return future.result()

    async def runtime(self) -> Any:
        if self._runtime is None:
            from backend.runtime import Runtime

            self._runtime = Runtime.build(get_settings())
        return self._runtime

    def shutdown(self) -> None:
        """Close the process's Runtime (a new one is built on next use, from the current settings)."""
        if self._loop is not None and self._runtime is not None:
            self.run(self._runtime.close())
        self._runtime = None


_loop = _LoopThread()


@worker_process_shutdown.connect
def _close_runtime(**_: Any) -> None:
    _loop.shutdown()


def send_outbox_task(message_id: str) -> None:
    celery_app.send_task(DISPATCH_TASK, args=[message_id])


@celery_app.task(name=DISPATCH_TASK, bind=True, max_retries=8)
def dispatch_outbox(self: Task, message_id: str) -> str:
    from backend.outbox.service import Outcome, dispatch, retry_delay

    async def run() -> Outcome:
        return await dispatch(await _loop.runtime(), uuid.UUID(message_id))

    outcome = _loop.run(run())
    if outcome is Outcome.FAILED:
        raise self.retry(countdown=retry_delay(self.request.retries + 1))
    return outcome.value


@celery_app.task(name=SWEEP_TASK)
def sweep_outbox() -> int:
    from backend.outbox.service import sweep

    async def run() -> int:
        return await sweep(await _loop.runtime())

    return _loop.run(run())
