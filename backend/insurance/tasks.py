"""Celery tasks of insurance: the register kept in step, and the virtual representative.

Beat entries (``backend.celery_app``): ``insurance-sync`` every 15 minutes (policies due a refresh, tickets and
insurer changes under review) and ``insurance-representative`` hourly (the rules; nothing in quiet hours).
Both idempotent: a step already recorded, a message already sent for its period, is not again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.celery_app import TaskName
from backend.insurance.service import changes, messages, policy, tickets
from backend.worker import async_task

if TYPE_CHECKING:
    from backend.runtime import Runtime


@async_task(TaskName.INSURANCE_SYNC)
async def sync_task(runtime: Runtime) -> dict[str, int]:
    return {
        "policies": await policy.refresh_due(runtime),
        "tickets": await tickets.sync(runtime),
        "changes": await changes.sync(runtime),
    }


@async_task(TaskName.INSURANCE_REPRESENTATIVE)
async def representative_task(runtime: Runtime) -> dict[str, int]:
    result = await messages.run(runtime)
    return {"quiet": int(result.quiet), "patients": result.patients, "created": result.created}
