"""Requests without a visit: a repeated idempotency key returns the first request (one sent to the clinic),
bad input changes nothing, the doctor's refusal reaches the person with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.drugs import service
from backend.drugs.models import DrugRequest
from backend.runtime import Runtime
from tests.support.client import app_client, gql
from tests.support.documents import Clock
from tests.support.drugs import diabetic, llo_state, new_key, notified
from tests.support.identity import auth_headers, token_for

pytestmark = pytest.mark.dialect

REQUEST = (Path(__file__).resolve().parents[3] / "graphql" / "mobile" / "RequestCertificate.graphql").read_text()


async def _count(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(DrugRequest)) or 0)


async def test_a_repeat_returns_the_first_request_and_bad_input_writes_nothing(runtime: Runtime, clock: Clock) -> None:
    patient = await diabetic(runtime)
    me = auth_headers(token_for(runtime, patient.id))
    key = new_key()
    async with app_client(runtime) as http:
        bad = await gql(http, REQUEST, {"input": {"kind": "TAX_DEDUCTION"}, "idempotencyKey": new_key()}, headers=me)
        assert bad["data"]["requestCertificate"]["code"] == "INVALID_INPUT"
        assert await _count(runtime) == 0
        variables = {"input": {"kind": "SCHOOL", "purpose": "Гимназия № 24"}, "idempotencyKey": key}
        first = await gql(http, REQUEST, variables, headers=me)
        again = await gql(http, REQUEST, variables, headers=me)
        assert (
            first["data"] == again["data"]
            and first["data"]["requestCertificate"]["__typename"] == "DrugRequestSubmitted"
        )
        other = await gql(http, REQUEST, {**variables, "idempotencyKey": new_key()}, headers=me)
        assert other["data"]["requestCertificate"]["code"] == "DRUG_REQUEST_PENDING"
    assert await _count(runtime) == 1
    assert len(llo_state(runtime).requests_of(patient.snils or "")) == 1


async def test_the_doctors_refusal_reaches_the_person_with_its_reason(runtime: Runtime, clock: Clock) -> None:
    patient = await diabetic(runtime)
    me = auth_headers(token_for(runtime, patient.id))
    async with app_client(runtime) as http:
        body = await gql(http, REQUEST, {"input": {"kind": "DRIVING"}, "idempotencyKey": new_key()}, headers=me)
    number = body["data"]["requestCertificate"]["request"]["number"]
    reason = "Нужен очный осмотр офтальмолога: последний был более года назад."
    llo_state(runtime).refuse(number, reason)
    report = await service.sync_requests(runtime)
    assert (report.checked, report.changed) == (1, 1)
    assert (await service.sync_requests(runtime)).checked == 0  # final: not asked again
    async with runtime.sessionmaker() as session:
        [row] = await service.requests_of(session, patient.id)
    assert row.status == "refused" and row.refusal_reason == reason and row.result_document_id is None
    assert ("drug_request.status_changed", f"drug_request:{row.id}:refused") in await notified(runtime, patient.id)
