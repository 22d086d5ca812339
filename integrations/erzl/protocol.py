"""What the insurance domain needs from the register of insured persons (ЕРЗЛ, its regional segment) and
the insurer side of OMS: the policy record, the insurers of the region, the billed-care feed and its
disputes, and the applications to change insurer.

**None of these exchanges is public** (``protocols.md`` §6). This contract is ours, JSON over HTTPS, and
each part says what it is *modelled on*:

* **the policy record** (:class:`PolicyRecord`, :meth:`InsuranceRegister.find_policy`): the ЕРЗЛ record
  the digital policy is since 1 Dec 2022 (Правила ОМС, приказ 108н, п. 28: «уникальная
  последовательность символов в машиночитаемом виде»): ЕНП, status, dates, region (ОКАТО / НСИ
  1.2.643.5.1.13.13.99.2.20), the insurer (name, ОГРН, code of НСИ 1.2.643.5.1.13.13.99.2.183) and the
  attached clinic's ФРМО OID, the record shape of ``protocols.md`` §6. The search is by SNILS or by the
  ESIA person and needs the person's consent to the Минцифры–ФФОМС exchange, as on EPGU («Получите данные
  о своём полисе ОМС»); the register may answer "not found yet" with a moment to retry (on EPGU the
  answer can take days): :class:`PolicyPending`.
* **the insurers of the region** (:class:`Insurer`): the register of СМО (реестр страховых медицинских
  организаций) with contacts and hotline, and whether an insurer is leaving the region's OMS (its
  contract on financial provision of OMS ends: one of the art. 16 exceptions).
* **the billed-care feed** (:class:`BilledService`): «сведения об оказанных медицинских услугах и их
  стоимости» from the TFOMS invoice registers (счета-реестры), the service the ФФОМС letter of
  07.02.2020 N 1693/91/и gives technical requirements for (not public): date, clinic, service code and
  name (номенклатура медицинских услуг, приказ 804н), diagnosis (МКБ-10), cost, case id, payment status.
* **appeals** (:class:`AppealInfo`): a dispute of a billed service («я не получал эту услугу») or a
  complaint about quality or access to care, addressed to the insurer or the TFOMS; modelled on the
  обращения of 59-ФЗ («О порядке рассмотрения обращений граждан»): registered, answered within 30 days
  (59-ФЗ art. 12 ч. 1), reopened once by the citizen if unsatisfied.
* **insurer change** (:class:`ChangeInfo`): the EPGU «Заявление о выборе (замене) страховой медицинской
  организации» processed by the TFOMS and the new insurer: submitted → accepted (a temporary certificate,
  временное свидетельство) → completed, or rejected.

A regional deployment puts an adapter with the same :class:`InsuranceRegister` port in front of its real
systems (the TFOMS portal, the insurer's API).

Errors: :class:`ErzlRefusal` subclasses are business answers (final); :class:`ErzlTransportError`
subclasses mean no usable answer (retryable; a timed-out ``submit_*`` repeated with the same idempotency
key returns what was created).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from integrations.common import errors as common


class PolicyStatus(enum.Enum):
    ACTIVE = "active"
    CLOSED = "closed"

    @property
    def label_ru(self) -> str:
        return "Действует" if self is PolicyStatus.ACTIVE else "Недействителен"


@dataclass(frozen=True, slots=True)
class Insurer:
    """A СМО of the region's register."""

    code: str  # НСИ 1.2.643.5.1.13.13.99.2.183 (the insurer's code, F002)
    name: str
    ogrn: str
    phone: str  # the insurer's hotline (контакт-центр)
    website: str | None = None
    address: str | None = None
    exiting_on: date | None = None  # its OMS contract in the region ends (326-ФЗ art. 16: change allowed)


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    """One ЕРЗЛ record of an insured person (the digital policy)."""

    enp: str
    status: PolicyStatus
    start_date: date
    end_date: date | None
    region: str  # ОКАТО code of the region of insurance
    insurer: Insurer
    attachment_mo_oid: str | None  # ФРМО OID of the attached clinic


@dataclass(frozen=True, slots=True)
class PolicyFound:
    record: PolicyRecord
    history: tuple[PolicyRecord, ...]  # earlier records (other insurers), newest first


@dataclass(frozen=True, slots=True)
class PolicyPending:
    """The register accepted the search but has no answer yet: ask again from ``retry_after``."""

    retry_after: datetime


PolicyLookup = PolicyFound | PolicyPending


class PaymentStatus(enum.Enum):
    PAID = "paid"
    PENDING = "pending"  # in a register not yet paid
    REJECTED = "rejected"  # refused by the controls (МЭК/МЭЭ)

    @property
    def label_ru(self) -> str:
        return {"paid": "Оплачено", "pending": "На оплате", "rejected": "Не оплачено (отклонено при контроле)"}[
            self.value
        ]


class CareKind(enum.Enum):
    AMBULATORY = "ambulatory"
    DISPANSERIZATION = "dispanserization"  # диспансеризация / профилактический осмотр
    DISPENSARY = "dispensary"  # диспансерное наблюдение
    DAY_HOSPITAL = "day_hospital"
    HOSPITAL = "hospital"
    EMERGENCY = "emergency"

    @property
    def label_ru(self) -> str:
        return _CARE_LABELS[self]


_CARE_LABELS = {
    CareKind.AMBULATORY: "Амбулаторная помощь",
    CareKind.DISPANSERIZATION: "Диспансеризация, профилактический осмотр",
    CareKind.DISPENSARY: "Диспансерное наблюдение",
    CareKind.DAY_HOSPITAL: "Дневной стационар",
    CareKind.HOSPITAL: "Стационар",
    CareKind.EMERGENCY: "Скорая медицинская помощь",
}


@dataclass(frozen=True, slots=True)
class BilledService:
    """One billed service of an insured case (a row of the invoice register)."""

    case_id: str
    service_date: date
    mo_oid: str
    mo_name: str
    service_code: str
    service_name: str
    diagnosis_code: str
    diagnosis_name: str
    care_kind: CareKind
    cost: Decimal  # roubles
    payment_status: PaymentStatus


class AppealKind(enum.Enum):
    DISPUTE = "dispute"  # «я не получал эту услугу»
    COMPLAINT = "complaint"  # quality of, or access to, care


class AppealStatus(enum.Enum):
    REGISTERED = "registered"
    IN_REVIEW = "in_review"
    ANSWERED = "answered"
    REOPENED = "reopened"
    CLOSED = "closed"

    @property
    def label_ru(self) -> str:
        return _APPEAL_LABELS[self]

    @property
    def is_open(self) -> bool:
        return self in (AppealStatus.REGISTERED, AppealStatus.IN_REVIEW, AppealStatus.REOPENED)


_APPEAL_LABELS = {
    AppealStatus.REGISTERED: "Обращение зарегистрировано",
    AppealStatus.IN_REVIEW: "Обращение рассматривается",
    AppealStatus.ANSWERED: "Получен ответ",
    AppealStatus.REOPENED: "Обращение возобновлено",
    AppealStatus.CLOSED: "Обращение закрыто",
}


@dataclass(frozen=True, slots=True)
class AppealForm:
    enp: str
    kind: AppealKind
    category: str
    addressee: str  # "smo" | "tfoms"
    description: str
    case_id: str | None = None
    attachments: tuple[str, ...] = ()  # titles of the documents sent with it
    contact_phone: str | None = None


@dataclass(frozen=True, slots=True)
class AppealStep:
    status: AppealStatus
    at: datetime
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class AppealInfo:
    id: str
    kind: AppealKind
    status: AppealStatus
    registered_at: datetime
    due_on: date  # the answer's deadline
    history: tuple[AppealStep, ...]
    answer: str | None = None
    upheld: bool | None = None  # the answer agrees with the citizen (a service not received is removed)


class ChangeReason(enum.Enum):
    """Why an insurer change is asked for (326-ФЗ art. 16 ч. 2 п. 3)."""

    ORDINARY = "ordinary"  # once a calendar year, by 1 November
    CHANGE_OF_RESIDENCE = "change_of_residence"
    INSURER_EXIT = "insurer_exit"  # the insurer's OMS contract ends
    FIRST_CHOICE = "first_choice"  # no insurer yet

    @property
    def label_ru(self) -> str:
        return _REASON_LABELS[self]


_REASON_LABELS = {
    ChangeReason.ORDINARY: "Замена страховой компании (раз в год)",
    ChangeReason.CHANGE_OF_RESIDENCE: "Смена места жительства",
    ChangeReason.INSURER_EXIT: "Страховая компания прекращает работу в ОМС региона",
    ChangeReason.FIRST_CHOICE: "Первичный выбор страховой компании",
}


class ChangeStatus(enum.Enum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    REJECTED = "rejected"

    @property
    def label_ru(self) -> str:
        return _CHANGE_LABELS[self]

    @property
    def is_final(self) -> bool:
        return self in (ChangeStatus.COMPLETED, ChangeStatus.REJECTED)


_CHANGE_LABELS = {
    ChangeStatus.SUBMITTED: "Заявление отправлено",
    ChangeStatus.ACCEPTED: "Заявление принято, выдано временное свидетельство",
    ChangeStatus.COMPLETED: "Страховая компания заменена",
    ChangeStatus.REJECTED: "В замене страховой компании отказано",
}


@dataclass(frozen=True, slots=True)
class ChangeForm:
    enp: str
    insurer_code: str
    reason: ChangeReason
    last_name: str
    first_name: str
    birth_date: date
    middle_name: str | None = None
    snils: str | None = None
    new_address: str | None = None


@dataclass(frozen=True, slots=True)
class TemporaryCertificate:
    number: str
    valid_until: date


@dataclass(frozen=True, slots=True)
class ChangeStep:
    status: ChangeStatus
    at: datetime
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeInfo:
    id: str
    status: ChangeStatus
    insurer_code: str
    reason: ChangeReason
    submitted_at: datetime
    history: tuple[ChangeStep, ...]
    certificate: TemporaryCertificate | None = None
    rejection: str | None = None


# -- errors --------------------------------------------------------------------------------------


class ErzlError(common.UpstreamError):
    code = "erzl.error"
    user_message = "Сервис ОМС не смог обработать запрос. Попробуйте позже."


class ErzlRefusal(ErzlError, common.UpstreamRefusal):
    """A business answer of the upstream: ``upstream_code`` and its message as sent."""

    code = "erzl.refused"
    user_message = "Запрос в систему ОМС не принят."


class ErzlAccessDenied(ErzlRefusal):
    code = "erzl.access_denied"
    user_message = "Сервис ОМС отклонил подключение. Попробуйте позже."


class ErzlBadRequest(ErzlRefusal):
    code = "erzl.bad_request"
    user_message = "Запрос в систему ОМС заполнен неверно."


class ConsentRequired(ErzlRefusal):
    code = "erzl.consent_required"
    user_message = "Нужно согласие на получение сведений о полисе ОМС из регистра застрахованных лиц."


class PersonNotFound(ErzlRefusal):
    code = "erzl.not_found"
    user_message = "Полис ОМС не найден в едином регистре застрахованных лиц."


class CaseNotFound(ErzlRefusal):
    code = "erzl.case_not_found"
    user_message = "Случай оказания медицинской помощи не найден."


class AppealNotFound(ErzlRefusal):
    code = "erzl.appeal_not_found"
    user_message = "Обращение не найдено."


class DisputeExists(ErzlRefusal):
    code = "erzl.dispute_exists"
    user_message = "По этой услуге уже есть обращение на рассмотрении."


class ReopenNotAllowed(ErzlRefusal):
    code = "erzl.reopen_not_allowed"
    user_message = "Обращение можно возобновить один раз, после ответа."


class InsurerNotFound(ErzlRefusal):
    code = "erzl.insurer_not_found"
    user_message = "Страховая компания не найдена в реестре СМО региона."


class ChangePending(ErzlRefusal):
    code = "erzl.change_pending"
    user_message = "Заявление о замене страховой компании уже рассматривается."


class ChangeNotAllowed(ErzlRefusal):
    """The register applies 326-ФЗ art. 16 itself: the change is not allowed now."""

    code = "erzl.change_not_allowed"
    user_message = "Замена страховой компании сейчас невозможна (ст. 16 Федерального закона № 326-ФЗ)."


class ChangeNotFound(ErzlRefusal):
    code = "erzl.change_not_found"
    user_message = "Заявление о замене страховой компании не найдено."


class ErzlTransportError(ErzlError, common.UpstreamTransportError):
    code = "erzl.unavailable"
    user_message = "Сервис ОМС сейчас недоступен, ничего не отправлено. Повторите попытку позже."


class ErzlTimeout(ErzlTransportError, common.UpstreamTimeout):
    code = "erzl.timeout"
    user_message = (
        "Сервис ОМС не ответил вовремя. Проверьте состояние через несколько минут, прежде чем отправлять снова."
    )


class ErzlMalformedReply(ErzlTransportError, common.UpstreamMalformedReply):
    code = "erzl.malformed_reply"


class ErzlUnavailable(ErzlTransportError, common.UpstreamUnavailable):
    """HTTP error status or connection failure."""


# -- the port ------------------------------------------------------------------------------------


@runtime_checkable
class InsuranceRegister(Protocol):
    async def find_policy(
        self, *, consent_id: str, snils: str | None = None, esia_oid: str | None = None
    ) -> PolicyLookup:
        """The person's policy record (and history) by SNILS or ESIA person; :class:`PolicyPending` when
        the register has no answer yet; :class:`PersonNotFound`, :class:`ConsentRequired` refusals."""
        ...

    async def list_insurers(self, region: str) -> list[Insurer]: ...

    async def billed_services(self, enp: str, *, date_from: date, date_to: date) -> list[BilledService]:
        """The billed services of the person in [date_from, date_to], newest first."""
        ...

    async def submit_appeal(self, form: AppealForm, *, idempotency_key: str) -> AppealInfo: ...

    async def get_appeal(self, appeal_id: str) -> AppealInfo: ...

    async def reopen_appeal(self, appeal_id: str, *, comment: str, idempotency_key: str) -> AppealInfo: ...

    async def submit_change(self, form: ChangeForm, *, idempotency_key: str) -> ChangeInfo: ...

    async def get_change(self, change_id: str) -> ChangeInfo: ...
