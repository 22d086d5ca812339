"""What the home-visit domain needs from the N3 HomeCallService (вызов врача на дом).

The domain depends on :class:`HomeCallHub` only; :class:`integrations.homecall.client.HomeCallClient`
implements it over SOAP (``protocols.md`` §3.1). The flow is bound by a session id:
``validate`` (ValidateHomeCall: the hub identifies the patient, picks the area doctor and opens a
session) → ``get_slots`` (GetHomeCallAvailableSlots) → ``create`` (CreateHomeCallRequest). Later
``update`` (UpdateHomeCallRequest: our side cancels or comments), ``search`` (SearchHomeCallRequests:
the periodic sync) and the MIS's push ``HandleHomeCallRequestChanged``, which
:mod:`integrations.homecall.push` parses into a :class:`HomeCallChanged`.

The patient who needs the doctor (``homeCallPatient``) and the applicant who calls (``applicant``: the
patient, a parent, a relative or a 122 operator's caller) are separate; the address is structured
(region … apartment, ``CodKladrFias``, ``AddressLine``).

Times are the hub's: naive ``datetime`` values in the region's local time.

``HomeCallStatus`` numbers are not in the public client (``protocols.md``: **unconfirmed**), so the
wire numbers live in a :class:`StatusTable` that client, simulator and push parser share; the default
table is the simulator's.

Errors, as in the booking hub adapter, form two families:

* :class:`HomeCallRefusal` and subclasses: the hub's business answer (``ErrorList``), final for the
  request; each class has a stable ``code`` and a Russian ``user_message`` telling the person what to do.
* :class:`HomeCallTransportError` subclasses: no usable answer (timeout, malformed reply, SOAP Fault,
  HTTP failure); retryable. After :class:`HomeCallTimeout` on ``create`` the request may exist: the
  caller reconciles with ``search`` before retrying.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Protocol, runtime_checkable

from integrations.common import errors as common
from integrations.fer.areas import AreaType


class HomeCallStatus(enum.Enum):
    """A home-visit request's status as the domain reads it; the wire number comes from a StatusTable."""

    NEW = "new"  # accepted by the clinic, no doctor yet
    DOCTOR_ASSIGNED = "doctor_assigned"
    ON_THE_WAY = "on_the_way"
    VISITED = "visited"
    CANCELLED_BY_PATIENT = "cancelled_by_patient"
    CANCELLED_BY_MO = "cancelled_by_mo"

    @property
    def label_ru(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES

    @property
    def is_final(self) -> bool:
        return not self.is_active


ACTIVE_STATUSES = frozenset({HomeCallStatus.NEW, HomeCallStatus.DOCTOR_ASSIGNED, HomeCallStatus.ON_THE_WAY})

_STATUS_LABELS = {
    HomeCallStatus.NEW: "Вызов принят",
    HomeCallStatus.DOCTOR_ASSIGNED: "Назначен врач",
    HomeCallStatus.ON_THE_WAY: "Врач выехал к пациенту",
    HomeCallStatus.VISITED: "Врач посетил пациента",
    HomeCallStatus.CANCELLED_BY_PATIENT: "Вызов отменён заявителем",
    HomeCallStatus.CANCELLED_BY_MO: "Вызов отменён медицинской организацией",
}


@dataclass(frozen=True)
class StatusTable:
    """``HomeCallStatus`` ↔ the wire integer (``homeCallStatus`` / ``HomeCallStatus``)."""

    codes: Mapping[HomeCallStatus, int] = field(
        default_factory=lambda: {
            HomeCallStatus.NEW: 1,
            HomeCallStatus.DOCTOR_ASSIGNED: 2,
            HomeCallStatus.ON_THE_WAY: 3,
            HomeCallStatus.VISITED: 4,
            HomeCallStatus.CANCELLED_BY_PATIENT: 5,
            HomeCallStatus.CANCELLED_BY_MO: 6,
        }
    )

    def __post_init__(self) -> None:
        missing = set(HomeCallStatus) - set(self.codes)
        if missing:
            raise ValueError(f"the status table has no code for {sorted(s.name for s in missing)}")
        if len(set(self.codes.values())) != len(self.codes):
            raise ValueError("two statuses share a wire code")

    def code(self, status: HomeCallStatus) -> int:
        return self.codes[status]

    def status(self, code: int) -> HomeCallStatus:
        for status, value in self.codes.items():
            if value == code:
                return status
        raise ValueError(f"неизвестный код статуса вызова {code}")


DEFAULT_STATUS_TABLE = StatusTable()


class HomeCallErrorCode(enum.IntEnum):
    """``ErrorList/Error/IdError`` codes of the simulator and the client's default map.

    4015, 4025 and 5403 are the codes the Softrust MIS gives for the same refusals
    (``protocols.md`` §3.1); the HomeCallService catalogue itself is closed, so the others are this
    simulator's and a deployment passes its own ``error_map``.
    """

    INTERNAL = 5000
    ACCESS_DENIED = 5403  # «Код авторизации не верен»
    BAD_REQUEST = 4001
    LPU_NOT_FOUND = 4004
    SERVICE_DISABLED = 4010  # the clinic (or the region) does not take home calls online
    ACTIVE_CALL_EXISTS = 4015  # «У вас уже есть активный вызов врача на дом»
    PATIENT_NOT_FOUND = 4020
    PATIENT_NOT_ATTACHED = 4021
    NO_ADDRESS = 4025  # «Не указан адрес»
    NO_PHONE = 4026
    NO_REASON = 4027
    SESSION_NOT_FOUND = 4030
    SLOT_NOT_AVAILABLE = 4031
    NO_DOCTOR_ON_DUTY = 4032
    REQUEST_NOT_FOUND = 4040
    STATUS_CHANGE_NOT_ALLOWED = 4041


# -- request parts -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HomeCallPatient:
    """``homeCallPatient``: who needs the doctor."""

    last_name: str
    first_name: str
    birth_date: date
    oms_number: str  # OMSNumber (a single-format policy has no series)
    middle_name: str | None = None
    sex: str | None = None  # "M" | "F"
    snils: str | None = None
    oms_series: str | None = None


@dataclass(frozen=True, slots=True)
class Applicant:
    """``applicant``: who calls; the patient, a parent or another relative, a caller of the 122 line."""

    last_name: str
    first_name: str
    mobile_phone: str
    middle_name: str | None = None
    email: str | None = None
    snils: str | None = None


@dataclass(frozen=True, slots=True)
class Address:
    """``address``: where the doctor goes. ``kladr_fias_code`` is ``CodKladrFias`` (FIAS GUID or KLADR code)."""

    region: str | None = None
    area: str | None = None  # район
    city: str | None = None
    city_area: str | None = None  # район города
    place: str | None = None  # населённый пункт
    street: str | None = None
    house: str | None = None
    housing: str | None = None  # корпус
    structure: str | None = None  # строение
    apartment: str | None = None
    post_index: str | None = None
    kladr_fias_code: str | None = None
    address_line: str | None = None  # the whole address as one line
    comment: str | None = None  # подъезд, этаж, домофон
    additional_area: str | None = None
    additional_street: str | None = None

    @property
    def is_empty(self) -> bool:
        return all(not (getattr(self, f.name) or "").strip() for f in fields(self) if f.name != "comment")

    @property
    def is_locatable(self) -> bool:
        """Enough to find the door: a whole address line, or a house on a street or in a place."""
        if (self.address_line or "").strip():
            return True
        return bool((self.house or "").strip()) and bool((self.street or self.place or self.city or "").strip())

    def one_line(self) -> str:
        if (self.address_line or "").strip():
            return (self.address_line or "").strip()
        parts = [
            self.region,
            self.area,
            self.city,
            self.place,
            self.street,
            f"д. {self.house}" if self.house else None,
            f"корп. {self.housing}" if self.housing else None,
            f"стр. {self.structure}" if self.structure else None,
            f"кв. {self.apartment}" if self.apartment else None,
        ]
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class TimeInterval:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("the interval ends before it starts")


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HomeCallSlot:
    """A visit window (``Slot{IdSlot, VisitTime, Duration}``): the doctor comes within it."""

    id: str
    visit_time: datetime
    duration_minutes: int

    @property
    def end(self) -> datetime:
        return self.visit_time + timedelta(minutes=self.duration_minutes)


@dataclass(frozen=True, slots=True)
class HomeCallDoctor:
    """``HomeCallDoctor``: the area doctor who will come (or on duty for the area)."""

    id: str
    name: str
    snils: str | None
    area: str | None  # the area's number
    area_type: AreaType | None
    comment: str | None = None
    free_tickets: int | None = None
    nearest_date: datetime | None = None
    last_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class HomeCallValidation:
    """``ValidateHomeCallResult``: the session to go on with, the patient's id, the doctor and windows."""

    session_id: str
    patient_id: str
    doctor_position_id: str | None
    doctor: HomeCallDoctor | None
    slots: tuple[HomeCallSlot, ...]


@dataclass(frozen=True, slots=True)
class HomeCallCreated:
    request_id: str
    session_id: str


@dataclass(frozen=True, slots=True)
class HomeCallRequestInfo:
    """``HomeCallRequest`` as ``SearchHomeCallRequests`` lists it and the MIS pushes it."""

    request_id: str
    mo_id: str
    status: HomeCallStatus
    status_code: int
    created_at: datetime
    updated_at: datetime
    patient_id: str | None = None
    session_id: str | None = None
    nsi_mo_id: str | None = None  # IdNsiLpu (GUID)
    reason: str | None = None
    comment: str | None = None
    slot: HomeCallSlot | None = None
    doctor: HomeCallDoctor | None = None
    doctor_position_id: str | None = None
    patient: HomeCallPatient | None = None
    applicant: Applicant | None = None
    address: Address | None = None
    member_guid: str | None = None  # the hub member (client) that created the request


@dataclass(frozen=True, slots=True)
class HomeCallSearch:
    count: int
    requests: tuple[HomeCallRequestInfo, ...]


@dataclass(frozen=True, slots=True)
class HomeCallFilter:
    """``SearchHomeCallRequestFilter``; unset members do not filter."""

    request_id: str | None = None
    mo_id: str | None = None
    nsi_mo_id: str | None = None
    patient_ids: Sequence[str] = ()
    statuses: Sequence[HomeCallStatus] = ()
    created: TimeInterval | None = None
    updated: TimeInterval | None = None
    doctor_id: str | None = None


@dataclass(frozen=True, slots=True)
class HomeCallChanged:
    """One ``HandleHomeCallRequestChanged`` push from the MIS, parsed and checked.

    ``dedup_key`` is the same for a repeated delivery of one change, so the domain applies it once.
    """

    request: HomeCallRequestInfo
    guid: str | None

    @property
    def dedup_key(self) -> str:
        r = self.request
        return f"{r.request_id}:{r.status_code}:{r.updated_at.isoformat()}"


# -- errors --------------------------------------------------------------------------------------


class HomeCallError(common.UpstreamError):
    """Base of everything the home-call adapter raises."""

    code = "homecall.error"
    user_message = "Не удалось оформить вызов врача на дом. Попробуйте позже или позвоните в поликлинику."


class HomeCallRefusal(HomeCallError, common.UpstreamRefusal):
    """A business refusal from the hub's ``ErrorList``: ``upstream_code`` and its message as sent."""

    code = "homecall.refused"
    user_message = "Поликлиника отказала в приёме вызова. Позвоните в регистратуру поликлиники."


class HomeCallAccessDenied(HomeCallRefusal):
    code = "homecall.access_denied"
    user_message = "Сервис вызова врача на дом отклонил подключение. Позвоните в поликлинику."


class HomeCallBadRequest(HomeCallRefusal):
    code = "homecall.bad_request"
    user_message = "Вызов не принят: данные заполнены не полностью. Проверьте их и отправьте снова."


class NoAddress(HomeCallRefusal):
    code = "homecall.no_address"
    user_message = "Не указан адрес. Укажите адрес, по которому нужен врач: улицу, дом и квартиру."


class NoContactPhone(HomeCallRefusal):
    code = "homecall.no_phone"
    user_message = "Не указан контактный телефон. Укажите номер, по которому врач сможет связаться с вами."


class NoReason(HomeCallRefusal):
    code = "homecall.no_reason"
    user_message = "Не указана причина вызова. Выберите причину или опишите, что беспокоит."


class ActiveCallExists(HomeCallRefusal):
    code = "homecall.active_call_exists"
    user_message = (
        "У пациента уже есть активный вызов врача на дом. Дождитесь врача или отмените прежний вызов, "
        "чтобы оформить новый."
    )


class ServiceDisabled(HomeCallRefusal):
    code = "homecall.service_disabled"
    user_message = (
        "Эта поликлиника не принимает вызовы врача на дом онлайн. Позвоните в регистратуру поликлиники или по 122."
    )


class ClinicNotFound(HomeCallRefusal):
    code = "homecall.clinic_not_found"
    user_message = "Поликлиника не найдена в сервисе вызова врача на дом. Позвоните по 122."


class PatientNotIdentified(HomeCallRefusal):
    code = "homecall.patient_not_identified"
    user_message = (
        "Поликлиника не нашла пациента по полису ОМС, дате рождения и ФИО. Проверьте данные полиса или позвоните "
        "в регистратуру."
    )


class PatientNotAttached(HomeCallRefusal):
    code = "homecall.patient_not_attached"
    user_message = (
        "Пациент не прикреплён к этой поликлинике. Вызовите врача в поликлинику прикрепления или позвоните по 122."
    )


class SessionExpired(HomeCallRefusal):
    code = "homecall.session_expired"
    user_message = "Время на оформление вызова истекло. Начните оформление заново."


class SlotUnavailable(HomeCallRefusal):
    code = "homecall.slot_unavailable"
    user_message = "Выбранное время визита уже недоступно. Выберите другое время."


class NoDoctorOnDuty(HomeCallRefusal):
    code = "homecall.no_doctor_on_duty"
    user_message = (
        "Сейчас нет врача, принимающего вызовы на дом по вашему участку. Позвоните в регистратуру или по 122."
    )


class HomeCallNotFound(HomeCallRefusal):
    code = "homecall.not_found"
    user_message = "Вызов врача на дом не найден."


class StatusChangeNotAllowed(HomeCallRefusal):
    code = "homecall.status_change_not_allowed"
    user_message = "Изменить вызов уже нельзя: врач назначен или визит завершён. Позвоните в поликлинику."


class HomeCallTransportError(HomeCallError, common.UpstreamTransportError):
    """The hub gave no usable answer; the call may be retried."""

    code = "homecall.unavailable"
    user_message = (
        "Сервис вызова врача на дом сейчас недоступен, вызов не оформлен. Повторите попытку через несколько минут "
        "или позвоните в регистратуру поликлиники. При угрозе жизни звоните 103 или 112."
    )


class HomeCallTimeout(HomeCallTransportError, common.UpstreamTimeout):
    code = "homecall.timeout"
    user_message = (
        "Сервис вызова врача на дом не ответил вовремя. Проверьте через несколько минут, оформлен ли вызов, "
        "прежде чем повторять. При угрозе жизни звоните 103 или 112."
    )


class HomeCallMalformedReply(HomeCallTransportError, common.UpstreamMalformedReply):
    code = "homecall.malformed_reply"


class HomeCallUnavailable(HomeCallTransportError, common.UpstreamUnavailable):
    """SOAP Fault, HTTP error status or connection failure."""

    def __init__(self, message: str, *, fault_code: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message, status_code=status_code)
        self.fault_code = fault_code


class PushRejected(HomeCallError):
    """An incoming ``HandleHomeCallRequestChanged`` we refuse (bad SOAP, wrong guid, unknown request shape).

    ``upstream_code`` is what our reply's ``ErrorList`` tells the MIS.
    """

    code = "homecall.push_rejected"

    def __init__(self, upstream_code: int, message: str) -> None:
        super().__init__(message)
        self.upstream_code = upstream_code
        self.message = message


# -- the port ------------------------------------------------------------------------------------


@runtime_checkable
class HomeCallHub(Protocol):
    async def validate(
        self,
        mo_id: str,
        *,
        patient: HomeCallPatient,
        applicant: Applicant,
        address: Address | None,
        reason: str,
        comment: str | None = None,
        intervals: Sequence[TimeInterval] = (),
        session_id: str | None = None,
    ) -> HomeCallValidation:
        """ValidateHomeCall: identify the patient, check the refusals, pick the doctor, open a session."""
        ...

    async def get_slots(
        self, mo_id: str, session_id: str, intervals: Sequence[TimeInterval] = ()
    ) -> tuple[HomeCallSlot, ...]:
        """GetHomeCallAvailableSlots within the session; ``intervals`` narrow the windows."""
        ...

    async def create(self, mo_id: str, session_id: str, slot_id: str) -> HomeCallCreated:
        """CreateHomeCallRequest on a window of the session."""
        ...

    async def update(self, request_id: str, status: HomeCallStatus, comment: str | None = None) -> None:
        """UpdateHomeCallRequest: our side cancels (CANCELLED_BY_PATIENT) or adds a comment (same status)."""
        ...

    async def search(self, filter: HomeCallFilter) -> HomeCallSearch:
        """SearchHomeCallRequests."""
        ...
