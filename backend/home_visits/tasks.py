"""Celery tasks of home visits: the periodic sync of active requests with the hub (the pushes' safety net).

Beat entry (``backend.celery_app``): ``"home-visits-sync": {"task": SYNC_TASK, "schedule": 120.0}``.
Idempotent: a change already applied (by a push or an earlier run) is skipped by its key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backend.celery_app import TaskName
from backend.home_visits import service
from backend.worker import async_task

if TYPE_CHECKING:
    from backend.runtime import Runtime

SYNC_TASK = TaskName.HOME_VISITS_SYNC


@async_task(SYNC_TASK)
async def sync_task(runtime: Runtime, batch: int | None = None) -> dict[str, Any]:
    report = await service.sync(runtime, batch=batch or service.SYNC_BATCH)
    return {"checked": report.checked, "changed": report.changed, "failures": report.failures}
