"""Celery tasks of the vaccination domain: the daily ``vaccination.due`` reminders (beat
``vaccination-reminders``) and the import of one patient's register data (by id, idempotent)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from backend.celery_app import TaskName
from backend.vaccination import service
from backend.worker import async_task

if TYPE_CHECKING:
    from backend.runtime import Runtime


@async_task(TaskName.VACCINATION_REMINDERS)
async def reminders_task(runtime: Runtime) -> dict[str, int]:
    """Send the reminders whose day has come, refreshing the register data of the patients first."""
    run = await service.run_reminders(runtime)
    return {"patients": run.patients, "sent": run.sent, "failed": run.failed}


@async_task(TaskName.VACCINATION_IMPORT)
async def import_register_task(runtime: Runtime, patient_id: str) -> dict[str, bool]:
    """Import one patient's history and exemptions from the immunization register."""
    return {"ok": await service.import_register(runtime, uuid.UUID(patient_id))}
