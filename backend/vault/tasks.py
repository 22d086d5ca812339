"""Celery tasks of the vault: the hourly housekeeping (erase after the recovery period, the orphan
sweep, the eve-of-expiry notices). Beat entry ``vault-housekeeping`` in backend/celery_app.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.celery_app import TaskName
from backend.vault import service
from backend.worker import async_task

if TYPE_CHECKING:
    from backend.runtime import Runtime

HOUSEKEEPING_TASK = TaskName.VAULT_HOUSEKEEPING


@async_task(HOUSEKEEPING_TASK)
async def housekeeping_task(runtime: Runtime) -> dict[str, int]:
    return await service.housekeeping(runtime)
