"""Celery task: sync the directory from the booking hub (scheduled by beat, also run by hand).

Register with the worker by importing this module (``include=["backend.directory.tasks"]``) and add
the beat entry ``"directory-sync": {"task": SYNC_TASK, "schedule": crontab(hour=3, minute=15)}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from redis.exceptions import LockError

from backend.celery_app import TaskName
from backend.directory.service import sync_directory
from backend.worker import async_task

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

SYNC_TASK = TaskName.DIRECTORY_SYNC
# One sync at a time across workers; the lock expires by itself if its worker dies.
LOCK_NAME = "lock:directory.sync"
LOCK_TIMEOUT_S = 3600


@async_task(SYNC_TASK)
async def sync_directory_task(runtime: Runtime) -> dict[str, Any]:
    """Run :func:`backend.directory.service.sync_directory`; return its summary (or ``skipped``)."""
    lock = runtime.redis.lock(LOCK_NAME, timeout=LOCK_TIMEOUT_S) if runtime.redis is not None else None
    if lock is not None and not await lock.acquire(blocking=False):
        log.info("directory.sync_skipped", reason="another sync is running")
        return {"skipped": True}
    try:
        summary = await sync_directory(runtime)
    finally:
        if lock is not None:
            try:
                await lock.release()
            except LockError:  # expired while syncing; nothing to release
                log.warning("directory.sync_lock_expired")
    return summary.as_dict()
