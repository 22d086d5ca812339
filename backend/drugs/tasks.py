"""Celery tasks of drugs: the ЛЛО event feed and the clinic's requests (every minute), the expiry reminders
(hourly; each prescription is reminded once). Idempotent: the feed's cursor and the notifications' dedupe
keys make a repeated run change nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backend.celery_app import TaskName
from backend.drugs import service
from backend.worker import async_task

if TYPE_CHECKING:
    from backend.runtime import Runtime


@async_task(TaskName.DRUGS_SYNC)
async def sync_task(runtime: Runtime) -> dict[str, Any]:
    feed = await service.sync_events(runtime)
    requests = await service.sync_requests(runtime)
    return {"events": feed.events, "notified": feed.notified, "requests_changed": requests.changed}


@async_task(TaskName.DRUGS_REMINDERS)
async def reminders_task(runtime: Runtime) -> dict[str, Any]:
    return {"reminded": await service.remind_expiring(runtime)}
