"""The SOAP client of the N3 HubService; implements :class:`~integrations.fer.protocol.BookingHub`.

The client makes exactly one HTTP request per call and never retries: the booking domain (and its
outbox) decides about retries, because only it knows whether a repeat is safe. The deadline is
enforced with :func:`asyncio.timeout`, since httpx's own timeouts do not apply to an in-process
``ASGITransport``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Iterable, Mapping
from datetime import date, datetime, time
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx
from lxml import etree

from integrations.fer import soap
from integrations.fer.protocol import (
    AccessDenied,
    AppointmentNotFound,
    AppointmentStatus,
    AvailableDate,
    BookingChannel,
    BookingResult,
    DistrictInfo,
    DoctorInfo,
    HistoryItem,
    HubError,
    HubErrorCode,
    HubMalformedReply,
    HubTimeout,
    HubUnavailable,
    LpuInfo,
    OrganisationInfo,
    PatientCheck,
    PatientNotFound,
    ReferralInvalid,
    ReferralNotFound,
    ReferralRequired,
    Slot,
    SlotUnavailable,
    SpecialistType,
    Specialty,
)

DEFAULT_PATH = "/hub25/HubService.svc"

DEFAULT_ERROR_MAP: Mapping[int, type[HubError]] = {
    HubErrorCode.ACCESS_DENIED: AccessDenied,
    HubErrorCode.PATIENT_NOT_FOUND: PatientNotFound,
    HubErrorCode.SLOT_NOT_FOUND: SlotUnavailable,
    HubErrorCode.SLOT_TAKEN: SlotUnavailable,
    HubErrorCode.APPOINTMENT_NOT_FOUND: AppointmentNotFound,
    HubErrorCode.APPOINTMENT_NOT_ACTIVE: AppointmentNotFound,
    HubErrorCode.REFERRAL_REQUIRED: ReferralRequired,
    HubErrorCode.REFERRAL_NOT_FOUND: ReferralNotFound,
    HubErrorCode.REFERRAL_INVALID: ReferralInvalid,
}

_DAY_END = time(23, 59, 59)

_E = TypeVar("_E", AppointmentStatus, BookingChannel, SpecialistType)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _parses_reply(
    fn: Callable[Concatenate[FerClient, _P], Coroutine[Any, Any, _R]],
) -> Callable[Concatenate[FerClient, _P], Coroutine[Any, Any, _R]]:
    """A reply member that cannot be parsed is :class:`HubMalformedReply`, never a bare ``ValueError``."""

    @functools.wraps(fn)
    async def wrapper(self: FerClient, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await fn(self, *args, **kwargs)
        except soap.SoapMalformed as exc:
            raise HubMalformedReply(f"Некорректный ответ хаба записи: {exc}") from exc

    return wrapper


class FerClient:
    """``FerClient(http, guid=..., timeout_s=...)``; ``http`` carries the hub's base URL.

    ``error_map`` maps ``IdError`` codes to exception classes (unmapped codes raise :class:`HubError`);
    the default matches the simulator's catalogue.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        guid: str,
        timeout_s: float,
        path: str = DEFAULT_PATH,
        error_map: Mapping[int, type[HubError]] | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._http = http
        self._guid = guid
        self._timeout_s = timeout_s
        self._path = path
        self._error_map = DEFAULT_ERROR_MAP if error_map is None else error_map

    # -- operations ------------------------------------------------------------------------------

    @_parses_reply
    async def get_districts(self) -> list[DistrictInfo]:
        result = await self._call("GetDistrictList", [])
        return [
            DistrictInfo(
                id=soap.required_text(el, "IdDistrict"),
                name=soap.text(el, "DistrictName") or "",
                okato=soap.text(el, "Okato") or None,
            )
            for el in soap.children(soap.child(result, "Districts"), "District")
        ]

    @_parses_reply
    async def get_organisations(self, district_id: str) -> list[OrganisationInfo]:
        result = await self._call("GetLPUList", [("idDistrict", district_id)])
        items: list[OrganisationInfo] = []
        for el in soap.children(soap.child(result, "ListLPU"), "Clinic"):
            active = soap.text(el, "IsActive")
            items.append(
                OrganisationInfo(
                    id=soap.required_text(el, "IdLPU"),
                    full_name=soap.text(el, "LPUFullName") or "",
                    short_name=soap.text(el, "LPUShortName") or "",
                    kind=soap.text(el, "LPUType") or None,
                    oid=soap.text(el, "Oid") or None,
                    district_id=soap.text(el, "District") or None,
                    # A hub that leaves IsActive out lists only working organisations.
                    active=True if not active else soap.parse_bool(active),
                    part_of=soap.text(el, "PartOf") or None,
                    description=soap.text(el, "Description") or None,
                    # Extension members of the simulator; absent on a real hub.
                    address=soap.text(el, "Address") or None,
                    latitude=soap.parse_float(soap.text(el, "Latitude")),
                    longitude=soap.parse_float(soap.text(el, "Longitude")),
                    phone=soap.text(el, "Phone") or None,
                )
            )
        return items

    @_parses_reply
    async def get_lpu_info(self, mo_id: str) -> LpuInfo | None:
        """GetLPUInfo(idLpu, guid) → ``LpuCollection: LpuInfo[]``: the first card, None for an empty list."""
        result = await self._call("GetLPUInfo", [("idLpu", mo_id)])
        for el in soap.children(soap.child(result, "LpuCollection"), "LpuInfo"):
            return LpuInfo(
                id=soap.text(el, "Id") or mo_id,
                full_name=soap.text(el, "FullName") or "",
                short_name=soap.text(el, "ShortName") or "",
                oid=soap.text(el, "Oid") or None,
                address=soap.text(el, "Address") or None,
                phone=soap.text(el, "Phone") or None,
                email=soap.text(el, "Email") or None,
                work_time=soap.text(el, "WorkTime") or None,
                commentary=soap.text(el, "Commentary") or None,
            )
        return None

    @_parses_reply
    async def get_specialties(self, mo_id: str, *, patient_id: str | None = None) -> list[Specialty]:
        result = await self._call("GetSpesialityList", [("idLpu", mo_id), ("idPat", patient_id)])
        items = soap.children(soap.child(result, "ListSpesiality"), "Spesiality")
        return [
            Specialty(
                id=soap.required_text(el, "IdSpesiality"),
                fer_id=soap.text(el, "FerIdSpesiality") or "",
                name=soap.text(el, "NameSpesiality") or "",
                free_tickets=soap.parse_int(soap.text(el, "CountFreeTicket")) or 0,
                nearest_date=soap.parse_datetime(soap.text(el, "NearestDate")),
                last_date=soap.parse_datetime(soap.text(el, "LastDate")),
            )
            for el in items
        ]

    @_parses_reply
    async def get_doctors(self, mo_id: str, specialty_id: str, *, patient_id: str | None = None) -> list[DoctorInfo]:
        result = await self._call(
            "GetDoctorList", [("idSpesiality", specialty_id), ("idLpu", mo_id), ("idPat", patient_id)]
        )
        items = soap.children(soap.child(result, "Docs"), "Doctor")
        return [
            DoctorInfo(
                id=soap.required_text(el, "IdDoc"),
                name=soap.text(el, "Name") or "",
                snils=soap.text(el, "Snils") or "",
                area=soap.text(el, "AriaNumber") or None,
                free_tickets=soap.parse_int(soap.text(el, "CountFreeTicket")) or 0,
                nearest_date=soap.parse_datetime(soap.text(el, "NearestDate")),
                last_date=soap.parse_datetime(soap.text(el, "LastDate")),
            )
            for el in items
        ]

    @_parses_reply
    async def get_available_dates(
        self, mo_id: str, doctor_id: str, start: date, end: date, *, patient_id: str | None = None
    ) -> list[AvailableDate]:
        result = await self._call("GetAvailableDates", _range_params(doctor_id, mo_id, patient_id, start, end))
        container = soap.child(result, "AvailableDateList")
        days: list[AvailableDate] = []
        for el in soap.children(container, "dateTime", ns=soap.ARRAYS_NS):
            moment = soap.parse_datetime((el.text or "").strip())
            if moment is None:
                raise HubMalformedReply("пустая дата в AvailableDateList")
            days.append(AvailableDate(mo_id=mo_id, doctor_id=doctor_id, day=moment.date()))
        return days

    @_parses_reply
    async def get_slots(
        self, mo_id: str, doctor_id: str, start: date, end: date, *, patient_id: str | None = None
    ) -> list[Slot]:
        result = await self._call("GetAvaibleAppointments", _range_params(doctor_id, mo_id, patient_id, start, end))
        slots: list[Slot] = []
        for el in soap.children(soap.child(result, "ListAppointments"), "Appointment"):
            visit_start = soap.parse_datetime(soap.text(el, "VisitStart"))
            visit_end = soap.parse_datetime(soap.text(el, "VisitEnd"))
            if visit_start is None or visit_end is None:
                raise HubMalformedReply("у талона нет времени начала или окончания")
            slots.append(
                Slot(
                    id=soap.required_text(el, "IdAppointment"),
                    mo_id=mo_id,
                    doctor_id=doctor_id,
                    start=visit_start,
                    end=visit_end,
                    room=soap.text(el, "Room") or "",
                    address=soap.text(el, "Address") or "",
                    num=soap.parse_int(soap.text(el, "Num")) or 0,
                )
            )
        return slots

    @_parses_reply
    async def check_patient(
        self,
        mo_id: str,
        *,
        oms_policy: str,
        birth_date: date,
        last_name: str | None = None,
        first_name: str | None = None,
        middle_name: str | None = None,
        snils: str | None = None,
    ) -> PatientCheck:
        # Patient members in DataContractSerializer (alphabetical) order.
        pat: list[tuple[str, soap.Scalar | None]] = [
            ("Birthday", datetime.combine(birth_date, time())),
            ("Name", first_name),
            ("Polis_N", oms_policy),
            ("SecondName", middle_name),
            ("Snils", snils),
            ("Surname", last_name),
        ]
        result = await self._call("CheckPatient", [("pat", pat), ("idLpu", mo_id)])
        return PatientCheck(patient_id=soap.required_text(result, "IdPat"), mo_id=mo_id)

    @_parses_reply
    async def book(
        self,
        mo_id: str,
        patient_id: str,
        slot_id: str,
        *,
        channel: BookingChannel,
        referral_id: str | None = None,
        previous_appointment_id: str | None = None,
    ) -> BookingResult:
        result = await self._call(
            "SetAppointment",
            [
                ("idAppointment", slot_id),
                ("idLpu", mo_id),
                ("idPat", patient_id),
                ("doctorsReferral", referral_id),
                ("idAppointmentPrev", previous_appointment_id),
            ],
            # The real hub derives the source from the hub user behind the guid; one gateway serves
            # several channels, so it names the channel per call (an extension the simulator reads).
            extra=[("appointmentSource", int(channel))],
        )
        return BookingResult(
            appointment_id=slot_id,
            mo_id=mo_id,
            patient_id=patient_id,
            specialist_type=_enum(SpecialistType, soap.text(result, "Type")),
        )

    @_parses_reply
    async def cancel(self, mo_id: str, patient_id: str, appointment_id: str) -> None:
        await self._call(
            "CreateClaimForRefusal",
            [("idLpu", mo_id), ("idPat", patient_id), ("idAppointment", appointment_id)],
        )

    @_parses_reply
    async def get_history(self, mo_id: str, patient_id: str) -> list[HistoryItem]:
        result = await self._call("GetPatientHistory", [("idLpu", mo_id), ("idPat", patient_id)])
        items: list[HistoryItem] = []
        for el in soap.children(soap.child(result, "ListHistoryVisit"), "HistoryVisit"):
            visit_start = soap.parse_datetime(soap.text(el, "VisitStart"))
            if visit_start is None:
                raise HubMalformedReply("у записи в истории нет времени приёма")
            doctor = soap.child(el, "DoctorRendingConsultation")
            specialty = soap.child(el, "SpecialityRendingConsultation")
            items.append(
                HistoryItem(
                    appointment_id=soap.required_text(el, "IdAppointment"),
                    mo_id=mo_id,
                    visit_start=visit_start,
                    created_at=soap.parse_datetime(soap.text(el, "DateCreatedAppointment")),
                    doctor_id=soap.text(doctor, "IdDoc") or "",
                    doctor_name=soap.text(doctor, "Name") or "",
                    specialty_id=soap.text(specialty, "IdSpesiality") or "",
                    specialty_name=soap.text(specialty, "NameSpesiality") or "",
                    status=_enum(AppointmentStatus, soap.text(el, "Status")),
                    source=_enum(BookingChannel, soap.text(el, "AppointmentSource")),
                )
            )
        return items

    # -- transport -------------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        params: Iterable[tuple[str, soap.ParamValue]],
        *,
        extra: Iterable[tuple[str, soap.ParamValue]] = (),
    ) -> etree._Element:
        body = soap.build_request(method, [*params, ("guid", self._guid), *extra])
        headers = {"Content-Type": soap.CONTENT_TYPE, "SOAPAction": soap.soap_action(method)}
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._http.post(self._path, content=body, headers=headers)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise HubTimeout(f"Хаб записи не ответил за {self._timeout_s:g} с ({method})") from exc
        except httpx.HTTPError as exc:
            raise HubUnavailable(f"Хаб записи недоступен ({method}): {exc}") from exc

        try:
            payload = soap.parse_body(response.content)
        except soap.SoapFault as fault:
            raise HubUnavailable(
                f"Хаб записи вернул SOAP Fault ({method}): {fault.message}",
                fault_code=fault.code,
                status_code=response.status_code,
            ) from fault
        except soap.SoapMalformed as exc:
            if response.status_code >= 400:
                raise HubUnavailable(
                    f"Хаб записи ответил HTTP {response.status_code} ({method})",
                    status_code=response.status_code,
                ) from exc
            raise HubMalformedReply(f"Некорректный ответ хаба записи ({method}): {exc}") from exc
        if response.status_code >= 400:
            raise HubUnavailable(
                f"Хаб записи ответил HTTP {response.status_code} ({method})", status_code=response.status_code
            )
        try:
            return self._result(method, payload)
        except soap.SoapMalformed as exc:
            raise HubMalformedReply(f"Некорректный ответ хаба записи ({method}): {exc}") from exc

    def _result(self, method: str, payload: etree._Element) -> etree._Element:
        if payload.tag != soap.qn(soap.TEMPURI_NS, f"{method}Response"):
            raise soap.SoapMalformed(f"ожидался {method}Response, получен {payload.tag}")
        result = payload.find(soap.qn(soap.TEMPURI_NS, f"{method}Result"))
        if result is None:
            raise soap.SoapMalformed(f"нет {method}Result")
        success = soap.parse_bool(soap.text(result, "Success"))
        errors = soap.children(soap.child(result, "ErrorList"), "Error")
        if errors:
            first = errors[0]
            code = soap.parse_int(soap.text(first, "IdError"))
            message = soap.text(first, "ErrorDescription") or "Ошибка хаба записи без описания"
            code = 0 if code is None else code
            raise self._error_map.get(code, HubError)(code, message)
        if not success:
            raise HubError(0, "Хаб записи вернул отказ без описания ошибки")
        return result


def _range_params(
    doctor_id: str, mo_id: str, patient_id: str | None, start: date, end: date
) -> list[tuple[str, soap.ParamValue]]:
    return [
        ("idDoc", doctor_id),
        ("idLpu", mo_id),
        ("idPat", patient_id),
        ("visitStart", datetime.combine(start, time())),
        ("visitEnd", datetime.combine(end, _DAY_END)),
    ]


def _enum(kind: type[_E], value: str | None) -> _E | None:
    """An enum member from its number or its name (DataContractSerializer writes enum names)."""
    if value is None or value == "":
        return None
    try:
        return kind(int(value))
    except ValueError:
        pass
    for member in kind:
        if member.name.replace("_", "").lower() == value.replace("_", "").lower():
            return member
    raise HubMalformedReply(f"неизвестное значение {kind.__name__}: {value!r}")
