"""Celery tasks of the notifications domain. They take ids and are idempotent by them.

Register with the worker by importing this module (``include=["notifications.tasks"]``; importing it
also registers the outbox handler of :func:`notifications.service.notify`) and add the beat entries::

    "notifications-tick": {"task": TICK_TASK, "schedule": 15.0},
    "notifications-reminders": {"task": REMINDERS_TASK, "schedule": 60.0},
    "notifications-push-fallback": {"task": FALLBACK_TASK, "schedule": 60.0},
"""

from __future__ import annotations

import uuid
from typing import Any

from celery import Task

import notifications.service  # noqa: F401 - registers the outbox handler in the worker
from backend.worker import _loop, celery_app

DELIVER_TASK = "notifications.deliver"
TICK_TASK = "notifications.tick"
REMINDERS_TASK = "notifications.scan_reminders"
FALLBACK_TASK = "notifications.scan_push_fallback"


def send_deliver_task(message_id: str) -> None:
    celery_app.send_task(DELIVER_TASK, args=[message_id])


@celery_app.task(name=DELIVER_TASK, bind=True, max_retries=None)
def deliver_task(self: Task, message_id: str) -> str:
    """One step of one message (see :func:`notifications.delivery.deliver`); a temporary failure comes
    back as a Celery retry at its back-off time (and the tick finds it anyway if that retry is lost)."""
    from notifications.delivery import Outcome, deliver

    async def run() -> Any:
        runtime = await _loop.runtime()
        result = await deliver(runtime, uuid.UUID(message_id))
        from notifications.registry import now

        delay = (result.retry_at - now(runtime)).total_seconds() if result.retry_at is not None else None
        return result.outcome, delay

    outcome, delay = _loop.run(run())
    if outcome in (Outcome.RETRY, Outcome.DEFERRED) and delay is not None and delay < 3600:
        raise self.retry(countdown=max(0.05, delay))
    return str(outcome.value)


@celery_app.task(name=TICK_TASK)
def tick_task() -> dict[str, int]:
    from notifications.delivery import tick

    async def run() -> dict[str, int]:
        return await tick(await _loop.runtime())

    return _loop.run(run())


@celery_app.task(name=REMINDERS_TASK)
def scan_reminders_task() -> dict[str, int]:
    from notifications.reminders import scan_reminders

    async def run() -> dict[str, int]:
        return (await scan_reminders(await _loop.runtime())).as_dict()

    return _loop.run(run())


@celery_app.task(name=FALLBACK_TASK)
def scan_push_fallback_task() -> int:
    from notifications.delivery import scan_push_fallback

    async def run() -> int:
        return await scan_push_fallback(await _loop.runtime())

    return _loop.run(run())
