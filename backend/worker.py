"""The Celery worker's side: one event loop and one :class:`Runtime` per worker process, the
:func:`async_task` decorator every domain's tasks use, and the outbox's dispatch and sweep tasks.

Tasks take ids and are idempotent by them. Celery tasks are synchronous; each worker process keeps one
event loop in a background thread with its own Runtime, and tasks run coroutines on it.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import structlog
from celery import Task
from celery.signals import worker_process_shutdown

from backend.celery_app import TaskName, celery_app, configure_celery
from backend.outbox.service import Outcome, dispatch, retry_delay, sweep
from backend.runtime import Runtime
from backend.settings import get_settings

__all__ = ["RetryLater", "WorkerLoop", "async_task", "celery_app", "configure_celery", "worker_loop"]

log = structlog.get_logger(__name__)
T = TypeVar("T")


class WorkerLoop:
    """One event loop per worker process, in a daemon thread, with the process's Runtime."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runtime: Runtime | None = None
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

    async def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.build(get_settings())
        return self._runtime

    def shutdown(self) -> None:
        """Close the process's Runtime (a new one is built on next use, from the current settings)."""
        if self._loop is not None and self._runtime is not None:
            self.run(self._runtime.close())
        self._runtime = None


worker_loop = WorkerLoop()


@worker_process_shutdown.connect
def _close_runtime(**_: Any) -> None:
    worker_loop.shutdown()


class RetryLater(Exception):
    """Raised by an :func:`async_task` coroutine: Celery retries the task after ``countdown`` seconds,
    or after ``backoff(n)`` seconds for the n-th retry (1-based)."""

    def __init__(self, countdown: float = 0.0, *, backoff: Callable[[int], float] | None = None) -> None:
        super().__init__("retry later")
        self.countdown = countdown
        self.backoff = backoff


def async_task(name: str, **options: Any) -> Callable[[Callable[..., Awaitable[Any]]], Task]:
    """A Celery task (named ``name``, one of :class:`~backend.celery_app.TaskName`) that runs the
    coroutine ``fn(runtime, *args, **kwargs)`` on the worker process's loop with its runtime.

    The coroutine raises :class:`RetryLater` to have Celery retry the task later."""

    def decorate(fn: Callable[..., Awaitable[Any]]) -> Task:
        async def with_runtime(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            return await fn(await worker_loop.runtime(), *args, **kwargs)

        def run(self: Task, *args: Any, **kwargs: Any) -> Any:
            try:
                return worker_loop.run(with_runtime(args, kwargs))
            except RetryLater as later:
                retry = self.request.retries + 1
                countdown = later.backoff(retry) if later.backoff is not None else later.countdown
                raise self.retry(countdown=countdown) from None

        run.__name__, run.__qualname__, run.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
        run.__module__ = fn.__module__
        return celery_app.task(name=name, bind=True, **options)(run)

    return decorate


@async_task(TaskName.OUTBOX_DISPATCH, max_retries=8)
async def dispatch_outbox(runtime: Runtime, message_id: str) -> str:
    outcome = await dispatch(runtime, uuid.UUID(message_id))
    if outcome is Outcome.FAILED:
        raise RetryLater(backoff=retry_delay)
    return outcome.value


@async_task(TaskName.OUTBOX_SWEEP)
async def sweep_outbox(runtime: Runtime) -> int:
    return await sweep(runtime)
