"""Celery tasks of attachment: the applications under review kept in step with the upstream.

Beat entry (``backend.celery_app``): ``"attachment-sync": {"task": SYNC_TASK, "schedule": 600.0}``.
Idempotent: a status step already recorded is not recorded (nor announced) again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.attachment import service
from backend.celery_app import TaskName
from backend.worker import async_task

if TYPE_CHECKING:
    from backend.runtime import Runtime

SYNC_TASK = TaskName.ATTACHMENT_SYNC


@async_task(SYNC_TASK)
async def sync_task(runtime: Runtime) -> int:
    return await service.sync(runtime)
