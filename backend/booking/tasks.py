"""Celery tasks of booking: statuses in step with the hub, and expired holds.

Register with the worker by importing this module (``include=["backend.booking.tasks"]``) and add the
beat entries::

    "booking-sync-statuses": {"task": SYNC_STATUSES_TASK, "schedule": 300.0},
    "booking-expire-holds": {"task": EXPIRE_HOLDS_TASK, "schedule": 60.0},

Each run of the status sync handles one bounded batch (``service.SYNC_BATCH`` (patient, clinic) pairs not
compared for ``service.SYNC_MIN_INTERVAL``); a backlog drains over successive runs.
"""

from __future__ import annotations

from typing import Any

from backend.booking import service  # registers booking's outbox handlers in the worker
from backend.worker import _loop, celery_app

SYNC_STATUSES_TASK = "booking.sync_statuses"
EXPIRE_HOLDS_TASK = "booking.expire_holds"


@celery_app.task(name=SYNC_STATUSES_TASK)
def sync_statuses_task(batch: int | None = None) -> dict[str, Any]:
    """Poll GetPatientHistory for one batch of patients with live appointments; apply what changed."""

    async def run() -> dict[str, Any]:
        report = await service.sync_statuses(await _loop.runtime(), batch=batch or service.SYNC_BATCH)
        return {
            "patients": report.patients,
            "changed": report.changed,
            "failures": report.failures,
            "cancelled_by_mo": [str(i) for i in report.cancelled_by_mo],
        }

    return _loop.run(run())


@celery_app.task(name=EXPIRE_HOLDS_TASK)
def expire_holds_task() -> int:
    """Mark holds past their expiry as expired (they also expire lazily when their slot is wanted)."""

    async def run() -> int:
        return await service.expire_holds(await _loop.runtime())

    return _loop.run(run())
