"""Contract of the preferential-drug system and the clinic's requests: LloClient and ClinicRequestsClient
against the in-process simulator, for every operation and refusal, including expiry, partial dispensing,
the deferred queue and its restock event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from litestar import Litestar

from integrations.common.faults import Fault, FaultProfile
from integrations.common.http import build_http_client
from integrations.demo_region import get_region
from integrations.llo import (
    BENEFIT_CODES_OID,
    AlreadyDeferred,
    AlreadyDispensed,
    Applicant,
    BenefitLevel,
    CertificateKind,
    ClinicRequestForm,
    ClinicRequestKind,
    ClinicRequests,
    ClinicRequestsClient,
    ClinicRequestStatus,
    DrugInStock,
    DrugRegistry,
    LloAccessDenied,
    LloClient,
    LloEventKind,
    LloMalformedReply,
    LloTimeout,
    LloUnavailable,
    NotPreferential,
    PharmacyNotFound,
    PrescriptionExpired,
    PrescriptionNotFound,
    PrescriptionStatus,
    RenewalNotAllowed,
    RequestPending,
)
from integrations.llo.simulator import MORPHINE, LloSimulatorState, create_llo_simulator, simulator_state

MSK = ZoneInfo("Europe/Moscow")
DIABETIC = "617-064-924 91"  # Сергеев Владимир Григорьевич: categories 083 (federal) and R01 (regional)
FEDERAL_ONLY = "352-373-984 92"  # Громова Елизавета Матвеевна: 082
NOBODY = "000-000-001 01"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 10, 0, tzinfo=MSK))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Env:
    llo: DrugRegistry
    mis: ClinicRequests
    state: LloSimulatorState
    clock: Clock
    app: Litestar
    semd: list[tuple[str, str, str | None]]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    clock = Clock()
    issued: list[tuple[str, str, str | None]] = []

    def hook(snils: str, kind: str, purpose: str | None) -> str | None:
        issued.append((snils, kind, purpose))
        return f"REMD-{len(issued):07d}"

    app = create_llo_simulator(get_region(), clock=clock, token="t", semd_hook=hook)
    http = build_http_client("inprocess://llo", simulator_app=lambda: app)
    try:
        yield Env(
            LloClient(http, token="t", timeout_s=5),
            ClinicRequestsClient(http, token="t", timeout_s=5),
            simulator_state(app),
            clock,
            app,
            issued,
        )
    finally:
        await http.aclose()


def _applicant(snils: str = DIABETIC) -> Applicant:
    return Applicant(snils=snils, last_name="Сергеев", first_name="Владимир", birth_date=date(1969, 4, 15))


async def test_beneficiary_categories_validity_and_nsu(env: Env) -> None:
    record = await env.llo.beneficiary(DIABETIC)
    assert record is not None
    levels = {b.code: b.level for b in record.benefits}
    assert levels == {"083": BenefitLevel.FEDERAL, "R01": BenefitLevel.REGIONAL}
    assert all(b.code_system == BENEFIT_CODES_OID and b.valid_from < date(2026, 1, 1) for b in record.benefits)
    assert [n.year for n in record.nsu] == [2026]  # a federal beneficiary has the year's НСУ decision
    assert record.latitude is not None and record.address
    assert await env.llo.beneficiary(NOBODY) is None


async def test_prescriptions_shapes_and_semd_link(env: Env) -> None:
    found = await env.llo.prescriptions(DIABETIC)
    by_mnn = {p.drug.mnn: p for p in found}
    metformin = by_mnn["Метформин"]
    assert (metformin.drug.dosage, metformin.quantity, metformin.valid_days) == ("1000 мг", 60, 90)
    assert metformin.preferential and metformin.benefit_code == "R01" and metformin.chronic
    assert metformin.status is PrescriptionStatus.ISSUED
    assert metformin.valid_until == metformin.issued_on + timedelta(days=89)
    assert metformin.barcode.isdigit() and metformin.series.startswith("26-")
    assert metformin.semd.kind == "141" and metformin.semd.prescription is not None
    ordinary = by_mnn["Аторвастатин"]
    assert not ordinary.preferential and ordinary.semd.kind == "148" and ordinary.financing.value == "personal"
    assert (await env.llo.prescription(metformin.id)) == metformin
    with pytest.raises(PrescriptionNotFound):
        await env.llo.prescription("RX-999999")
    issued = [e for e in (await env.llo.events(after=0)).events if e.kind is LloEventKind.ISSUED]
    assert {e.prescription_id for e in issued} >= {metformin.id, ordinary.id}


async def test_pharmacies_hours_and_stock(env: Env) -> None:
    pharmacies = await env.llo.pharmacies()
    assert len(pharmacies) == len(get_region().pharmacies)
    assert all(p.hours for p in pharmacies)
    preferential = {p.id for p in pharmacies if p.preferential}
    assert preferential
    assert await env.llo.stock("Метформин", "1000 мг") == []  # the shortage
    enalapril = await env.llo.stock("Эналаприл", "10 мг")
    assert {s.pharmacy_id for s in enalapril} == preferential and all(s.quantity > 0 for s in enalapril)


async def test_deferred_queue_restock_event_and_partial_dispensing(env: Env) -> None:
    metformin = next(p for p in await env.llo.prescriptions(DIABETIC) if p.drug.mnn == "Метформин")
    pharmacies = await env.llo.pharmacies()
    chosen = next(p for p in pharmacies if p.preferential)
    commercial = next(p for p in pharmacies if not p.preferential)
    with pytest.raises(PharmacyNotFound):
        await env.llo.defer(metformin.id, commercial.id, idempotency_key="k0")
    cursor = (await env.llo.events(after=0)).last
    deferred = await env.llo.defer(metformin.id, chosen.id, idempotency_key="k1")
    assert deferred.status is PrescriptionStatus.DEFERRED and deferred.deferral is not None
    assert deferred.deferral.due_on == date(2026, 3, 12) and deferred.deferral.arrived_on is None
    assert await env.llo.defer(metformin.id, chosen.id, idempotency_key="k1") == deferred  # a repeat
    with pytest.raises(AlreadyDeferred):
        await env.llo.defer(metformin.id, chosen.id, idempotency_key="k2")
    # Deferred service outlives the validity: the pharmacy accepted it in time.
    env.clock.advance(days=100)
    assert (await env.llo.prescription(metformin.id)).status is PrescriptionStatus.DEFERRED
    arrived = env.state.restock(chosen.id, metformin.drug, 100)
    assert [p.id for p in arrived] == [metformin.id]
    page = await env.llo.events(after=cursor)
    kinds = [(e.kind, e.prescription_id) for e in page.events if e.prescription_id == metformin.id]
    assert kinds == [(LloEventKind.DEFERRED, metformin.id), (LloEventKind.DRUG_ARRIVED, metformin.id)]
    assert (await env.llo.events(after=page.last)).events == ()
    env.state.dispense(metformin.id, chosen.id, 20)
    partial = await env.llo.prescription(metformin.id)
    assert partial.status is PrescriptionStatus.PARTIALLY_DISPENSED and partial.dispensed_quantity == 20
    env.state.dispense(metformin.id, chosen.id, 40)
    done = await env.llo.prescription(metformin.id)
    assert done.status is PrescriptionStatus.DISPENSED and len(done.semd.dispensing) == 2
    with pytest.raises(AlreadyDispensed):
        await env.llo.defer(metformin.id, chosen.id, idempotency_key="k3")


async def test_expiry_and_deferral_refusals(env: Env) -> None:
    found = {p.drug.mnn: p for p in await env.llo.prescriptions(DIABETIC)}
    preferential = next(p for p in await env.llo.pharmacies() if p.preferential)
    with pytest.raises(NotPreferential):
        await env.llo.defer(found["Аторвастатин"].id, preferential.id, idempotency_key="a")
    with pytest.raises(DrugInStock):
        await env.llo.defer(found["Эналаприл"].id, preferential.id, idempotency_key="b")
    env.clock.advance(days=40)  # past the 30-day prescriptions, within the 90-day one
    now = {p.drug.mnn: p.status for p in await env.llo.prescriptions(DIABETIC)}
    assert now == {
        "Метформин": PrescriptionStatus.ISSUED,
        "Эналаприл": PrescriptionStatus.EXPIRED,
        "Аторвастатин": PrescriptionStatus.EXPIRED,
    }
    with pytest.raises(PrescriptionExpired):
        await env.llo.defer(found["Эналаприл"].id, preferential.id, idempotency_key="c")
    feed = (await env.llo.events(after=0)).events
    expired = [e.prescription_id for e in feed if e.kind is LloEventKind.EXPIRED and e.snils == DIABETIC]
    assert sorted(expired) == sorted([found["Эналаприл"].id, found["Аторвастатин"].id])


async def test_renewal_issues_a_new_prescription_and_refuses_schedule_ii(env: Env) -> None:
    metformin = next(p for p in await env.llo.prescriptions(DIABETIC) if p.drug.mnn == "Метформин")
    form = ClinicRequestForm(ClinicRequestKind.RENEWAL, _applicant(), prescription_id=metformin.id)
    submitted = await env.mis.submit(form, idempotency_key="r1")
    assert submitted.status is ClinicRequestStatus.SUBMITTED
    assert (await env.mis.submit(form, idempotency_key="r1")).id == submitted.id
    with pytest.raises(RequestPending):
        await env.mis.submit(form, idempotency_key="r2")
    env.state.decide(submitted.id)
    done = await env.mis.get_request(submitted.id)
    assert done.status is ClinicRequestStatus.ISSUED and done.result_prescription_id is not None
    assert [s.status for s in done.history] == [
        ClinicRequestStatus.SUBMITTED,
        ClinicRequestStatus.IN_REVIEW,
        ClinicRequestStatus.ISSUED,
    ]
    renewed = await env.llo.prescription(done.result_prescription_id)
    assert renewed.drug == metformin.drug and renewed.id != metformin.id and renewed.issued_on == date(2026, 3, 2)
    morphine = env.state.issue(DIABETIC, MORPHINE, quantity=10, valid_days=15, benefit_code="083", chronic=True)
    with pytest.raises(RenewalNotAllowed):
        await env.mis.submit(
            ClinicRequestForm(ClinicRequestKind.RENEWAL, _applicant(), prescription_id=morphine.id),
            idempotency_key="r3",
        )
    ordinary = next(p for p in await env.llo.prescriptions(DIABETIC) if not p.chronic)
    with pytest.raises(RenewalNotAllowed):
        await env.mis.submit(
            ClinicRequestForm(ClinicRequestKind.RENEWAL, _applicant(), prescription_id=ordinary.id),
            idempotency_key="r4",
        )


async def test_certificate_becomes_a_semd_166_or_is_refused_with_a_reason(env: Env) -> None:
    form = ClinicRequestForm(
        ClinicRequestKind.CERTIFICATE, _applicant(), certificate=CertificateKind.TAX_DEDUCTION, tax_year=2025
    )
    request = await env.mis.submit(form, idempotency_key="c1")
    env.state.decide(request.id)
    done = await env.mis.get_request(request.id)
    assert done.status is ClinicRequestStatus.ISSUED and done.result_registry_number == f"REMD-{len(env.semd):07d}"
    assert env.semd[-1][1:] == (
        "166",
        "Справка об оплате медицинских услуг для представления в налоговый орган за 2025 год",
    )
    sports = await env.mis.submit(
        ClinicRequestForm(ClinicRequestKind.CERTIFICATE, _applicant(), certificate=CertificateKind.SPORTS),
        idempotency_key="c2",
    )
    env.state.refuse(sports.id, "Нужен очный осмотр: последний осмотр был более года назад.")
    refused = await env.mis.get_request(sports.id)
    assert refused.status is ClinicRequestStatus.REFUSED
    assert refused.refusal_reason == "Нужен очный осмотр: последний осмотр был более года назад."
    listed = await env.mis.list_requests(snils=DIABETIC)
    assert [r.id for r in listed] == [sports.id, request.id]


@pytest.mark.parametrize(
    ("fault", "error"),
    [(Fault.ERROR, LloUnavailable), (Fault.MALFORMED, LloMalformedReply)],
)
async def test_faults_are_typed_and_change_nothing(env: Env, fault: Fault, error: type[Exception]) -> None:
    metformin = next(p for p in env.state.prescriptions_of(DIABETIC) if p.drug.mnn == "Метформин")
    pharmacy = next(p.id for p in env.state.pharmacies.values() if p.preferential)
    before = dict(env.state.prescriptions)
    env.state.faults.force(fault)
    with pytest.raises(error):
        await env.llo.defer(metformin.id, pharmacy, idempotency_key="f1")
    assert env.state.prescriptions == before  # the faulty reply changed nothing
    assert (await env.llo.defer(metformin.id, pharmacy, idempotency_key="f1")).status is PrescriptionStatus.DEFERRED


async def test_timeout_and_wrong_token() -> None:
    app = create_llo_simulator(get_region(), faults=FaultProfile(timeout_rate=1.0, timeout_stall_s=1.0), token="t")
    async with build_http_client("inprocess://llo", simulator_app=lambda: app) as http:
        with pytest.raises(LloTimeout):
            await LloClient(http, token="t", timeout_s=0.05).pharmacies()
    app = create_llo_simulator(get_region(), token="t")
    async with build_http_client("inprocess://llo", simulator_app=lambda: app) as http:
        with pytest.raises(LloAccessDenied):
            await LloClient(http, token="wrong", timeout_s=5).pharmacies()
        assert (await LloClient(http, token="t", timeout_s=5).beneficiary(FEDERAL_ONLY)) is not None


async def test_served_hooks_restock_and_decide(env: Env) -> None:
    metformin = next(p for p in await env.llo.prescriptions(DIABETIC) if p.drug.mnn == "Метформин")
    chosen = next(p for p in await env.llo.pharmacies() if p.preferential)
    await env.llo.defer(metformin.id, chosen.id, idempotency_key="s1")
    async with build_http_client("inprocess://llo", simulator_app=lambda: env.app) as http:
        reply = await http.post(
            "/llo/v1/_sim/restock",
            json={"pharmacyId": chosen.id, "mnn": "Метформин", "dosage": "1000 мг", "quantity": 60},
        )
        assert reply.json() == {"arrived": [metformin.id]}
    assert (await env.llo.prescription(metformin.id)).deferral.arrived_on == date(2026, 3, 2)  # type: ignore[union-attr]
