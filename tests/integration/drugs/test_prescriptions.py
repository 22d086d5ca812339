"""Entitlement, prescriptions, availability from the cache, deferred service and the event feed, expiry
reminders: the drugs services against the in-process ЛЛО and ИЭМК simulators."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from backend.core.uow import UnitOfWork
from backend.documents import service as documents
from backend.drugs import problems, service
from backend.drugs.models import DrugPrescription
from backend.runtime import Runtime
from integrations.common.faults import Fault
from tests.support.booking import ctx_for
from tests.support.documents import Clock
from tests.support.drugs import diabetic, llo_state, new_key, notified, preferential_pharmacy

pytestmark = pytest.mark.dialect


def test_the_nsu_deadline_is_the_next_first_of_october() -> None:
    assert service.nsu_deadline(date(2026, 3, 2)) == date(2026, 10, 1)
    assert service.nsu_deadline(date(2026, 9, 30)) == date(2026, 10, 1)
    assert service.nsu_deadline(date(2026, 10, 1)) == date(2027, 10, 1)


async def test_entitlement_names_categories_what_they_give_and_the_nsu(runtime: Runtime, clock: Clock) -> None:
    patient = await diabetic(runtime)
    found = await service.entitlement(runtime, patient.id)
    assert found.beneficiary
    by_code = {c.code: c for c in found.categories}
    assert by_code["083"].level == "federal" and "2406-р" in by_code["083"].gives
    assert by_code["R01"].level == "regional" and "сахароснижающие" in by_code["R01"].gives
    assert found.nsu is not None and found.nsu.deadline == service.nsu_deadline(service.today(runtime))
    assert found.nsu.days_left == (found.nsu.deadline - service.today(runtime)).days
    assert "178-ФЗ" in found.nsu.law


async def test_prescriptions_are_remembered_and_linked_to_their_semd(runtime: Runtime, clock: Clock) -> None:
    patient = await diabetic(runtime)
    await documents.sync_patient(runtime, patient.id)  # the person's documents, as after a login
    first = await service.list_prescriptions(runtime, patient.id)
    assert first.up_to_date
    by_mnn = {r.mnn: r for r in first.rows}
    assert set(by_mnn) == {"Метформин", "Эналаприл", "Аторвастатин"}
    metformin = by_mnn["Метформин"]
    assert metformin.preferential and metformin.chronic and metformin.valid_days == 90
    await documents.sync_patient(runtime, patient.id)  # the new СЭМД 141 registered with the prescription
    again = await service.list_prescriptions(runtime, patient.id)
    assert [r.id for r in again.rows] == [r.id for r in first.rows]  # the same rows, updated in place
    assert again.documents.get(metformin.semd_registry_number or "") is not None
    llo_state(runtime).faults.force(Fault.ERROR)
    down = await service.list_prescriptions(runtime, patient.id)
    assert not down.up_to_date and [r.id for r in down.rows] == [r.id for r in first.rows]


async def test_availability_is_nearest_first_and_served_from_the_cache(runtime: Runtime, clock: Clock) -> None:
    patient = await diabetic(runtime)
    rows = {r.mnn: r for r in (await service.list_prescriptions(runtime, patient.id)).rows}
    state = llo_state(runtime)
    enalapril = await service.availability(runtime, patient.id, rows["Эналаприл"].id)
    assert enalapril.in_stock and all(v.preferential and v.quantity > 0 for v in enalapril.in_stock)
    distances = [v.distance_km for v in enalapril.in_stock]
    assert None not in distances and distances == sorted(distances)  # type: ignore[type-var]
    assert not enalapril.deferral_options
    calls = dict(state.calls)
    near = (45.0, 42.0)
    again = await service.availability(runtime, patient.id, rows["Эналаприл"].id, near)
    assert dict(state.calls) == calls  # stock, pharmacies: from the cache
    assert [v.id for v in again.in_stock] == sorted(
        (v.id for v in again.in_stock), key=lambda i: next(x.distance_km for x in again.in_stock if x.id == i) or 0
    )
    metformin = await service.availability(runtime, patient.id, rows["Метформин"].id)
    assert metformin.in_stock == ()
    assert metformin.deferral_options and all(v.preferential for v in metformin.deferral_options)
    with pytest.raises(problems.ProblemError) as bad:
        service.check_point(91.0, 10.0)
    assert bad.value.problem.code == "INVALID_INPUT"


async def test_deferred_service_then_the_arrival_is_announced_once(runtime: Runtime, clock: Clock) -> None:
    patient = await diabetic(runtime)
    rows = {r.mnn: r for r in (await service.list_prescriptions(runtime, patient.id)).rows}
    pharmacy = preferential_pharmacy(runtime)
    await service.sync_events(runtime)  # the issued prescriptions are announced
    async with UnitOfWork(runtime, ctx_for(patient.id)) as uow:
        row = await service.defer(uow, patient.id, rows["Метформин"].id, pharmacy, "k1")
        assert row.status == "deferred" and row.deferred_due == service.today(runtime) + timedelta(days=10)
    for code, prescription, where in (
        ("DRUGS_NO_ENTITLEMENT", rows["Аторвастатин"].id, pharmacy),
        ("DRUG_IN_STOCK", rows["Эналаприл"].id, pharmacy),
    ):
        with pytest.raises(problems.ProblemError) as refused:
            async with UnitOfWork(runtime, ctx_for(patient.id)) as uow:
                await service.defer(uow, patient.id, prescription, where, new_key())
        assert refused.value.problem.code == code
    state = llo_state(runtime)
    state.restock(pharmacy, state.prescriptions[rows["Метформин"].upstream_id].drug, 60)
    await service.sync_events(runtime)
    await service.sync_events(runtime)  # nothing new: nothing again
    events = [e for e, _ in await notified(runtime, patient.id)]
    assert events.count("prescription.drug_arrived") == 1
    assert events.count("prescription.ready") == 3
    async with runtime.sessionmaker() as session:
        stored = await session.get(DrugPrescription, rows["Метформин"].id)
        assert stored is not None and stored.arrived_on == service.today(runtime)


async def test_an_upstream_fault_on_deferral_writes_nothing(runtime: Runtime, clock: Clock) -> None:
    patient = await diabetic(runtime)
    rows = {r.mnn: r for r in (await service.list_prescriptions(runtime, patient.id)).rows}
    llo_state(runtime).faults.force(Fault.MALFORMED)
    with pytest.raises(problems.ProblemError) as refused:
        async with UnitOfWork(runtime, ctx_for(patient.id)) as uow:
            await service.defer(uow, patient.id, rows["Метформин"].id, preferential_pharmacy(runtime), "k")
    assert refused.value.problem.code == "DRUGS_SERVICE_UNAVAILABLE"
    async with runtime.sessionmaker() as session:
        stored = await session.get(DrugPrescription, rows["Метформин"].id)
        assert stored is not None and stored.status == "issued" and stored.deferred_pharmacy_id is None


async def test_three_days_before_expiry_one_reminder(runtime: Runtime, clock: Clock) -> None:
    patient = await diabetic(runtime)
    await service.list_prescriptions(runtime, patient.id)
    async with runtime.sessionmaker() as session:
        enalapril = await session.scalar(select(DrugPrescription).where(DrugPrescription.mnn == "Эналаприл"))
        assert enalapril is not None
        last_day = enalapril.valid_until
    assert await service.remind_expiring(runtime) == 0  # weeks left
    clock.advance(days=(last_day - service.today(runtime)).days - 3)
    assert await service.remind_expiring(runtime) == 1
    assert await service.remind_expiring(runtime) == 0
    assert ("prescription.expiring", f"prescription:{enalapril.upstream_id}:expiring") in await notified(
        runtime, patient.id
    )
