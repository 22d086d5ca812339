"""GraphQL for preferential drugs: entitlement, my prescriptions with their code and countdown, where the drug
is (nearest pharmacies with hours), deferred service, renewals and certificates without a visit, and the
staff KPI. The mobile app uses all of it; a 122 operator (on-behalf session) tells a caller where the drug is
and puts it on deferred service; a kiosk shows prescriptions and prints (``backend/drugs/routes.py``).

Mutations take ``idempotencyKey`` (booking's idempotency records: a repeat returns the first result) and
``actingFor``. Every read of prescriptions, entitlement or requests is audited as a medical read.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ParamSpec, TypeVar

import strawberry

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.audit import service as audit
from backend.booking import idempotency
from backend.booking.graphql_types import ProblemMap
from backend.drugs import problems, service
from backend.drugs.graphql_types import (
    CertificateCatalogueItem,
    CertificateKindEnum,
    CertificateRequestInput,
    DeferPrescriptionResult,
    DrugEntitlement,
    DrugEntitlementResult,
    DrugInStock,
    DrugRequestChannelCount,
    DrugRequestNotFound,
    DrugRequestPending,
    DrugRequestResult,
    DrugRequestsKpi,
    DrugRequestSubmitted,
    DrugRequestType,
    DrugsNoEntitlement,
    DrugsNoSnils,
    DrugsServiceUnavailable,
    GeoPointInput,
    PharmacyAvailability,
    PharmacyAvailabilityResult,
    PharmacyType,
    PharmacyUnavailable,
    PrescriptionAlreadyDeferred,
    PrescriptionAlreadyDispensed,
    PrescriptionDeferred,
    PrescriptionExpired,
    PrescriptionList,
    PrescriptionListResult,
    PrescriptionNotFound,
    PrescriptionType,
    RenewalNotAllowed,
)
from backend.drugs.models import DrugPrescription, DrugRequest
from backend.identity.policy import SCOPE_DRUGS, require_staff, require_subject
from integrations.llo import CertificateKind, LloError

P = ParamSpec("P")
R = TypeVar("R")

_PROBLEMS = ProblemMap(
    {
        problems.NoSnils: DrugsNoSnils,
        problems.PrescriptionNotFound: PrescriptionNotFound,
        problems.PrescriptionExpired: PrescriptionExpired,
        problems.AlreadyDispensed: PrescriptionAlreadyDispensed,
        problems.NoEntitlement: DrugsNoEntitlement,
        problems.PharmacyUnavailable: PharmacyUnavailable,
        problems.DrugInStock: DrugInStock,
        problems.AlreadyDeferred: PrescriptionAlreadyDeferred,
        problems.RenewalNotAllowed: RenewalNotAllowed,
        problems.RequestPending: DrugRequestPending,
        problems.RequestNotFound: DrugRequestNotFound,
        problems.DrugsServiceUnavailable: DrugsServiceUnavailable,
    },
    transient=problems.TRANSIENT_CODES,
)
graphql_problem = _PROBLEMS.member
_problem_from_json = _PROBLEMS.from_json
domain_problems = _PROBLEMS.guard
keyed = _PROBLEMS.keyed


async def _names(info: Info) -> dict[str, str]:
    """Pharmacy names for the deferrals (the cached list; none when the regional system is down)."""
    try:
        return {i: p.name for i, p in (await service.pharmacies(info.context.runtime)).items()}
    except LloError:
        return {}


async def _typed(info: Info, row: DrugPrescription) -> PrescriptionType:
    return PrescriptionType.of(row, today=service.today(info.context.runtime), documents={}, names=await _names(info))


async def _replay(info: Info, stored: dict[str, Any]) -> Any:
    if stored.get("type") == "problem":
        return _problem_from_json(stored)
    session = info.context.uow.session
    if stored["type"] == "deferred":
        row = await session.get(DrugPrescription, uuid.UUID(stored["id"]))
        assert row is not None  # prescriptions are never deleted
        return PrescriptionDeferred(prescription=await _typed(info, row))
    request = await session.get(DrugRequest, uuid.UUID(stored["id"]))
    assert request is not None
    return DrugRequestSubmitted(request=DrugRequestType.of(request))


async def _begin(
    info: Info, operation: str, key: str, acting_for: uuid.UUID | None, request: dict[str, Any]
) -> tuple[uuid.UUID, Any]:
    patient_id = await require_subject(info, SCOPE_DRUGS, acting_for=acting_for)
    stored = await idempotency.claim(info.context.uow, operation, key, {**request, "patient_id": str(patient_id)})
    return patient_id, (await _replay(info, stored) if stored is not None else None)


async def _audited(info: Info, action: str, patient_id: uuid.UUID, details: dict[str, Any]) -> None:
    await audit.record_now(
        info.context.sessionmaker, info.context.ctx, action, object_type="prescription", subject_id=patient_id,
        details=details,
    )  # fmt: skip


@strawberry.type
class Query:
    @strawberry.field(description="Моё право на льготные лекарства: категории, что они дают, решение о НСУ.")
    async def my_drug_entitlement(self, info: Info, acting_for: uuid.UUID | None = None) -> DrugEntitlementResult:
        patient_id = await require_subject(info, SCOPE_DRUGS, acting_for=acting_for)
        try:
            found = await service.entitlement(info.context.runtime, patient_id)
        except problems.ProblemError as exc:
            return graphql_problem(exc.problem)  # type: ignore[return-value]
        await _audited(info, "drugs.entitlement_read", patient_id, {"categories": len(found.categories)})
        return DrugEntitlement.of(found)

    @strawberry.field(description="Мои электронные рецепты (льготные и обычные), новые первыми.")
    async def my_prescriptions(self, info: Info, acting_for: uuid.UUID | None = None) -> PrescriptionListResult:
        patient_id = await require_subject(info, SCOPE_DRUGS, acting_for=acting_for)
        try:
            found = await service.list_prescriptions(info.context.runtime, patient_id)
        except problems.ProblemError as exc:
            return graphql_problem(exc.problem)  # type: ignore[return-value]
        await _audited(info, "drugs.prescriptions_read", patient_id, {"count": len(found.rows)})
        names = await _names(info) if any(r.deferred_pharmacy_id for r in found.rows) else {}
        day = service.today(info.context.runtime)
        return PrescriptionList(
            up_to_date=found.up_to_date,
            prescriptions=[
                PrescriptionType.of(r, today=day, documents=found.documents, names=names) for r in found.rows
            ],
        )

    @strawberry.field(description="Где есть лекарство по рецепту: ближайшие аптеки с часами работы.")
    async def pharmacy_availability(
        self,
        info: Info,
        prescription_id: uuid.UUID,
        near: GeoPointInput | None = None,
        acting_for: uuid.UUID | None = None,
    ) -> PharmacyAvailabilityResult:
        patient_id = await require_subject(info, SCOPE_DRUGS, acting_for=acting_for)
        try:
            point = service.check_point(near.latitude, near.longitude) if near else None
            found = await service.availability(info.context.runtime, patient_id, prescription_id, point)
        except problems.ProblemError as exc:
            return graphql_problem(exc.problem)  # type: ignore[return-value]
        await _audited(info, "drugs.availability_read", patient_id, {"prescription_id": str(prescription_id)})
        return PharmacyAvailability(
            prescription_id=found.prescription.id,
            drug=f"{found.prescription.mnn} {found.prescription.dosage}",
            in_stock=[PharmacyType.of(v) for v in found.in_stock],
            deferral_options=[PharmacyType.of(v) for v in found.deferral_options],
        )

    @strawberry.field(description="Справки и выписки, которые можно заказать без визита (справочник).")
    def certificate_catalogue(self) -> list[CertificateCatalogueItem]:
        return [
            CertificateCatalogueItem(
                kind=CertificateKindEnum(item.kind.value),
                title=item.title,
                description=item.description,
                basis=item.basis,
                needs_tax_year=item.needs_tax_year,
            )
            for item in service.CATALOGUE
        ]

    @strawberry.field(description="Мои заявки без визита: продления рецептов и справки, новые первыми.")
    async def my_drug_requests(self, info: Info, acting_for: uuid.UUID | None = None) -> list[DrugRequestType]:
        patient_id = await require_subject(info, SCOPE_DRUGS, acting_for=acting_for)
        async with info.context.sessionmaker() as session:
            rows = await service.requests_of(session, patient_id)
        await audit.record_now(
            info.context.sessionmaker, info.context.ctx, "drugs.requests_read", object_type="drug_request",
            subject_id=patient_id, details={"count": len(rows)},
        )  # fmt: skip
        return [DrugRequestType.of(r) for r in rows]

    @strawberry.field(description="Заявки без визита за период по каналам (для персонала).")
    async def drug_requests_kpi(self, info: Info, date_from: date, date_to: date) -> DrugRequestsKpi:
        require_staff(info)
        start = datetime.combine(date_from, time.min, tzinfo=UTC)
        end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
        async with info.context.sessionmaker() as session:
            counts = await service.requests_by_channel(session, start, end)
        return DrugRequestsKpi(
            start=start,
            end=end,
            total=sum(counts.values()),
            by_channel=[DrugRequestChannelCount(channel=c, count=n) for c, n in sorted(counts.items())],
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Поставить льготный рецепт на отсроченное обслуживание в выбранной аптеке.")
    @keyed
    @atomic
    @domain_problems
    async def defer_prescription(
        self,
        info: Info,
        prescription_id: uuid.UUID,
        pharmacy_id: str,
        idempotency_key: str,
        acting_for: uuid.UUID | None = None,
    ) -> DeferPrescriptionResult:
        patient_id, replay = await _begin(
            info,
            "deferPrescription",
            idempotency_key,
            acting_for,
            {"prescription": str(prescription_id), "pharmacy": pharmacy_id},
        )
        if replay is not None:
            return replay
        uow = info.context.uow
        row = await service.defer(uow, patient_id, prescription_id, pharmacy_id, idempotency_key)
        idempotency.remember(uow, {"type": "deferred", "id": str(row.id)})
        return PrescriptionDeferred(prescription=await _typed(info, row))

    @strawberry.mutation(description="Попросить лечащего врача продлить рецепт по хроническому заболеванию без приёма.")
    @keyed
    @atomic
    @domain_problems
    async def request_prescription_renewal(
        self,
        info: Info,
        prescription_id: uuid.UUID,
        idempotency_key: str,
        comment: str | None = None,
        acting_for: uuid.UUID | None = None,
    ) -> DrugRequestResult:
        patient_id, replay = await _begin(
            info,
            "requestPrescriptionRenewal",
            idempotency_key,
            acting_for,
            {"prescription": str(prescription_id), "comment": comment},
        )
        if replay is not None:
            return replay
        uow = info.context.uow
        row = await service.request_renewal(uow, patient_id, prescription_id, comment, idempotency_key)
        idempotency.remember(uow, {"type": "request", "id": str(row.id)})
        return DrugRequestSubmitted(request=DrugRequestType.of(row))

    @strawberry.mutation(description="Заказать справку или выписку без визита в поликлинику.")
    @keyed
    @atomic
    @domain_problems
    async def request_certificate(
        self, info: Info, input: CertificateRequestInput, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> DrugRequestResult:
        patient_id, replay = await _begin(
            info,
            "requestCertificate",
            idempotency_key,
            acting_for,
            {"kind": input.kind.value, "purpose": input.purpose, "tax_year": input.tax_year},
        )
        if replay is not None:
            return replay
        uow = info.context.uow
        row = await service.request_certificate(
            uow,
            patient_id,
            CertificateKind(input.kind.value),
            purpose=input.purpose,
            tax_year=input.tax_year,
            key=idempotency_key,
        )
        idempotency.remember(uow, {"type": "request", "id": str(row.id)})
        return DrugRequestSubmitted(request=DrugRequestType.of(row))
