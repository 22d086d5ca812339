"""Celery tasks of ambulance tracking: the periodic sync of open calls that went quiet (the pushes' safety net).

Idempotent: a state already applied (by a push or an earlier run) changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backend.ambulance import service
from backend.celery_app import TaskName
from backend.worker import async_task

if TYPE_CHECKING:
    from backend.runtime import Runtime


@async_task(TaskName.AMBULANCE_SYNC)
async def sync_task(runtime: Runtime) -> dict[str, Any]:
    report = await service.sync(runtime)
    return {"checked": report.checked, "changed": report.changed, "failures": report.failures}
