"""Celery task of SMART Scheduling Links: the published parts rebuilt, those that changed written.

Beat entry (``backend.celery_app``): ``"scheduling-links-regenerate": {"task": REGENERATE_TASK, "schedule":
300.0}``. Idempotent: a part whose content did not change is not written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.celery_app import TaskName
from backend.scheduling_links import service
from backend.worker import async_task

if TYPE_CHECKING:
    from backend.runtime import Runtime

REGENERATE_TASK = TaskName.SCHEDULING_LINKS_REGENERATE


@async_task(REGENERATE_TASK)
async def regenerate_task(runtime: Runtime) -> int:
    return (await service.regenerate(runtime)).written
