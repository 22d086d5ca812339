"""Celery tasks of the documents domain: the periodic sync with ИЭМК / РЭМД (beat: ``documents-sync``).

Each run takes one bounded batch of patients not compared for ``SYNC_INTERVAL`` (a backlog drains over
successive runs); each patient's sync is idempotent by registry number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backend.celery_app import TaskName
from backend.documents import service
from backend.worker import async_task

if TYPE_CHECKING:
    from backend.runtime import Runtime


@async_task(TaskName.DOCUMENTS_SYNC)
async def sync_due_task(runtime: Runtime, batch: int | None = None) -> dict[str, Any]:
    """Sync one batch of patients whose documents were not compared recently."""
    reports = await service.sync_due(runtime, **({"batch": batch} if batch else {}))
    return {
        "patients": len(reports),
        "failed": sum(1 for r in reports if not r.ok),
        "added": sum(r.added for r in reports),
        "announced": sum(r.announced for r in reports),
    }
