"""Celery tasks of the notifications domain. They take ids and are idempotent by them.

The worker imports this module (``backend.celery_app.TASK_MODULES``); the beat schedule runs the tick,
the reminder scan and the push fallback scan (``backend.celery_app.BEAT_SCHEDULE``).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from backend.celery_app import TaskName, celery_app
from backend.worker import RetryLater, async_task
from notifications.delivery import Outcome, deliver, scan_push_fallback, tick
from notifications.reminders import scan_reminders

if TYPE_CHECKING:
    from backend.runtime import Runtime

DELIVER_TASK = TaskName.NOTIFICATIONS_DELIVER
TICK_TASK = TaskName.NOTIFICATIONS_TICK
REMINDERS_TASK = TaskName.NOTIFICATIONS_REMINDERS
FALLBACK_TASK = TaskName.NOTIFICATIONS_PUSH_FALLBACK


def send_deliver_task(message_id: str) -> None:
    celery_app.send_task(DELIVER_TASK, args=[message_id])


@async_task(DELIVER_TASK, max_retries=None)
async def deliver_task(runtime: Runtime, message_id: str) -> str:
    """One step of one message (see :func:`notifications.delivery.deliver`); a temporary failure comes
    back as a Celery retry at its back-off time (and the tick finds it anyway if that retry is lost)."""
    result = await deliver(runtime, uuid.UUID(message_id))
    delay = (result.retry_at - runtime.now()).total_seconds() if result.retry_at is not None else None
    if result.outcome in (Outcome.RETRY, Outcome.DEFERRED) and delay is not None and delay < 3600:
        raise RetryLater(max(0.05, delay))
    return str(result.outcome.value)


@async_task(TICK_TASK)
async def tick_task(runtime: Runtime) -> dict[str, int]:
    return await tick(runtime)


@async_task(REMINDERS_TASK)
async def scan_reminders_task(runtime: Runtime) -> dict[str, int]:
    return (await scan_reminders(runtime)).as_dict()


@async_task(FALLBACK_TASK)
async def scan_push_fallback_task(runtime: Runtime) -> int:
    return await scan_push_fallback(runtime)
