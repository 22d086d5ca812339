"""Celery tasks of the waitlist: offers past their time closed and their slots passed down the line.

Beat entry (``backend.celery_app``): ``"waitlist-expire-offers": {"task": EXPIRE_TASK, "schedule": 30.0}``.
Idempotent: an offer already closed is not closed again (a conditional update decides).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.celery_app import TaskName
from backend.waitlist import service
from backend.worker import async_task

if TYPE_CHECKING:
    from backend.runtime import Runtime

EXPIRE_TASK = TaskName.WAITLIST_EXPIRE_OFFERS


@async_task(EXPIRE_TASK)
async def expire_offers_task(runtime: Runtime) -> int:
    return await service.expire_offers(runtime)
