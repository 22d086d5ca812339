"""Celery tasks of booking: statuses in step with the hub, and expired holds.

Register with the worker by importing this module (``include=["backend.booking.tasks"]``) and add the
beat entries::

    "booking-sync-statuses": {"task": SYNC_STATUSES_TASK, "schedule": 300.0},
    "booking-expire-holds": {"task": EXPIRE_HOLDS_TASK, "schedule": 60.0},

Each run of the status sync handles one bounded batch (``service.SYNC_BATCH`` (patient, clinic) pairs not
compared for ``service.SYNC_MIN_INTERVAL``); a backlog drains over successive runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backend.booking import service
from backend.celery_app import TaskName
from backend.worker import async_task

if TYPE_CHECKING:
    from backend.runtime import Runtime

SYNC_STATUSES_TASK = TaskName.BOOKING_SYNC_STATUSES
EXPIRE_HOLDS_TASK = TaskName.BOOKING_EXPIRE_HOLDS


@async_task(SYNC_STATUSES_TASK)
async def sync_statuses_task(runtime: Runtime, batch: int | None = None) -> dict[str, Any]:
    """Poll GetPatientHistory for one batch of patients with live appointments; apply what changed."""
    report = await service.sync_statuses(runtime, batch=batch or service.SYNC_BATCH)
    return {
        "patients": report.patients,
        "changed": report.changed,
        "failures": report.failures,
        "cancelled_by_mo": [str(i) for i in report.cancelled_by_mo],
    }


@async_task(EXPIRE_HOLDS_TASK)
async def expire_holds_task(runtime: Runtime) -> int:
    """Mark holds past their expiry as expired (they also expire lazily when their slot is wanted)."""
    return await service.expire_holds(runtime)
