"""Documents tests: the shared ``runtime`` of tests/conftest.py, whose ИЭМК adapter is the in-process
register simulator over the demo region (on the runtime's clock); ``world`` is a demo patient with their
documents synced, a movable clock and the register's state (``tests.support.documents``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from backend.documents import service as documents
from backend.identity.service import PatientView
from backend.runtime import Runtime
from integrations.iemk.simulator import IemkSimulatorState
from tests.support.documents import Clock, demo_patient, iemk_state, use_clock


@dataclass
class World:
    runtime: Runtime
    clock: Clock
    patient: PatientView
    register: IemkSimulatorState


@pytest.fixture
async def world(runtime: Runtime) -> World:
    clock = use_clock(runtime)
    patient = await demo_patient(runtime, with_rights=True)
    report = await documents.sync_patient(runtime, patient.id)
    assert report.ok and report.added >= 4 and report.announced == 0
    return World(runtime, clock, patient, iemk_state(runtime))
