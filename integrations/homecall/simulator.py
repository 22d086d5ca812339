"""Simulator of the N3 HomeCallService (WCF SOAP 1.1) over the demo region.

``create_homecall_simulator(region)`` returns a Litestar ASGI app serving
``POST /hub25/HomeCallService.svc`` (dispatch on ``SOAPAction``, checked against the body root) and
``POST /hub25/HomeCallService.svc/_sim/requests/{id}/status`` (the MIS's side, for a served
simulator). Its state, :class:`HomeCallSimulatorState`, is ``app.state.simulator`` (or
:func:`simulator_state`).

The world:

* areas and attachment come from :class:`~integrations.demo_region.areas.AttachmentRegister` (pass the
  one the other simulators use so they agree); a clinic without areas, or one switched off with
  :meth:`HomeCallSimulatorState.switch_off`, refuses with ``SERVICE_DISABLED``;
* the doctor on home-visit duty for an area on a day is its area doctor when they work that weekday,
  otherwise a colleague of the same area type who does (rotating by day), on Saturday any of them;
* visit windows per weekday (default Mon–Fri 12–14, 14–16, 16–18; Sat 9–11, 11–13) for
  ``days_ahead`` days, each taking ``window_capacity`` calls; a window is offered until it ends;
* refusals: no address (4025), a second active call for the patient (4015), no contact phone, no
  reason, patient not identified or not attached, an unknown or expired session, a full or past window,
  a status change the state does not allow, a wrong ``guid`` (5403);
* statuses come from a configurable :class:`StatusTable`; every change is kept with its time;
* MIS-initiated changes (:meth:`~HomeCallSimulatorState.assign_doctor`, ``doctor_on_the_way``,
  ``mark_visited``, ``cancel_by_clinic``) are pushed as ``HandleHomeCallRequestChanged`` to ``push_to``:
  an async callable ``(body, headers) -> reply body`` in-process, or a URL POSTed over HTTP; each
  delivery is logged in :attr:`~HomeCallSimulatorState.deliveries`.

Faults as in the booking hub simulator: ERROR answers a SOAP Fault (HTTP 500), MALFORMED a truncated
body, both without touching the state; TIMEOUT stalls and then processes the request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
from litestar import Litestar, Request, Response, post
from litestar.params import FromPath
from lxml import etree

from integrations.common.faults import FaultInjector, FaultProfile
from integrations.common.simulator import handle_soap as dispatch_soap
from integrations.common.simulator import simulator_app, soap_dialect, soap_endpoints, soap_wsdl, state_of
from integrations.demo_region.areas import AttachmentRegister
from integrations.demo_region.model import Region
from integrations.homecall import soap
from integrations.homecall.protocol import (
    DEFAULT_STATUS_TABLE,
    HomeCallDoctor,
    HomeCallErrorCode,
    HomeCallStatus,
    StatusTable,
    TimeInterval,
)
from integrations.homecall.push import PUSH_METHOD
from integrations.homecall.sim_state import (
    DEFAULT_ERROR_MESSAGES,
    DEFAULT_WINDOWS,
    SERVICE_PATH,
    HomeCallBusinessError,
    HomeCallSimulatorState,
    PushTarget,
    Window,
)

# -- SOAP layer ----------------------------------------------------------------------------------


class _Params:
    def __init__(self, op: etree._Element) -> None:
        self._els = {soap.local_name(el): el for el in op if isinstance(el.tag, str)}

    def element(self, name: str) -> etree._Element | None:
        return self._els.get(name)

    def text(self, name: str) -> str | None:
        el = self._els.get(name)
        if el is None:
            return None
        return (el.text or "").strip() or None

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise HomeCallBusinessError(HomeCallErrorCode.BAD_REQUEST, f"не задан параметр {name}")
        return value

    def intervals(self, name: str = "timeIntervals") -> list[TimeInterval]:
        try:
            return soap.read_intervals(self.element(name))
        except soap.SoapMalformed as exc:
            raise HomeCallBusinessError(HomeCallErrorCode.BAD_REQUEST, str(exc)) from exc


Handler = Callable[[HomeCallSimulatorState, _Params, int], etree._Element]


def _validate_home_call(state: HomeCallSimulatorState, p: _Params, id_history: int) -> etree._Element:
    try:
        patient = soap.read_patient(p.element("homeCallPatient"))
        applicant = soap.read_applicant(p.element("applicant"))
        address = soap.read_address(p.element("address"))
    except soap.SoapMalformed as exc:
        raise HomeCallBusinessError(HomeCallErrorCode.BAD_REQUEST, str(exc)) from exc
    intervals = p.intervals()
    session = state.validate(
        p.required("idLpu"),
        reason=p.text("reason"),
        comment=p.text("comment"),
        session_id=p.text("idSession"),
        patient=patient,
        applicant=applicant,
        address=address,
    )
    windows = state.windows_for(session.area, intervals)
    doctor = state.area_doctor(session.area)
    env, result = soap.new_result("ValidateHomeCall", id_history=id_history)
    if doctor is None:
        soap.put(result, "HomeCallDoctor", None)
    else:
        doctor_el = soap.container(result, "HomeCallDoctor")
        counted = HomeCallDoctor(
            id=doctor.id,
            name=doctor.name,
            snils=doctor.snils,
            area=doctor.area,
            area_type=doctor.area_type,
            free_tickets=len(windows),
            nearest_date=windows[0][0].visit_time if windows else None,
            last_date=windows[-1][0].visit_time if windows else None,
        )
        soap.add_doctor_members(doctor_el, counted)
        soap.add_slot_list(doctor_el, (s for s, _ in windows), ns=soap.HUB_NS)
    soap.put(result, "IdDoctorPosition", state.doctor_position(session.area))
    soap.put(result, "IdPat", session.patient_id)
    soap.put(result, "IdSession", session.id)
    return env


def _get_slots(state: HomeCallSimulatorState, p: _Params, id_history: int) -> etree._Element:
    session = state.session(p.required("idSession"), p.required("idLpu"))
    windows = state.windows_for(session.area, p.intervals())
    env, result = soap.new_result("GetHomeCallAvailableSlots", id_history=id_history)
    soap.put(result, "IdSession", session.id)
    soap.add_slot_list(result, (s for s, _ in windows), ns=soap.HC_NS)
    return env


def _create(state: HomeCallSimulatorState, p: _Params, id_history: int) -> etree._Element:
    request = state.create(p.required("idSession"), p.required("idLpu"), p.required("idSlot"), p.text("guid"))
    env, result = soap.new_result("CreateHomeCallRequest", id_history=id_history)
    soap.put(result, "IdHomeCallRequest", request.id)
    soap.put(result, "IdSession", request.session_id)
    return env


def _update(state: HomeCallSimulatorState, p: _Params, id_history: int) -> etree._Element:
    code_text = p.required("homeCallStatus")
    if not code_text.lstrip("-").isdigit():
        raise HomeCallBusinessError(HomeCallErrorCode.BAD_REQUEST, f"некорректный статус {code_text!r}")
    state.update(p.required("idHomeCallRequest"), int(code_text), p.text("comment"))
    env, _ = soap.new_result("UpdateHomeCallRequest", id_history=id_history)
    return env


def _search(state: HomeCallSimulatorState, p: _Params, id_history: int) -> etree._Element:
    f = p.element("filter")
    hc = soap.HC_NS
    try:
        codes = [
            int((el.text or "").strip())
            for el in soap.children(
                soap.child(f, "HomeCallStatuses", ns=hc) if f is not None else None, "int", ns=soap.ARRAYS_NS
            )
        ]
        created_el = soap.child(f, "CreatedDateRange", ns=hc) if f is not None else None
        updated_el = soap.child(f, "UpdatedDateRange", ns=hc) if f is not None else None
        created = soap.read_interval(created_el) if created_el is not None else None
        updated = soap.read_interval(updated_el) if updated_el is not None else None
    except (ValueError, soap.SoapMalformed) as exc:
        raise HomeCallBusinessError(HomeCallErrorCode.BAD_REQUEST, f"некорректный фильтр: {exc}") from exc
    patients_el = soap.child(f, "IdPatients", ns=hc) if f is not None else None
    found = state.search(
        request_id=soap.text(f, "IdHomeCallRequest", ns=hc) or None,
        mo_id=soap.text(f, "IdLpu", ns=hc) or None,
        patient_ids=[(el.text or "").strip() for el in soap.children(patients_el, "string", ns=soap.ARRAYS_NS)],
        status_codes=codes,
        created=created,
        updated=updated,
        doctor_id=soap.text(f, "IdDoc", ns=hc) or None,
    )
    env, result = soap.new_result("SearchHomeCallRequests", id_history=id_history)
    soap.put(result, "Count", len(found))
    holder = soap.container(result, "ListHomeCallRequest")
    for request in found:
        soap.add_request(holder, "HomeCallRequest", state.info(request), state.table)
    return env


HANDLERS: Mapping[str, Handler] = {
    "ValidateHomeCall": _validate_home_call,
    "GetHomeCallAvailableSlots": _get_slots,
    "CreateHomeCallRequest": _create,
    "UpdateHomeCallRequest": _update,
    "SearchHomeCallRequests": _search,
}


def _wsdl(location: str) -> bytes:
    return soap_wsdl(
        "HomeCallService", [*HANDLERS, PUSH_METHOD], action_prefix=soap.SOAP_ACTION_PREFIX, location=location
    )


DIALECT = soap_dialect(soap)


def handle_soap(state: HomeCallSimulatorState, action: str | None, body: bytes) -> Response[bytes]:
    """Process one SOAP request synchronously (no awaits: atomic on the event loop)."""
    return dispatch_soap(
        DIALECT,
        state,
        action,
        body,
        handlers=HANDLERS,
        params=_Params,
        access_denied=HomeCallErrorCode.ACCESS_DENIED,
        fallback_message=DEFAULT_ERROR_MESSAGES[HomeCallErrorCode.INTERNAL],
    )


def create_homecall_simulator(
    region: Region,
    *,
    faults: FaultProfile | None = None,
    clock: Callable[[], datetime] | None = None,
    guid: str | None = None,
    register: AttachmentRegister | None = None,
    status_table: StatusTable = DEFAULT_STATUS_TABLE,
    error_messages: Mapping[HomeCallErrorCode, str] | None = None,
    disabled_mos: Iterable[str] = (),
    windows: Mapping[int, tuple[Window, ...]] = DEFAULT_WINDOWS,
    window_capacity: int = 4,
    days_ahead: int = 2,
    session_ttl: timedelta = timedelta(minutes=30),
    push_to: PushTarget | str | None = None,
    push_guid: str | None = None,
    push_http: httpx.AsyncClient | None = None,
) -> Litestar:
    """The HomeCallService simulator as an ASGI app; ``guid=None`` accepts any client guid."""
    state = HomeCallSimulatorState(
        region,
        faults=FaultInjector(faults or FaultProfile()),
        clock=clock,
        guid=guid,
        register=register,
        status_table=status_table,
        error_messages=error_messages,
        disabled_mos=disabled_mos,
        windows=windows,
        window_capacity=window_capacity,
        days_ahead=days_ahead,
        session_ttl=session_ttl,
        push_to=push_to,
        push_guid=push_guid,
        push_http=push_http,
    )

    endpoints = soap_endpoints(
        SERVICE_PATH,
        DIALECT,
        state.faults,
        handle=lambda action, body: handle_soap(state, action, body),
        wsdl=_wsdl,
        unavailable="Сервис вызова врача на дом временно недоступен",
    )

    @post(f"{SERVICE_PATH}/_sim/requests/{{request_id:str}}/status", status_code=200)
    async def mis_change_endpoint(
        request: Request[Any, Any, Any], request_id: FromPath[str]
    ) -> Response[dict[str, Any]]:
        """The clinic's side over HTTP: ``{"status": "doctor_assigned", "comment": ..., "doctor_id": ...}``."""
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("a JSON object is expected")
            status = HomeCallStatus(data.get("status"))
            changed = await state.mis_change(
                request_id, status, comment=data.get("comment"), doctor_id=data.get("doctor_id")
            )
        except (KeyError, ValueError) as exc:
            return Response(content={"error": str(exc)}, status_code=409)
        delivery = state.deliveries[-1]
        return Response(content={"status": changed.status.value, "pushed": delivery.ok, "detail": delivery.detail})

    return simulator_app([*endpoints, mis_change_endpoint], state)


def simulator_state(app: Litestar) -> HomeCallSimulatorState:
    """The in-memory state of an app made by :func:`create_homecall_simulator`."""
    return state_of(app, HomeCallSimulatorState)


__all__ = ["HomeCallSimulatorState", "create_homecall_simulator", "simulator_state"]
