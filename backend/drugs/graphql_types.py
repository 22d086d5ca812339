"""The drugs domain's GraphQL types: entitlement, prescriptions with their countdown and code, pharmacies with
hours, the certificate catalogue, requests without a visit, and the problems (union members)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any

import strawberry

from backend.api.problems import AccessDenied, InvalidInput, NotAuthenticated, Problem
from backend.booking.graphql_types import IdempotencyKeyReused
from backend.drugs import service
from backend.drugs.models import DrugPrescription, DrugRequest
from integrations.llo import CertificateKind, ClinicRequestStatus, PrescriptionStatus


@strawberry.enum(name="PrescriptionStatus", description="Состояние рецепта в региональной системе ЛЛО.")
class PrescriptionStatusEnum(Enum):
    ISSUED = "issued"
    PARTIALLY_DISPENSED = "partially_dispensed"
    DISPENSED = "dispensed"
    EXPIRED = "expired"
    DEFERRED = "deferred"


@strawberry.enum(name="CertificateKind", description="Вид справки или выписки.")
class CertificateKindEnum(Enum):
    DRIVING = "driving"
    SPORTS = "sports"
    SCHOOL = "school"
    OUTPATIENT_EXTRACT = "outpatient_extract"
    TAX_DEDUCTION = "tax_deduction"


@strawberry.enum(name="DrugRequestStatus", description="Состояние заявки без визита в поликлинику.")
class DrugRequestStatusEnum(Enum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    ISSUED = "issued"
    REFUSED = "refused"


# ---------------------------------------------------------------------------------------------- problems


@strawberry.type(description="В профиле нет СНИЛС: рецепты не найти.")
class DrugsNoSnils(Problem):
    pass


@strawberry.type(description="Рецепт не найден.")
class PrescriptionNotFound(Problem):
    pass


@strawberry.type(description="Срок действия рецепта истёк.")
class PrescriptionExpired(Problem):
    pass


@strawberry.type(description="Лекарство по рецепту уже отпущено.")
class PrescriptionAlreadyDispensed(Problem):
    pass


@strawberry.type(description="На это лекарство нет права льготного обеспечения.")
class DrugsNoEntitlement(Problem):
    pass


@strawberry.type(description="Аптека не отпускает льготные лекарства.")
class PharmacyUnavailable(Problem):
    pass


@strawberry.type(description="Лекарство есть в этой аптеке: отсрочка не нужна.")
class DrugInStock(Problem):
    pass


@strawberry.type(description="Рецепт уже на отсроченном обслуживании.")
class PrescriptionAlreadyDeferred(Problem):
    pass


@strawberry.type(description="Этот рецепт нельзя продлить без приёма.")
class RenewalNotAllowed(Problem):
    pass


@strawberry.type(description="Такая заявка уже рассматривается.")
class DrugRequestPending(Problem):
    pass


@strawberry.type(description="Заявка не найдена.")
class DrugRequestNotFound(Problem):
    pass


@strawberry.type(description="Сервис ЛЛО недоступен; можно повторить.")
class DrugsServiceUnavailable(Problem):
    pass


# ---------------------------------------------------------------------------------------------- entitlement


@strawberry.type(description="Льготная категория из регистра.")
class DrugBenefitCategory:
    code: str = strawberry.field(description="Код категории (НСИ 1.2.643.5.1.13.13.99.2.713).")
    code_system: str
    name: str
    level: str = strawberry.field(description="federal — федеральный регистр, regional — региональный.")
    gives: str = strawberry.field(description="Что даёт категория.")
    valid_from: date
    valid_until: date | None
    active: bool

    @classmethod
    def of(cls, c: service.CategoryView) -> DrugBenefitCategory:
        return cls(
            code=c.code,
            code_system=c.code_system,
            name=c.name,
            level=c.level,
            gives=c.gives,
            valid_from=c.valid_from,
            valid_until=c.valid_until,
            active=c.active,
        )


@strawberry.type(description="Набор социальных услуг (НСУ): решение на год и срок подачи заявления.")
class NsuDecisionInfo:
    year: int
    refused_this_year: bool | None = strawberry.field(description="true — лекарства заменены деньгами в этом году.")
    next_year: int
    refused_next_year: bool | None
    deadline: date = strawberry.field(description="Заявление на следующий год — до этой даты (1 октября).")
    days_left: int
    law: str


@strawberry.type(description="Право на льготное лекарственное обеспечение.")
class DrugEntitlement:
    beneficiary: bool
    categories: list[DrugBenefitCategory]
    nsu: NsuDecisionInfo | None
    address: str | None = strawberry.field(description="Адрес из регистра (от него ищутся ближайшие аптеки).")

    @classmethod
    def of(cls, e: service.Entitlement) -> DrugEntitlement:
        n = e.nsu
        return cls(
            beneficiary=e.beneficiary,
            categories=[DrugBenefitCategory.of(c) for c in e.categories],
            nsu=None
            if n is None
            else NsuDecisionInfo(
                year=n.year,
                refused_this_year=n.refused_this_year,
                next_year=n.next_year,
                refused_next_year=n.refused_next_year,
                deadline=n.deadline,
                days_left=n.days_left,
                law=n.law,
            ),
            address=e.address,
        )


# ---------------------------------------------------------------------------------------------- prescriptions


@strawberry.type(description="Отсроченное обслуживание рецепта.")
class PrescriptionDeferral:
    pharmacy_id: str
    pharmacy_name: str | None
    registered_on: date | None
    due_on: date | None = strawberry.field(description="Срок поступления лекарства.")
    arrived_on: date | None = strawberry.field(description="Когда лекарство поступило (можно получать).")


@strawberry.type(name="Prescription", description="Электронный рецепт.")
class PrescriptionType:
    id: uuid.UUID
    series: str
    number: str
    barcode: str = strawberry.field(description="Штрихкод рецепта (его сканирует фармацевт).")
    qr_payload: str = strawberry.field(description="Содержимое QR-кода для показа в аптеке.")
    mnn: str = strawberry.field(description="Международное непатентованное наименование.")
    dosage: str
    form: str
    quantity: int
    dispensed_quantity: int
    dosing: str | None
    preferential: bool
    benefit_code: str | None
    financing: str
    chronic: bool = strawberry.field(description="По хроническому заболеванию: можно продлить без приёма.")
    renewable: bool = strawberry.field(description="Продление без визита возможно (не Список II).")
    status: PrescriptionStatusEnum
    status_label: str
    issued_on: date
    valid_days: int
    valid_until: date
    days_left: int | None = strawberry.field(description="Сколько дней рецепт ещё действует (включая сегодня).")
    expires_soon: bool = strawberry.field(description="Осталось 3 дня или меньше.")
    doctor_name: str | None
    organisation: str | None
    semd_kind: str = strawberry.field(description="Тип СЭМД рецепта: 141 (льготный) или 148.")
    document_id: uuid.UUID | None = strawberry.field(description="Рецепт в «Моих документах» (medicalDocument).")
    deferral: PrescriptionDeferral | None

    @classmethod
    def of(
        cls, row: DrugPrescription, *, today: date, documents: dict[str, uuid.UUID], names: dict[str, str]
    ) -> PrescriptionType:
        status = PrescriptionStatus(row.status)
        counting = status in (PrescriptionStatus.ISSUED, PrescriptionStatus.PARTIALLY_DISPENSED)
        left = (row.valid_until - today).days + 1 if counting else None
        deferral = None
        if row.deferred_pharmacy_id:
            deferral = PrescriptionDeferral(
                pharmacy_id=row.deferred_pharmacy_id,
                pharmacy_name=names.get(row.deferred_pharmacy_id),
                registered_on=row.deferred_on,
                due_on=row.deferred_due,
                arrived_on=row.arrived_on,
            )
        return cls(
            id=row.id,
            series=row.series,
            number=row.number,
            barcode=row.barcode,
            qr_payload=qr_payload(row),
            mnn=row.mnn,
            dosage=row.dosage,
            form=row.form,
            quantity=row.quantity,
            dispensed_quantity=row.dispensed_quantity,
            dosing=row.dosing,
            preferential=row.preferential,
            benefit_code=row.benefit_code,
            financing=row.financing,
            chronic=row.chronic,
            renewable=row.chronic and row.narcotic_schedule != "II",
            status=PrescriptionStatusEnum(row.status),
            status_label=status.label_ru,
            issued_on=row.issued_on,
            valid_days=row.valid_days,
            valid_until=row.valid_until,
            days_left=max(left, 0) if left is not None else None,
            expires_soon=left is not None and 0 < left <= 3,
            doctor_name=row.doctor_name,
            organisation=row.mo_name,
            semd_kind=row.semd_kind,
            document_id=documents.get(row.semd_registry_number or ""),
            deferral=deferral,
        )


def qr_payload(row: DrugPrescription) -> str:
    """What the QR code shown at the pharmacy holds: series, number and the barcode the pharmacy system reads."""
    return f"RX:{row.series}:{row.number}:{row.barcode}"


@strawberry.type(description="Мои рецепты.")
class PrescriptionList:
    up_to_date: bool = strawberry.field(description="false — сервис ЛЛО не ответил, показаны последние данные.")
    prescriptions: list[PrescriptionType]


@strawberry.type(description="Часы работы аптеки.")
class PharmacyHours:
    days: str
    opens: str
    closes: str


@strawberry.type(description="Аптека.")
class PharmacyType:
    id: str
    name: str
    address: str
    phone: str | None
    latitude: float
    longitude: float
    preferential: bool = strawberry.field(description="Отпускает льготные лекарства.")
    hours: list[PharmacyHours]
    hours_text: str
    open_now: bool
    distance_km: float | None
    quantity: int = strawberry.field(description="Сколько упаковок есть (0 — нет в наличии).")

    @classmethod
    def of(cls, v: service.PharmacyView) -> PharmacyType:
        hours = [
            PharmacyHours(days=h.days, opens=h.opens.strftime("%H:%M"), closes=h.closes.strftime("%H:%M"))
            for h in v.hours
        ]
        return cls(
            id=v.id,
            name=v.name,
            address=v.address,
            phone=v.phone,
            latitude=v.latitude,
            longitude=v.longitude,
            preferential=v.preferential,
            hours=hours,
            hours_text=hours_text(v.hours),
            open_now=v.open_now,
            distance_km=v.distance_km,
            quantity=v.quantity,
        )


def hours_text(hours: Any) -> str:
    parts = []
    for h in hours:
        if h.opens == h.closes and h.opens.hour == 0 and h.opens.minute == 0:
            parts.append("круглосуточно")
        else:
            parts.append(f"{h.days} {h.opens:%H:%M}–{h.closes:%H:%M}")
    return "; ".join(parts)


@strawberry.type(description="Где есть лекарство по рецепту: ближайшие аптеки первыми.")
class PharmacyAvailability:
    prescription_id: uuid.UUID
    drug: str
    in_stock: list[PharmacyType]
    deferral_options: list[PharmacyType] = strawberry.field(
        description="Если нигде нет: льготные аптеки, где можно оформить отсроченное обслуживание."
    )


@strawberry.input(description="Точка, от которой искать ближайшие аптеки.")
class GeoPointInput:
    latitude: float
    longitude: float


@strawberry.type(description="Рецепт поставлен на отсроченное обслуживание.")
class PrescriptionDeferred:
    prescription: PrescriptionType


# ---------------------------------------------------------------------------------------------- requests


@strawberry.type(description="Справка или выписка из каталога.")
class CertificateCatalogueItem:
    kind: CertificateKindEnum
    title: str
    description: str
    basis: str
    needs_tax_year: bool


@strawberry.type(description="Шаг истории заявки.")
class DrugRequestStep:
    status: DrugRequestStatusEnum
    status_label: str
    at: datetime
    comment: str | None


@strawberry.type(name="DrugRequest", description="Заявка без визита: продление рецепта или справка.")
class DrugRequestType:
    id: uuid.UUID
    number: str = strawberry.field(description="Номер заявки в поликлинике.")
    kind: str = strawberry.field(description="renewal — продление рецепта, certificate — справка.")
    title: str
    certificate_kind: CertificateKindEnum | None
    status: DrugRequestStatusEnum
    status_label: str
    refusal_reason: str | None = strawberry.field(description="Почему врач отказал.")
    doctor_name: str | None
    result_document_id: uuid.UUID | None = strawberry.field(description="Готовая справка в «Моих документах».")
    result_prescription_number: str | None
    channel: str
    created_at: datetime
    history: list[DrugRequestStep]

    @classmethod
    def of(cls, r: DrugRequest) -> DrugRequestType:
        status = ClinicRequestStatus(r.status)
        certificate = CertificateKind(r.certificate_kind) if r.certificate_kind else None
        return cls(
            id=r.id,
            number=r.upstream_id,
            kind=r.kind,
            title=service.TITLES[certificate] if certificate else "Продление рецепта",
            certificate_kind=CertificateKindEnum(r.certificate_kind) if r.certificate_kind else None,
            status=DrugRequestStatusEnum(r.status),
            status_label=status.label_ru,
            refusal_reason=r.refusal_reason,
            doctor_name=r.doctor_name,
            result_document_id=r.result_document_id,
            result_prescription_number=r.result_prescription_id,
            channel=r.channel,
            created_at=r.created_at,
            history=[
                DrugRequestStep(
                    status=DrugRequestStatusEnum(s["status"]),
                    status_label=ClinicRequestStatus(s["status"]).label_ru,
                    at=datetime.fromisoformat(s["at"]),
                    comment=s.get("comment"),
                )
                for s in r.history
            ],
        )


@strawberry.type(description="Заявка отправлена в поликлинику.")
class DrugRequestSubmitted:
    request: DrugRequestType


@strawberry.input(description="Заявка на справку или выписку.")
class CertificateRequestInput:
    kind: CertificateKindEnum
    purpose: str | None = strawberry.field(default=None, description="Куда нужна справка (необязательно).")
    tax_year: int | None = strawberry.field(default=None, description="Для налогового вычета: год оплаты.")


@strawberry.type(description="Заявки по одному каналу.")
class DrugRequestChannelCount:
    channel: str
    count: int


@strawberry.type(description="Заявки без визита за период по каналам (для персонала).")
class DrugRequestsKpi:
    start: datetime
    end: datetime
    total: int
    by_channel: list[DrugRequestChannelCount]


_COMMON = InvalidInput | IdempotencyKeyReused | NotAuthenticated | AccessDenied

PharmacyAvailabilityResult = Annotated[
    PharmacyAvailability | PrescriptionNotFound | DrugsNoSnils | DrugsServiceUnavailable | InvalidInput,
    strawberry.union("PharmacyAvailabilityResult"),
]
DrugEntitlementResult = Annotated[
    DrugEntitlement | DrugsNoSnils | DrugsServiceUnavailable, strawberry.union("DrugEntitlementResult")
]
PrescriptionListResult = Annotated[PrescriptionList | DrugsNoSnils, strawberry.union("PrescriptionListResult")]
DeferPrescriptionResult = Annotated[
    PrescriptionDeferred
    | PrescriptionNotFound
    | PrescriptionExpired
    | PrescriptionAlreadyDispensed
    | PrescriptionAlreadyDeferred
    | DrugsNoEntitlement
    | PharmacyUnavailable
    | DrugInStock
    | DrugsServiceUnavailable
    | _COMMON,
    strawberry.union("DeferPrescriptionResult"),
]
DrugRequestResult = Annotated[
    DrugRequestSubmitted
    | PrescriptionNotFound
    | RenewalNotAllowed
    | DrugRequestPending
    | DrugsNoSnils
    | DrugsServiceUnavailable
    | _COMMON,
    strawberry.union("DrugRequestResult"),
]
