"""What the drugs domain needs from the regional preferential-drug system (ЛЛО) and from the clinic's MIS.

**The regional ЛЛО system** (``protocols.md`` §7): availability services are regional and no federal
public API is known, so this contract is ours, JSON over HTTPS, in the shapes §7 records:

* beneficiaries (the federal register of people entitled to state social help, 178-ФЗ, and the regional
  registers): categories with a level (federal / regional), codes as НСИ 1.2.643.5.1.13.13.99.2.713 names
  them, validity, and the refusal of the social package (НСУ) for a year;
* prescriptions (form 148-1/у-04(л), order 1022н): series, number, barcode, issue date, validity
  15 / 30 / 90 days (Schedule II narcotic and psychotropic drugs 15), the drug by МНН and dosage, quantity,
  financing; status ``issued`` → ``partially_dispensed`` → ``dispensed`` | ``expired`` | ``deferred``,
  linked to the prescription СЭМД (141 preferential, 148 ordinary) and the dispensing СЭМД (140);
* pharmacies with stock by МНН and dosage, opening hours and coordinates;
* the deferred queue (отсроченное обслуживание) with due dates and a "drug arrived" event, read with the
  other changes from an ordered event feed (``GET /events?after=``).

**The clinic's MIS requests** (renewal of a chronic-disease prescription, certificates and extracts)
have no public protocol either: :class:`ClinicRequests` is modelled on the EPGU forms «Запись на
продление рецепта» and «Получение медицинской справки / выписки в электронном виде» (who asks, for whom,
what, the prescription or the certificate kind and its purpose), with the statuses EPGU shows
(submitted → in review → issued | refused with the doctor's reason) and the result: a new prescription,
or a СЭМД 166 «Медицинская справка» registered in РЭМД.

Errors, as in the other adapters: :class:`LloRefusal` subclasses are business answers (final), each with
a stable ``code`` and a Russian ``user_message``; :class:`LloTransportError` subclasses mean no usable
answer (retryable).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol, runtime_checkable

from integrations.common import errors as common

#: НСИ «Категории граждан, имеющих право на льготное лекарственное обеспечение» (the book the issue names;
#: its full official name is **unconfirmed**).
BENEFIT_CODES_OID = "1.2.643.5.1.13.13.99.2.713"


class BenefitLevel(enum.Enum):
    FEDERAL = "federal"  # the federal register (178-ФЗ): financed from the federal budget
    REGIONAL = "regional"  # a regional register (Постановление Правительства № 890): the regional budget


class PrescriptionStatus(enum.Enum):
    ISSUED = "issued"
    PARTIALLY_DISPENSED = "partially_dispensed"
    DISPENSED = "dispensed"
    EXPIRED = "expired"
    DEFERRED = "deferred"

    @property
    def label_ru(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def is_open(self) -> bool:
        """The pharmacy may still dispense on it."""
        return self in (PrescriptionStatus.ISSUED, PrescriptionStatus.PARTIALLY_DISPENSED, PrescriptionStatus.DEFERRED)


_STATUS_LABELS = {
    PrescriptionStatus.ISSUED: "Выписан",
    PrescriptionStatus.PARTIALLY_DISPENSED: "Отпущен частично",
    PrescriptionStatus.DISPENSED: "Отпущен",
    PrescriptionStatus.EXPIRED: "Срок действия истёк",
    PrescriptionStatus.DEFERRED: "На отсроченном обслуживании",
}


class Financing(enum.Enum):
    FEDERAL = "federal"
    REGIONAL = "regional"
    PERSONAL = "personal"  # an ordinary prescription: the person pays


class ClinicRequestKind(enum.Enum):
    RENEWAL = "renewal"
    CERTIFICATE = "certificate"


class CertificateKind(enum.Enum):
    """The certificates and extracts a clinic issues without a visit (the EPGU catalogue's most asked)."""

    DRIVING = "driving"  # the clinic's part of the driver's medical report (form 003-В/у, order 344н)
    SPORTS = "sports"  # admission to a sports section (order 1144н)
    SCHOOL = "school"  # for a school or a kindergarten
    OUTPATIENT_EXTRACT = "outpatient_extract"  # an extract from the outpatient record (form 027/у)
    TAX_DEDUCTION = "tax_deduction"  # payment for medical services, for the tax deduction (НК РФ ст. 219)


class ClinicRequestStatus(enum.Enum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    ISSUED = "issued"
    REFUSED = "refused"

    @property
    def label_ru(self) -> str:
        return _REQUEST_LABELS[self]

    @property
    def is_final(self) -> bool:
        return self in (ClinicRequestStatus.ISSUED, ClinicRequestStatus.REFUSED)


_REQUEST_LABELS = {
    ClinicRequestStatus.SUBMITTED: "Заявка отправлена в поликлинику",
    ClinicRequestStatus.IN_REVIEW: "Заявку рассматривает врач",
    ClinicRequestStatus.ISSUED: "Готово",
    ClinicRequestStatus.REFUSED: "Врач отказал",
}


# -- the register's answers ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Benefit:
    code: str  # НСИ 1.2.643.5.1.13.13.99.2.713
    name: str
    level: BenefitLevel
    valid_from: date
    valid_until: date | None  # None: for life (a permanent disability group)
    code_system: str = BENEFIT_CODES_OID


@dataclass(frozen=True, slots=True)
class NsuDecision:
    """The refusal (or not) of the drug part of the social package (НСУ) for one calendar year."""

    year: int
    refused: bool
    decided_on: date | None = None


@dataclass(frozen=True, slots=True)
class Beneficiary:
    snils: str
    benefits: tuple[Benefit, ...]
    nsu: tuple[NsuDecision, ...] = ()
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class Drug:
    mnn: str  # международное непатентованное наименование, e.g. «Метформин»
    dosage: str  # «1000 мг»
    form: str = "таблетки"
    narcotic_schedule: str | None = None  # "II" | "III" (Постановление № 681) or None


@dataclass(frozen=True, slots=True)
class Deferral:
    pharmacy_id: str
    registered_on: date
    due_on: date
    arrived_on: date | None = None


@dataclass(frozen=True, slots=True)
class PrescriptionSemd:
    prescription: str | None  # the РЭМД registry number of the СЭМД 141 / 148
    kind: str  # "141" | "148"
    dispensing: tuple[str, ...] = ()  # СЭМД 140, one per dispensing


@dataclass(frozen=True, slots=True)
class Prescription:
    id: str
    snils: str
    series: str
    number: str
    barcode: str
    issued_on: date
    valid_days: int  # 15 | 30 | 90
    drug: Drug
    quantity: int
    dispensed_quantity: int
    financing: Financing
    status: PrescriptionStatus
    semd: PrescriptionSemd
    benefit_code: str | None = None  # None: an ordinary prescription
    chronic: bool = False  # for a chronic disease: renewable without a visit
    doctor_name: str | None = None
    mo_name: str | None = None
    dosing: str | None = None
    deferral: Deferral | None = None

    @property
    def preferential(self) -> bool:
        return self.benefit_code is not None

    @property
    def valid_until(self) -> date:
        return self.issued_on + timedelta(days=self.valid_days - 1)


@dataclass(frozen=True, slots=True)
class OpeningHours:
    days: str  # "пн-пт" | "сб" | "вс" | "ежедневно"
    weekdays: tuple[int, ...]  # 0 = Monday
    opens: time
    closes: time  # 00:00 with opens 00:00: round the clock


@dataclass(frozen=True, slots=True)
class Pharmacy:
    id: str
    name: str
    address: str
    latitude: float
    longitude: float
    preferential: bool  # dispenses preferential (ЛЛО) drugs
    hours: tuple[OpeningHours, ...]
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class StockItem:
    pharmacy_id: str
    mnn: str
    dosage: str
    quantity: int
    updated_at: datetime


class LloEventKind(enum.Enum):
    ISSUED = "issued"
    PARTIALLY_DISPENSED = "partially_dispensed"
    DISPENSED = "dispensed"
    EXPIRED = "expired"
    DEFERRED = "deferred"
    DRUG_ARRIVED = "drug_arrived"


@dataclass(frozen=True, slots=True)
class LloEvent:
    seq: int
    kind: LloEventKind
    prescription_id: str
    snils: str
    at: datetime


@dataclass(frozen=True, slots=True)
class LloEventPage:
    events: tuple[LloEvent, ...]
    last: int  # the cursor to ask after next time


# -- the clinic's requests -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Applicant:
    """Who the request is for (EPGU: «Сведения о заявителе»)."""

    snils: str
    last_name: str
    first_name: str
    birth_date: date
    middle_name: str | None = None
    oms_number: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class ClinicRequestForm:
    kind: ClinicRequestKind
    applicant: Applicant
    prescription_id: str | None = None  # renewal: the prescription to renew
    certificate: CertificateKind | None = None
    purpose: str | None = None  # «для предъявления по месту требования», the sports section's name, ...
    tax_year: int | None = None  # tax deduction: the year paid
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class ClinicRequestStep:
    status: ClinicRequestStatus
    at: datetime
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class ClinicRequestInfo:
    id: str
    kind: ClinicRequestKind
    status: ClinicRequestStatus
    snils: str
    submitted_at: datetime
    updated_at: datetime
    history: tuple[ClinicRequestStep, ...]
    certificate: CertificateKind | None = None
    prescription_id: str | None = None
    refusal_reason: str | None = None  # the doctor's words
    result_prescription_id: str | None = None  # renewal: the new prescription
    result_registry_number: str | None = None  # certificate: the СЭМД 166 in РЭМД
    doctor_name: str | None = None


# -- errors ----------------------------------------------------------------------------------------


class LloError(common.UpstreamError):
    code = "llo.error"
    user_message = "Сервис льготного лекарственного обеспечения не смог обработать запрос. Попробуйте позже."


class LloRefusal(LloError, common.UpstreamRefusal):
    """A business answer of the upstream: ``upstream_code`` and its message as sent."""

    code = "llo.refused"
    user_message = "Запрос отклонён сервисом льготного лекарственного обеспечения."


class LloAccessDenied(LloRefusal):
    code = "llo.access_denied"


class LloBadRequest(LloRefusal):
    code = "llo.bad_request"


class NotBeneficiary(LloRefusal):
    code = "llo.not_beneficiary"
    user_message = "Вас нет в регистре граждан, имеющих право на льготное лекарственное обеспечение."


class PrescriptionNotFound(LloRefusal):
    code = "llo.prescription_not_found"
    user_message = "Рецепт не найден."


class PrescriptionExpired(LloRefusal):
    code = "llo.prescription_expired"
    user_message = "Срок действия рецепта истёк. Обратитесь к врачу за новым рецептом."


class AlreadyDispensed(LloRefusal):
    code = "llo.already_dispensed"
    user_message = "Лекарство по этому рецепту уже отпущено."


class NotPreferential(LloRefusal):
    code = "llo.not_preferential"
    user_message = "Отсроченное обслуживание доступно только по льготным рецептам."


class PharmacyNotFound(LloRefusal):
    code = "llo.pharmacy_not_found"
    user_message = "Аптека не найдена или не отпускает льготные лекарства."


class DrugInStock(LloRefusal):
    code = "llo.drug_in_stock"
    user_message = "Лекарство есть в наличии в этой аптеке: отсроченное обслуживание не нужно."


class AlreadyDeferred(LloRefusal):
    code = "llo.already_deferred"
    user_message = "Рецепт уже поставлен на отсроченное обслуживание."


class RenewalNotAllowed(LloRefusal):
    code = "llo.renewal_not_allowed"
    user_message = "Этот рецепт нельзя продлить без приёма врача."


class RequestNotFound(LloRefusal):
    code = "llo.request_not_found"
    user_message = "Заявка не найдена."


class RequestPending(LloRefusal):
    code = "llo.request_pending"
    user_message = "Такая заявка уже рассматривается поликлиникой."


class LloTransportError(LloError, common.UpstreamTransportError):
    code = "llo.unavailable"
    user_message = (
        "Сервис льготного лекарственного обеспечения сейчас недоступен, ничего не изменено. "
        "Повторите попытку через несколько минут."
    )


class LloTimeout(LloTransportError, common.UpstreamTimeout):
    code = "llo.timeout"


class LloMalformedReply(LloTransportError, common.UpstreamMalformedReply):
    code = "llo.malformed_reply"


class LloUnavailable(LloTransportError, common.UpstreamUnavailable):
    """HTTP error status or connection failure."""


# -- the ports -------------------------------------------------------------------------------------


@runtime_checkable
class DrugRegistry(Protocol):
    """The regional ЛЛО system."""

    async def beneficiary(self, snils: str) -> Beneficiary | None:
        """The person's record in the registers (None: not a beneficiary)."""
        ...

    async def prescriptions(self, snils: str) -> list[Prescription]:
        """The person's e-prescriptions, preferential and ordinary, newest first."""
        ...

    async def prescription(self, prescription_id: str) -> Prescription: ...

    async def pharmacies(self) -> list[Pharmacy]: ...

    async def stock(self, mnn: str, dosage: str) -> list[StockItem]:
        """The pharmacies that have the drug (quantity > 0)."""
        ...

    async def defer(self, prescription_id: str, pharmacy_id: str, *, idempotency_key: str) -> Prescription:
        """Put the prescription on deferred service at the pharmacy; a repeated key returns the first answer."""
        ...

    async def events(self, *, after: int, limit: int = 100) -> LloEventPage:
        """The changes after cursor ``after``, oldest first."""
        ...


@runtime_checkable
class ClinicRequests(Protocol):
    """The clinic MIS's requests without a visit (renewals, certificates)."""

    async def submit(self, form: ClinicRequestForm, *, idempotency_key: str) -> ClinicRequestInfo: ...

    async def get_request(self, request_id: str) -> ClinicRequestInfo: ...

    async def list_requests(self, *, snils: str) -> list[ClinicRequestInfo]: ...
