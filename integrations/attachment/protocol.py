"""What the attachment domain needs from the upstream that keeps attachment (прикрепление к МО).

**No public federal wire protocol exists** for «Прикрепление к медицинской организации»
(``protocols.md`` §2.3). This contract is ours, JSON over HTTPS, and is *modelled on*:

* the EPGU application form «Прикрепление к поликлинике» / the application of the order of the
  Ministry of Health N 406н (26.04.2012, «Порядок выбора гражданином медицинской организации»): the
  citizen's name, sex, birth date, SNILS, the OMS policy, the registration and residence addresses, a
  phone, the legal representative for a child, the chosen organisation and (optionally) the doctor;
* the ЕРЗЛ (единый регистр застрахованных лиц, ГИС ОМС) attachment record: the single policy number
  (ЕНП), the organisation (code and ФРМО OID), the area (участок) and its doctor, the date and the way
  of attachment (territorial or by application).

A regional deployment puts an adapter with the same :class:`AttachmentRegistry` port in front of its
real system (a regional MIS, the ТФОМС register, a КУ ФЭР extension).

Application statuses: ``submitted`` → ``accepted`` → ``completed``, or ``rejected`` (from
``submitted`` or ``accepted``) with a :class:`RejectionReason` the clinic gives. The domain checks the
323-ФЗ art. 21 rules before sending; the clinic checks them again and may still reject.

Errors: :class:`AttachmentRefusal` subclasses are business answers (final); :class:`AttachmentTransportError`
subclasses mean no usable answer (retryable; after a timeout on ``submit`` the same idempotency key
returns the application if it was created).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from integrations.common import errors as common
from integrations.fer.areas import AreaType


class AttachmentMethod(enum.Enum):
    """How the person came to be attached (ЕРЗЛ: способ прикрепления)."""

    TERRITORIAL = "territorial"  # по месту регистрации / the initial register
    APPLICATION = "application"  # по заявлению (выбор МО)


class ApplicationStatus(enum.Enum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    REJECTED = "rejected"

    @property
    def label_ru(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def is_final(self) -> bool:
        return self in (ApplicationStatus.COMPLETED, ApplicationStatus.REJECTED)


_STATUS_LABELS = {
    ApplicationStatus.SUBMITTED: "Заявление отправлено в медицинскую организацию",
    ApplicationStatus.ACCEPTED: "Заявление принято к рассмотрению",
    ApplicationStatus.COMPLETED: "Вы прикреплены к медицинской организации",
    ApplicationStatus.REJECTED: "В прикреплении отказано",
}


class RejectionReason(enum.Enum):
    """The reasons clinics give for refusing an attachment application."""

    ALREADY_CHANGED_THIS_YEAR = "already_changed_this_year"
    AGE_GROUP_NOT_SERVED = "age_group_not_served"
    AREA_OVERLOADED = "area_overloaded"
    NOT_INSURED = "not_insured"
    DATA_MISMATCH = "data_mismatch"
    REPRESENTATIVE_NOT_CONFIRMED = "representative_not_confirmed"
    ALREADY_ATTACHED = "already_attached"
    NOT_PRIMARY_CARE = "not_primary_care"
    DOCUMENTS_REQUIRED = "documents_required"
    OTHER = "other"

    @property
    def message_ru(self) -> str:
        return REJECTION_MESSAGES[self]


REJECTION_MESSAGES = {
    RejectionReason.ALREADY_CHANGED_THIS_YEAR: (
        "Медицинскую организацию можно выбирать не чаще одного раза в год, кроме случая смены места жительства "
        "(ст. 21 Федерального закона № 323-ФЗ)."
    ),
    RejectionReason.AGE_GROUP_NOT_SERVED: (
        "Медицинская организация не оказывает первичную медико-санитарную помощь пациентам этого возраста."
    ),
    RejectionReason.AREA_OVERLOADED: (
        "Превышена допустимая численность прикреплённого населения на участке. Выберите другую поликлинику."
    ),
    RejectionReason.NOT_INSURED: "Полис ОМС не найден в едином регистре застрахованных лиц или недействителен.",
    RejectionReason.DATA_MISMATCH: "Данные заявления не совпадают с данными регистра застрахованных лиц.",
    RejectionReason.REPRESENTATIVE_NOT_CONFIRMED: "Не подтверждены полномочия законного представителя.",
    RejectionReason.ALREADY_ATTACHED: "Пациент уже прикреплён к этой медицинской организации.",
    RejectionReason.NOT_PRIMARY_CARE: "Медицинская организация не осуществляет прикрепление граждан.",
    RejectionReason.DOCUMENTS_REQUIRED: ("Требуется личное обращение в регистратуру с паспортом, полисом ОМС и СНИЛС."),
    RejectionReason.OTHER: "Медицинская организация отказала в прикреплении.",
}


# -- the form (EPGU) -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdentityDocument:
    kind: str  # "passport" | "birth_certificate" | other ФНСИ document kinds
    series: str | None
    number: str


@dataclass(frozen=True, slots=True)
class PersonData:
    """The citizen the application is for (EPGU: «Сведения о гражданине»)."""

    last_name: str
    first_name: str
    birth_date: date
    sex: str  # "M" | "F"
    oms_number: str  # ЕНП, the single-format policy number
    snils: str | None = None
    middle_name: str | None = None
    phone: str | None = None
    email: str | None = None
    document: IdentityDocument | None = None


@dataclass(frozen=True, slots=True)
class Representative:
    """The legal representative who applies for a child (EPGU: «Сведения о законном представителе»)."""

    last_name: str
    first_name: str
    snils: str
    relation: str  # "parent" | "guardian"
    middle_name: str | None = None
    document: IdentityDocument | None = None


@dataclass(frozen=True, slots=True)
class ApplicationForm:
    person: PersonData
    mo_id: str  # the chosen organisation
    registration_address: str
    residence_address: str | None = None
    change_of_residence: bool = False  # lifts the once-a-year limit (323-ФЗ art. 21)
    representative: Representative | None = None
    doctor_id: str | None = None  # the chosen area doctor, when the person names one
    comment: str | None = None


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttachmentRecord:
    """The ЕРЗЛ attachment record of one insured person."""

    oms_number: str
    mo_id: str
    mo_oid: str | None
    mo_name: str | None
    area_number: str | None
    area_type: AreaType | None
    doctor_id: str | None
    doctor_snils: str | None
    doctor_name: str | None
    attached_on: date
    method: AttachmentMethod


@dataclass(frozen=True, slots=True)
class StatusStep:
    status: ApplicationStatus
    at: datetime
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class ApplicationInfo:
    id: str
    status: ApplicationStatus
    mo_id: str
    oms_number: str
    submitted_at: datetime
    updated_at: datetime
    history: tuple[StatusStep, ...]
    rejection_reason: RejectionReason | None = None
    rejection_comment: str | None = None
    attached_on: date | None = None  # set when completed


# -- errors --------------------------------------------------------------------------------------


class AttachmentError(common.UpstreamError):
    code = "attachment.error"
    user_message = "Не удалось обработать заявление о прикреплении. Попробуйте позже."


class AttachmentRefusal(AttachmentError, common.UpstreamRefusal):
    """A business answer of the upstream: ``upstream_code`` and its message as sent."""

    code = "attachment.refused"
    user_message = "Заявление о прикреплении не принято. Обратитесь в регистратуру выбранной поликлиники."


class AttachmentAccessDenied(AttachmentRefusal):
    code = "attachment.access_denied"
    user_message = "Сервис прикрепления отклонил подключение. Попробуйте позже."


class AttachmentBadRequest(AttachmentRefusal):
    code = "attachment.bad_request"
    user_message = "Заявление заполнено не полностью. Проверьте данные и отправьте снова."


class PersonNotInsured(AttachmentRefusal):
    code = "attachment.not_insured"
    user_message = (
        "Полис ОМС не найден в регистре застрахованных лиц. Проверьте номер полиса или обратитесь в страховую."
    )


class OrganisationNotFound(AttachmentRefusal):
    code = "attachment.organisation_not_found"
    user_message = "Выбранная медицинская организация не найдена."


class ApplicationPending(AttachmentRefusal):
    code = "attachment.application_pending"
    user_message = "У вас уже есть заявление о прикреплении на рассмотрении. Дождитесь ответа поликлиники."


class ApplicationNotFound(AttachmentRefusal):
    code = "attachment.application_not_found"
    user_message = "Заявление о прикреплении не найдено."


class AttachmentTransportError(AttachmentError, common.UpstreamTransportError):
    code = "attachment.unavailable"
    user_message = (
        "Сервис прикрепления к поликлинике сейчас недоступен, заявление не отправлено. Повторите попытку позже."
    )


class AttachmentTimeout(AttachmentTransportError, common.UpstreamTimeout):
    code = "attachment.timeout"
    user_message = (
        "Сервис прикрепления не ответил вовремя. Проверьте статус заявления через несколько минут, прежде чем "
        "отправлять его снова."
    )


class AttachmentMalformedReply(AttachmentTransportError, common.UpstreamMalformedReply):
    code = "attachment.malformed_reply"


class AttachmentUnavailable(AttachmentTransportError, common.UpstreamUnavailable):
    """HTTP error status or connection failure."""


# -- the port ------------------------------------------------------------------------------------


@runtime_checkable
class AttachmentRegistry(Protocol):
    async def get_attachment(self, oms_number: str) -> AttachmentRecord | None:
        """The person's current attachment (None: insured but attached nowhere); PersonNotInsured otherwise."""
        ...

    async def submit(self, form: ApplicationForm, *, idempotency_key: str) -> ApplicationInfo:
        """Send an application; a repeated ``idempotency_key`` returns the first application."""
        ...

    async def get_application(self, application_id: str) -> ApplicationInfo: ...

    async def list_applications(
        self, *, oms_number: str | None = None, changed_since: datetime | None = None
    ) -> list[ApplicationInfo]:
        """Applications of a person and/or changed since a moment (the periodic sync)."""
        ...
