"""Drugs helpers for tests: the diabetic beneficiary of the demo region as a patient (the ЛЛО simulator knows
their categories and writes their first prescriptions; the ИЭМК simulator their documents), the ЛЛО
simulator's state, a movable clock shared by the runtime and both simulators.

    clock = use_clock(runtime)
    patient = await diabetic(runtime)
    llo = llo_state(runtime)
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from backend.identity.service import PatientView
from backend.runtime import Runtime
from integrations.llo.simulator import LloSimulatorState, simulator_state
from notifications.models import NotificationMessage
from tests.support.documents import demo_patient

DIABETIC_SNILS = "617-064-924 91"  # Сергеев Владимир Григорьевич: 083 (federal) and R01 (diabetes)


async def diabetic(runtime: Runtime) -> PatientView:
    patient = await demo_patient(runtime, 1, with_rights=True)
    assert patient.snils == DIABETIC_SNILS
    return patient


def llo_state(runtime: Runtime) -> LloSimulatorState:
    app = runtime.adapters.llo_simulator
    assert app is not None, "the test runtime uses the in-process ЛЛО simulator"
    return simulator_state(app)


def preferential_pharmacy(runtime: Runtime) -> str:
    return next(p.id for p in llo_state(runtime).pharmacies.values() if p.preferential)


def new_key() -> str:
    return uuid.uuid4().hex


async def notified(runtime: Runtime, patient_id: uuid.UUID) -> list[tuple[str, str]]:
    """(event, dedupe key) of every notification planned for the patient, once each, oldest first."""
    await runtime.relay.drain()
    async with runtime.sessionmaker() as session:
        rows = await session.execute(
            select(NotificationMessage.event, NotificationMessage.dedupe_key)
            .where(NotificationMessage.patient_id == patient_id)
            .order_by(NotificationMessage.created_at)
        )
        return list(dict.fromkeys((str(e), str(k)) for e, k in rows.all()))
