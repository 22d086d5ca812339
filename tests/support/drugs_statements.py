"""The drugs domain's statement-count scenarios (``tests/integration/api/test_statement_counts.py`` registers
them): a patient with one prescription (or request) and one with four, on the ЛЛО register of the in-process
simulator."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.drugs import service
from backend.drugs.models import DrugRequest
from backend.runtime import Runtime
from integrations.llo.simulator import ATORVASTATIN, BISOPROLOL, ENALAPRIL, METFORMIN
from tests.support.drugs import llo_state
from tests.support.identity import auth_headers, make_patient, operator_token, token_for

DRUGS = (METFORMIN, ENALAPRIL, ATORVASTATIN, BISOPROLOL)


async def beneficiary(runtime: Runtime, prescriptions: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A patient on the register with ``prescriptions`` preferential prescriptions (remembered)."""
    patient = await make_patient(runtime)
    assert patient.snils
    state = llo_state(runtime)
    state.enrol(patient.snils, "R01", latitude=45.04, longitude=41.97)
    for drug in DRUGS[:prescriptions]:
        state.issue(patient.snils, drug, quantity=30, valid_days=30, benefit_code="R01", chronic=True)
    rows = (await service.list_prescriptions(runtime, patient.id)).rows
    return patient.id, [r.id for r in rows]


def _as(runtime: Runtime, patient_id: uuid.UUID) -> dict[str, str]:
    return auth_headers(token_for(runtime, patient_id))


async def one_and_four(runtime: Runtime) -> tuple[Any, ...]:
    one, _ = await beneficiary(runtime, 1)
    four, _ = await beneficiary(runtime, 4)
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def availability(runtime: Runtime) -> tuple[Any, ...]:
    one, [rx] = await beneficiary(runtime, 1)
    four, rxs = await beneficiary(runtime, 4)
    return {"prescriptionId": str(rx)}, {"prescriptionId": str(rxs[1])}, _as(runtime, one), _as(runtime, four)


async def _requests(runtime: Runtime, patient_id: uuid.UUID, count: int, created: datetime) -> None:
    channels = ("mobile", "callcentre", "kiosk")
    async with runtime.sessionmaker() as session, session.begin():
        for i in range(count):
            at = created + timedelta(days=i)
            session.add(
                DrugRequest(
                    id=uuid.uuid4(),
                    patient_id=patient_id,
                    upstream_id=f"REQ-{uuid.uuid4().hex[:12]}",
                    kind="certificate",
                    certificate_kind="sports",
                    status="issued" if i else "submitted",
                    history=[{"status": "submitted", "at": at.isoformat(), "comment": None}],
                    channel=channels[i % 3],
                    actor_kind="patient",
                    actor_id=str(patient_id),
                    created_at=at,
                    updated_at=at,
                )
            )


async def my_requests(runtime: Runtime) -> tuple[Any, ...]:
    created = datetime(2025, 3, 1, 9, tzinfo=UTC)
    one = (await make_patient(runtime)).id
    four = (await make_patient(runtime)).id
    await _requests(runtime, one, 1, created)
    await _requests(runtime, four, 4, created)
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def requests_kpi(runtime: Runtime) -> tuple[Any, ...]:
    await _requests(runtime, uuid.uuid4(), 1, datetime(2025, 2, 10, 9, tzinfo=UTC))
    await _requests(runtime, uuid.uuid4(), 5, datetime(2025, 3, 2, 9, tzinfo=UTC))
    few = {"dateFrom": "2025-02-01", "dateTo": "2025-02-28"}
    more = {"dateFrom": "2025-03-01", "dateTo": "2025-03-31"}
    return few, more, auth_headers(await operator_token(runtime))
