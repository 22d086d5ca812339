"""Requests without a visit: a chronic-disease prescription renewed by the attending doctor, and a certificate
or extract from the catalogue. Each is a tracked request to the clinic's MIS (the contract is modelled on the
EPGU forms, see :mod:`integrations.llo.protocol`) ending in a new prescription, or in a СЭМД 166 that the
documents domain reads from РЭМД into the person's documents (and so into the vault, which lists them).

Why here and not in a certificates domain of its own: renewals and certificates are the same kind of
request to the same clinic service (one table, one sync, one status vocabulary), and a renewal ends in a
prescription, which is this domain's; a certificates domain would have called back into drugs for that.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import func, select

from backend.core.context import ActorKind, RequestContext
from backend.core.uow import UnitOfWork
from backend.documents import service as documents
from backend.drugs.models import DrugRequest
from backend.drugs.problems import InvalidInput, RenewalNotAllowed, RequestPending, fail
from backend.drugs.service.base import own_prescription, patient_with_snils, remember, today, upstream_problem
from integrations.llo import (
    Applicant,
    CertificateKind,
    ClinicRequestForm,
    ClinicRequestInfo,
    ClinicRequestKind,
    ClinicRequestStatus,
    LloError,
)
from notifications import service as notifications

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

SYNC_BATCH = 200


@dataclass(frozen=True)
class CatalogueItem:
    kind: CertificateKind
    title: str
    description: str
    basis: str  # the form or order it follows
    needs_tax_year: bool = False


CATALOGUE: tuple[CatalogueItem, ...] = (
    CatalogueItem(
        CertificateKind.DRIVING,
        "Медицинское заключение для водительского удостоверения (часть поликлиники)",
        "Осмотры терапевта и офтальмолога, которые проводит поликлиника. Справки психиатра и нарколога выдают "
        "диспансеры: их поликлиника не оформляет.",
        "форма 003-В/у, приказ Минздрава России № 344н",
    ),
    CatalogueItem(
        CertificateKind.SPORTS,
        "Справка для занятий в спортивной секции",
        "Допуск к занятиям физкультурой и спортом по результатам последнего осмотра.",
        "приказ Минздрава России № 1144н",
    ),
    CatalogueItem(
        CertificateKind.SCHOOL,
        "Справка для школы или детского сада",
        "О состоянии здоровья и отсутствии противопоказаний для посещения образовательной организации.",
        "медицинская справка (СЭМД «Медицинская справка»)",
    ),
    CatalogueItem(
        CertificateKind.OUTPATIENT_EXTRACT,
        "Выписка из амбулаторной карты",
        "Диагнозы, обращения и назначения из медицинской карты поликлиники.",
        "форма 027/у",
    ),
    CatalogueItem(
        CertificateKind.TAX_DEDUCTION,
        "Справка об оплате медицинских услуг для налогового вычета",
        "Для социального налогового вычета за платное лечение (ст. 219 Налогового кодекса РФ). Укажите год оплаты.",
        "справка об оплате медицинских услуг для представления в налоговый орган",
        needs_tax_year=True,
    ),
)
TITLES = {item.kind: item.title for item in CATALOGUE}
#: How far back a tax deduction may be claimed (НК РФ ст. 78: three years).
TAX_YEARS_BACK = 3


def _applicant(patient: Any) -> Applicant:
    return Applicant(
        snils=patient.snils,
        last_name=patient.last_name,
        first_name=patient.first_name,
        middle_name=patient.middle_name,
        birth_date=patient.birth_date,
        oms_number=patient.oms_policy,
        phone=patient.phone,
    )


async def _pending(uow: UnitOfWork, patient_id: uuid.UUID, **same: Any) -> None:
    query = select(func.count()).where(
        DrugRequest.patient_id == patient_id,
        DrugRequest.status.in_((ClinicRequestStatus.SUBMITTED.value, ClinicRequestStatus.IN_REVIEW.value)),
    )
    for name, value in same.items():
        query = query.where(getattr(DrugRequest, name) == value)
    if await uow.session.scalar(query):
        raise fail(RequestPending.default())


async def _submit(uow: UnitOfWork, patient_id: uuid.UUID, form: ClinicRequestForm, key: str) -> DrugRequest:
    try:
        info = await uow.runtime.adapters.clinic_requests.submit(form, idempotency_key=f"{patient_id}:{key}")
    except LloError as exc:
        raise fail(upstream_problem(exc)) from None
    actor = uow.ctx.actor
    at = uow.runtime.now()
    row = DrugRequest(
        id=uuid.uuid4(),
        patient_id=patient_id,
        upstream_id=info.id,
        kind=form.kind.value,
        certificate_kind=form.certificate.value if form.certificate else None,
        prescription_upstream_id=form.prescription_id,
        purpose=form.purpose,
        tax_year=form.tax_year,
        status=info.status.value,
        history=[_step(s.status.value, s.at, s.comment) for s in info.history],
        channel=actor.channel.value,
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        on_behalf=actor.kind is not ActorKind.PATIENT or actor.id != str(patient_id),
        created_at=at,
        updated_at=at,
    )
    uow.session.add(row)
    await uow.session.flush()
    uow.audit(
        f"drugs.{form.kind.value}_requested",
        object_type="drug_request",
        object_id=row.id,
        subject_id=patient_id,
        details={"upstream_id": info.id, "certificate": row.certificate_kind},
    )
    return row


def _step(status: str, at: datetime, comment: str | None) -> dict[str, Any]:
    return {"status": status, "at": at.isoformat(), "comment": comment}


async def request_renewal(
    uow: UnitOfWork, patient_id: uuid.UUID, prescription_id: uuid.UUID, comment: str | None, key: str
) -> DrugRequest:
    """Ask the attending doctor to renew a chronic-disease prescription without a visit."""
    if comment is not None and len(comment) > 1000:
        raise fail(InvalidInput.of("comment", "Комментарий — не длиннее 1000 знаков."))
    row = await own_prescription(uow.session, patient_id, prescription_id)
    if row.narcotic_schedule == "II":
        raise fail(RenewalNotAllowed.default())
    if not row.chronic:
        raise fail(
            RenewalNotAllowed.default(
                "Без приёма продлевается только рецепт на лекарство для лечения хронического заболевания. "
                "Запишитесь к врачу."
            )
        )
    await _pending(uow, patient_id, kind=ClinicRequestKind.RENEWAL.value, prescription_upstream_id=row.upstream_id)
    patient = await patient_with_snils(uow.session, patient_id)
    form = ClinicRequestForm(
        ClinicRequestKind.RENEWAL, _applicant(patient), prescription_id=row.upstream_id, comment=comment
    )
    return await _submit(uow, patient_id, form, key)


async def request_certificate(
    uow: UnitOfWork,
    patient_id: uuid.UUID,
    kind: CertificateKind,
    *,
    purpose: str | None,
    tax_year: int | None,
    key: str,
) -> DrugRequest:
    """Ask the clinic for a certificate or an extract of the catalogue."""
    if purpose is not None and len(purpose) > 500:
        raise fail(InvalidInput.of("purpose", "Назначение справки — не длиннее 500 знаков."))
    year = today(uow.runtime).year
    if kind is CertificateKind.TAX_DEDUCTION:
        if tax_year is None or not year - TAX_YEARS_BACK <= tax_year <= year:
            raise fail(
                InvalidInput.of(
                    "taxYear", f"Укажите год оплаты лечения: с {year - TAX_YEARS_BACK} по {year} (вычет — за 3 года)."
                )
            )
    elif tax_year is not None:
        raise fail(InvalidInput.of("taxYear", "Год оплаты указывается только для справки для налогового вычета."))
    await _pending(uow, patient_id, kind=ClinicRequestKind.CERTIFICATE.value, certificate_kind=kind.value)
    patient = await patient_with_snils(uow.session, patient_id)
    form = ClinicRequestForm(
        ClinicRequestKind.CERTIFICATE,
        _applicant(patient),
        certificate=kind,
        purpose=(purpose or "").strip() or None,
        tax_year=tax_year,
    )
    return await _submit(uow, patient_id, form, key)


async def requests_of(session: Any, patient_id: uuid.UUID, *, request_id: uuid.UUID | None = None) -> list[DrugRequest]:
    query = select(DrugRequest).where(DrugRequest.patient_id == patient_id)
    if request_id is not None:
        query = query.where(DrugRequest.id == request_id)
    return list(await session.scalars(query.order_by(DrugRequest.created_at.desc(), DrugRequest.id.desc())))


# -- in step with the clinic ---------------------------------------------------------------------------


@dataclass
class RequestsReport:
    checked: int = 0
    changed: int = 0
    failures: int = 0


async def _result_document(runtime: Runtime, patient_id: uuid.UUID, number: str | None) -> uuid.UUID | None:
    """The certificate's СЭМД in the person's documents: the documents domain syncs from РЭМД, then finds it."""
    if number is None:
        return None
    await documents.sync_patient(runtime, patient_id)
    rows = await documents.list_documents(
        runtime, patient_id, first=documents.MAX_PAGE, filters=documents.DocumentFilter(kinds=("166",))
    )
    return next((row.id for row in rows if row.registry_number == number), None)


async def apply_request(runtime: Runtime, info: ClinicRequestInfo) -> bool:
    """Apply the clinic's answer to our row once; False if unknown or nothing changed."""
    async with runtime.sessionmaker() as session:
        row = await session.scalar(select(DrugRequest).where(DrugRequest.upstream_id == info.id))
    if row is None or (row.status == info.status.value and len(row.history) == len(info.history)):
        return False
    document_id = None
    renewed = None
    if info.status is ClinicRequestStatus.ISSUED:
        document_id = await _result_document(runtime, row.patient_id, info.result_registry_number)
        if info.result_prescription_id:
            renewed = await runtime.adapters.llo.prescription(info.result_prescription_id)
    async with UnitOfWork(runtime, RequestContext.for_system("drugs.requests")) as uow:
        row = await uow.session.get(DrugRequest, row.id, with_for_update=True)
        assert row is not None
        if row.status == info.status.value and len(row.history) == len(info.history):
            return False  # another run applied it meanwhile
        row.status = info.status.value
        row.history = [_step(s.status.value, s.at, s.comment) for s in info.history]
        row.refusal_reason = info.refusal_reason
        row.doctor_name = info.doctor_name
        row.result_prescription_id = info.result_prescription_id
        row.result_registry_number = info.result_registry_number
        row.result_document_id = document_id
        row.updated_at = runtime.now()
        if renewed is not None:
            await remember(uow.session, row.patient_id, [renewed], runtime.now())
        what = TITLES.get(CertificateKind(row.certificate_kind)) if row.certificate_kind else "Продление рецепта"
        notifications.notify(
            uow,
            patient_id=row.patient_id,
            event="drug_request.status_changed",
            data={"what": what, "status": info.status.label_ru, "reason": info.refusal_reason or ""},
            dedupe_key=f"drug_request:{row.id}:{info.status.value}",
        )
        uow.audit(
            "drugs.request_status_changed",
            object_type="drug_request",
            object_id=row.id,
            subject_id=row.patient_id,
            details={"status": row.status},
        )
    return True


async def sync_requests(runtime: Runtime, *, batch: int = SYNC_BATCH) -> RequestsReport:
    """Ask the clinic about every open request (oldest change first) and apply what changed."""
    report = RequestsReport()
    async with runtime.sessionmaker() as session:
        ids = list(
            await session.scalars(
                select(DrugRequest.upstream_id)
                .where(
                    DrugRequest.status.in_((ClinicRequestStatus.SUBMITTED.value, ClinicRequestStatus.IN_REVIEW.value))
                )
                .order_by(DrugRequest.updated_at)
                .limit(batch)
            )
        )
    for upstream_id in ids:
        report.checked += 1
        try:
            info = await runtime.adapters.clinic_requests.get_request(upstream_id)
            if await apply_request(runtime, info):
                report.changed += 1
        except LloError:
            report.failures += 1
            log.warning("drugs.request_sync_failed", upstream_id=upstream_id, exc_info=True)
    return report


async def requests_by_channel(session: Any, start: datetime, end: datetime) -> dict[str, int]:
    """The KPI: requests without a visit created in [start, end) by channel."""
    rows = await session.execute(
        select(DrugRequest.channel, func.count())
        .where(DrugRequest.created_at >= start, DrugRequest.created_at < end)
        .group_by(DrugRequest.channel)
    )
    return {str(channel): int(count) for channel, count in rows.all()}
