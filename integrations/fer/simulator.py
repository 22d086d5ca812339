"""Simulator of the regional booking hub (N3 HubService, WCF SOAP 1.1) over a demo :class:`Region`.

``create_fer_simulator(region)`` returns a Litestar ASGI app serving ``POST /hub25/HubService.svc``
(dispatch on ``SOAPAction``, checked against the body root) and ``GET /hub25/HubService.svc?wsdl``.
This module is the SOAP layer: request parsing, the operations' handlers (:data:`HANDLERS`), the app. The
in-memory hub, :class:`FerSimulatorState` (schedules, patients, bookings), is in
:mod:`integrations.fer.sim_state` and re-exported here; it is ``app.state.simulator`` (or
:func:`simulator_state`); tests and the scenario admin use it to inspect bookings, force faults and play
the MO's side: ``cancel_by_mo``, ``mark_visited``, ``mark_no_show``.

Schedules come from each doctor's working hours and the specialty's slot length, for ``weeks_ahead``
weeks from the clock's today. A doctor's day is generated on first use and cached, so a FULL-scale
region costs nothing until it is asked about. Slot ids are ``<IdDoc>_<YYYYMMDD>_<HHMM>``.

Directory methods (``GetDistrictList``, ``GetLPUList``, ``GetLPUInfo`` with the hours) serve the region's
districts and organisations; ``Clinic`` carries ``Address``, ``Latitude``, ``Longitude`` and ``Phone`` as a
simulator extension.

Request handling is synchronous between the fault injector's wait and the reply, so on one event
loop a check-and-book is atomic: of concurrent ``SetAppointment`` calls on one slot exactly one wins.

Faults (:class:`FaultProfile`): ERROR answers with a SOAP Fault (HTTP 500) and MALFORMED with a
truncated body, both without touching the state; TIMEOUT stalls ``timeout_stall_s`` and then processes
the request normally (a reply nobody waits for, as with a real hub that committed too late).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from litestar import Litestar, Response
from lxml import etree

from integrations.common.faults import FaultInjector, FaultProfile
from integrations.common.simulator import handle_soap as dispatch_soap
from integrations.common.simulator import (
    simulator_app,
    soap_dialect,
    soap_endpoints,
    soap_wsdl,
    state_of,
)
from integrations.demo_region.model import Region
from integrations.fer import soap
from integrations.fer.areas import HubBusinessError, get_patients_areas
from integrations.fer.protocol import BookingChannel, HubErrorCode
from integrations.fer.referrals import REFERRAL_HANDLERS
from integrations.fer.sim_state import (
    DEFAULT_ERROR_MESSAGES,
    Booking,
    DoctorEntry,
    FerSimulatorState,
    FreeSummary,
    SimSlot,
    slot_id,
)
from integrations.fer.waiting_list import set_waiting_list

HUB_PATH = "/hub25/HubService.svc"


# -- SOAP layer ----------------------------------------------------------------------------------


class _Params:
    """The parameters of one request (children of the operation element, by local name)."""

    def __init__(self, op: etree._Element) -> None:
        self._els = {soap.local_name(el): el for el in op if isinstance(el.tag, str)}

    def element(self, name: str) -> etree._Element | None:
        return self._els.get(name)

    def text(self, name: str) -> str | None:
        el = self._els.get(name)
        if el is None:
            return None
        value = (el.text or "").strip()
        return value or None

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise HubBusinessError(HubErrorCode.BAD_REQUEST, f"не задан параметр {name}")
        return value

    def moment(self, name: str) -> datetime:
        try:
            value = soap.parse_datetime(self.required(name))
        except soap.SoapMalformed as exc:
            raise HubBusinessError(HubErrorCode.BAD_REQUEST, f"параметр {name}: {exc}") from exc
        if value is None:
            raise HubBusinessError(HubErrorCode.BAD_REQUEST, f"не задан параметр {name}")
        return value


Handler = Callable[[FerSimulatorState, _Params, int], etree._Element]


def _add_summary(parent: etree._Element, summary: FreeSummary) -> None:
    soap.add(parent, "CountFreeParticipantIE", summary.count)
    soap.add(parent, "CountFreeTicket", summary.count)


def _get_district_list(state: FerSimulatorState, p: _Params, id_history: int) -> etree._Element:
    env, result = soap.new_result("GetDistrictList", id_history=id_history)
    container = soap.add_container(result, "Districts")
    for district in state.districts():
        el = soap.add_container(container, "District")
        soap.add(el, "DistrictName", district.name)
        soap.add(el, "IdDistrict", district.id)
        soap.add(el, "Okato", district.okato)
    return env


def _get_lpu_list(state: FerSimulatorState, p: _Params, id_history: int) -> etree._Element:
    organisations = state.organisations(p.required("idDistrict"))
    env, result = soap.new_result("GetLPUList", id_history=id_history)
    container = soap.add_container(result, "ListLPU")
    for mo in organisations:
        el = soap.add_container(container, "Clinic")
        # Members in DataContractSerializer (ordinal) order. Address, Latitude, Longitude and Phone are
        # an extension of this simulator: the hub's Clinic contract has no address, coordinates or phone,
        # so clients must not rely on them (FerClient leaves them None when absent).
        soap.add(el, "Address", mo.address)
        soap.add(el, "Description", None)
        soap.add(el, "District", mo.district_id)
        soap.add(el, "IdLPU", mo.id)
        soap.add(el, "IsActive", True)
        soap.add(el, "LPUFullName", mo.name)
        soap.add(el, "LPUShortName", mo.short_name)
        soap.add(el, "LPUType", mo.kind)
        soap.add(el, "Latitude", f"{mo.latitude:.6f}")
        soap.add(el, "Longitude", f"{mo.longitude:.6f}")
        soap.add(el, "Oid", mo.oid)
        soap.add(el, "PartOf", None)
        soap.add(el, "Phone", mo.phone)
    return env


def _get_lpu_info(state: FerSimulatorState, p: _Params, id_history: int) -> etree._Element:
    """``GetLPUInfo``: the organisation's card with its hours (an empty collection for an unknown id)."""
    mo_id = p.required("idLpu")
    env, result = soap.new_result("GetLPUInfo", id_history=id_history)
    container = soap.add_container(result, "LpuCollection")
    mo = state.organisation(mo_id)
    if mo is not None:
        district = state.district(mo.district_id)
        el = soap.add_container(container, "LpuInfo")
        # Members in DataContractSerializer (alphabetical) order, as LpuInfo declares them.
        soap.add(el, "Address", mo.address)
        soap.add(el, "Commentary", None)
        soap.add(el, "DistrictId", mo.district_id)
        soap.add(el, "DistrictName", district.name if district else None)
        soap.add(el, "DistrictOkato", district.okato if district else None)
        soap.add(el, "Email", None)
        soap.add(el, "FullName", mo.name)
        soap.add(el, "Id", mo.id)
        soap.add(el, "Oid", mo.oid)
        soap.add(el, "Phone", mo.phone)
        soap.add(el, "PublicGuid", None)
        soap.add(el, "ShortName", mo.short_name)
        soap.add(el, "Type", mo.kind)
        soap.add(el, "WorkTime", mo.work_time_text)
    return env


def _get_spesiality_list(state: FerSimulatorState, p: _Params, id_history: int) -> etree._Element:
    rows = state.specialties(p.required("idLpu"))
    env, result = soap.new_result("GetSpesialityList", id_history=id_history)
    container = soap.add_container(result, "ListSpesiality")
    for specialty, summary in rows:
        el = soap.add_container(container, "Spesiality")
        _add_summary(el, summary)
        soap.add(el, "FerIdSpesiality", specialty.code)
        soap.add(el, "IdSpesiality", specialty.code)
        soap.add(el, "LastDate", summary.last)
        soap.add(el, "NameSpesiality", specialty.name)
        soap.add(el, "NearestDate", summary.nearest)
    soap.add(result, "LpuChanges", None)
    return env


def _get_doctor_list(state: FerSimulatorState, p: _Params, id_history: int) -> etree._Element:
    rows = state.doctors(p.required("idLpu"), p.required("idSpesiality"))
    env, result = soap.new_result("GetDoctorList", id_history=id_history)
    container = soap.add_container(result, "Docs")
    for doctor, summary in rows:
        el = soap.add_container(container, "Doctor")
        soap.add(el, "AriaNumber", None)
        soap.add(el, "Comment", None)
        _add_summary(el, summary)
        soap.add(el, "IdDoc", doctor.id)
        soap.add(el, "LastDate", summary.last)
        soap.add(el, "Name", doctor.full_name)
        soap.add(el, "NearestDate", summary.nearest)
        soap.add(el, "Snils", doctor.snils)
    return env


def _get_available_dates(state: FerSimulatorState, p: _Params, id_history: int) -> etree._Element:
    days = state.available_dates(p.required("idLpu"), p.required("idDoc"), p.moment("visitStart"), p.moment("visitEnd"))
    env, result = soap.new_result("GetAvailableDates", id_history=id_history)
    container = etree.SubElement(result, soap.qn(soap.HUB_NS, "AvailableDateList"), nsmap={"b": soap.ARRAYS_NS})
    for day in days:
        soap.add(container, "dateTime", day, ns=soap.ARRAYS_NS)
    return env


def _get_avaible_appointments(state: FerSimulatorState, p: _Params, id_history: int) -> etree._Element:
    entry, slots = state.available_slots(
        p.required("idLpu"), p.required("idDoc"), p.moment("visitStart"), p.moment("visitEnd")
    )
    env, result = soap.new_result("GetAvaibleAppointments", id_history=id_history)
    container = soap.add_container(result, "ListAppointments")
    for slot in slots:
        el = soap.add_container(container, "Appointment")
        soap.add(el, "Address", entry.address)
        soap.add(el, "IdAppointment", slot.id)
        soap.add(el, "Num", slot.num)
        soap.add(el, "Room", entry.doctor.room)
        soap.add(el, "VisitEnd", slot.end)
        soap.add(el, "VisitStart", slot.start)
    soap.add(result, "NotAvailableReasonCode", None if slots else 1)
    return env


def _check_patient(state: FerSimulatorState, p: _Params, id_history: int) -> etree._Element:
    pat = p.element("pat")
    if pat is None:
        raise HubBusinessError(HubErrorCode.BAD_REQUEST, "не задан параметр pat")
    birthday_text = soap.text(pat, "Birthday")
    try:
        birthday = soap.parse_datetime(birthday_text)
    except soap.SoapMalformed as exc:
        raise HubBusinessError(HubErrorCode.BAD_REQUEST, str(exc)) from exc
    patient_id = state.check_patient(
        p.required("idLpu"),
        oms_policy=(soap.text(pat, "Polis_S") or "") + (soap.text(pat, "Polis_N") or ""),
        birth_date=birthday.date() if birthday else None,
        surname=soap.text(pat, "Surname"),
        name=soap.text(pat, "Name"),
        second_name=soap.text(pat, "SecondName"),
        snils=soap.text(pat, "Snils"),
    )
    env, result = soap.new_result("CheckPatient", id_history=id_history)
    soap.add(result, "IdPat", patient_id)
    return env


def _set_appointment(state: FerSimulatorState, p: _Params, id_history: int) -> etree._Element:
    source_text = p.text("appointmentSource")
    try:
        source = BookingChannel(int(source_text)) if source_text else BookingChannel.INTERNET
    except ValueError as exc:
        raise HubBusinessError(HubErrorCode.BAD_REQUEST, f"неизвестный источник записи {source_text}") from exc
    booking = state.book(
        p.required("idLpu"),
        p.required("idPat"),
        p.required("idAppointment"),
        source=source,
        referral_id=p.text("doctorsReferral"),
        previous_appointment_id=p.text("idAppointmentPrev"),
    )
    env, result = soap.new_result("SetAppointment", id_history=id_history)
    soap.add(result, "Type", int(state.specialist_type(booking)))
    return env


def _create_claim_for_refusal(state: FerSimulatorState, p: _Params, id_history: int) -> etree._Element:
    state.refuse(p.required("idLpu"), p.required("idPat"), p.required("idAppointment"))
    env, _ = soap.new_result("CreateClaimForRefusal", id_history=id_history)
    return env


def _get_patient_history(state: FerSimulatorState, p: _Params, id_history: int) -> etree._Element:
    bookings = state.history(p.required("idLpu"), p.required("idPat"))
    env, result = soap.new_result("GetPatientHistory", id_history=id_history)
    soap.add_container(result, "ListHistoryRefusal")
    container = soap.add_container(result, "ListHistoryVisit")
    for booking in bookings:
        entry = state.doctor_entry(booking.doctor_id)
        specialty = entry.specialty
        el = soap.add_container(container, "HistoryVisit")
        soap.add(el, "AppointmentSource", int(booking.source))
        soap.add(el, "DateCreatedAppointment", booking.created_at)
        doctor = soap.add_container(el, "DoctorRendingConsultation")
        soap.add(doctor, "IdDoc", entry.doctor.id)
        soap.add(doctor, "Name", entry.doctor.full_name)
        soap.add(doctor, "Snils", entry.doctor.snils)
        soap.add(el, "IdAppointment", booking.appointment_id)
        spec = soap.add_container(el, "SpecialityRendingConsultation")
        soap.add(spec, "FerIdSpesiality", specialty.code)
        soap.add(spec, "IdSpesiality", specialty.code)
        soap.add(spec, "NameSpesiality", specialty.name)
        soap.add(el, "Status", int(booking.status) if booking.status is not None else None)
        soap.add(el, "VisitStart", booking.visit_start)
    return env


HANDLERS: Mapping[str, Handler] = {
    "GetDistrictList": _get_district_list,
    "GetLPUList": _get_lpu_list,
    "GetLPUInfo": _get_lpu_info,
    "GetSpesialityList": _get_spesiality_list,
    "GetDoctorList": _get_doctor_list,
    "GetAvailableDates": _get_available_dates,
    "GetAvaibleAppointments": _get_avaible_appointments,
    "CheckPatient": _check_patient,
    "SetAppointment": _set_appointment,
    "CreateClaimForRefusal": _create_claim_for_refusal,
    "GetPatientHistory": _get_patient_history,
    "GetPatientsAreas": get_patients_areas,  # integrations/fer/areas.py (attachment)
    **REFERRAL_HANDLERS,  # integrations/fer/referrals.py: CheckReferral, InspectDoctorsReferal, ...
    "SetWaitingList": set_waiting_list,  # integrations/fer/waiting_list.py (waitlist)
}


DIALECT = soap_dialect(soap)


def handle_soap(state: FerSimulatorState, action: str | None, body: bytes) -> Response[bytes]:
    """Process one SOAP request synchronously (no awaits: atomic on the event loop)."""
    return dispatch_soap(
        DIALECT,
        state,
        action,
        body,
        handlers=HANDLERS,
        params=_Params,
        access_denied=HubErrorCode.ACCESS_DENIED,
        fallback_message=DEFAULT_ERROR_MESSAGES[HubErrorCode.INTERNAL],
    )


def _wsdl(location: str) -> bytes:
    return soap_wsdl("HubService", HANDLERS, action_prefix=soap.SOAP_ACTION_PREFIX, location=location)


def create_fer_simulator(
    region: Region,
    *,
    faults: FaultProfile | None = None,
    clock: Callable[[], datetime] | None = None,
    guid: str | None = None,
    error_messages: Mapping[HubErrorCode, str] | None = None,
) -> Litestar:
    """The hub simulator as an ASGI app; ``guid=None`` accepts any client guid."""
    state = FerSimulatorState(
        region,
        faults=FaultInjector(faults or FaultProfile()),
        clock=clock,
        guid=guid,
        error_messages=error_messages,
    )

    endpoints = soap_endpoints(
        HUB_PATH,
        DIALECT,
        state.faults,
        handle=lambda action, body: handle_soap(state, action, body),
        wsdl=_wsdl,
        unavailable="Сервис записи временно недоступен",
    )

    return simulator_app(endpoints, state)


def simulator_state(app: Litestar) -> FerSimulatorState:
    """The in-memory state of an app made by :func:`create_fer_simulator`."""
    return state_of(app, FerSimulatorState)


__all__ = [
    "DEFAULT_ERROR_MESSAGES",
    "DIALECT",
    "HANDLERS",
    "HUB_PATH",
    "Booking",
    "DoctorEntry",
    "FerSimulatorState",
    "FreeSummary",
    "Handler",
    "HubBusinessError",
    "SimSlot",
    "create_fer_simulator",
    "handle_soap",
    "simulator_state",
    "slot_id",
]
