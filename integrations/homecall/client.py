"""The SOAP client of the N3 HomeCallService; implements :class:`~integrations.homecall.protocol.HomeCallHub`.

Like :class:`integrations.fer.client.FerClient`: one HTTP request per call, no retries (the domain and
its outbox decide), the deadline enforced with :func:`asyncio.timeout` (httpx's timeouts do not apply
to an in-process ``ASGITransport``). Build the ``httpx.AsyncClient`` with
:func:`integrations.common.http.build_http_client`: ``inprocess://homecall`` reaches the simulator in
this process, ``https://…`` the served simulator or the real service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import httpx
from lxml import etree

from integrations.common.http import SoapUpstream, post_soap, soap_reply_parser
from integrations.homecall import soap
from integrations.homecall.protocol import (
    DEFAULT_STATUS_TABLE,
    ActiveCallExists,
    Address,
    Applicant,
    ClinicNotFound,
    HomeCallAccessDenied,
    HomeCallBadRequest,
    HomeCallCreated,
    HomeCallErrorCode,
    HomeCallFilter,
    HomeCallMalformedReply,
    HomeCallNotFound,
    HomeCallPatient,
    HomeCallRefusal,
    HomeCallSearch,
    HomeCallSlot,
    HomeCallStatus,
    HomeCallTimeout,
    HomeCallUnavailable,
    HomeCallValidation,
    NoAddress,
    NoContactPhone,
    NoDoctorOnDuty,
    NoReason,
    PatientNotAttached,
    PatientNotIdentified,
    ServiceDisabled,
    SessionExpired,
    SlotUnavailable,
    StatusChangeNotAllowed,
    StatusTable,
    TimeInterval,
)

DEFAULT_PATH = "/hub25/HomeCallService.svc"

DEFAULT_ERROR_MAP: Mapping[int, type[HomeCallRefusal]] = {
    HomeCallErrorCode.ACCESS_DENIED: HomeCallAccessDenied,
    HomeCallErrorCode.BAD_REQUEST: HomeCallBadRequest,
    HomeCallErrorCode.LPU_NOT_FOUND: ClinicNotFound,
    HomeCallErrorCode.SERVICE_DISABLED: ServiceDisabled,
    HomeCallErrorCode.ACTIVE_CALL_EXISTS: ActiveCallExists,
    HomeCallErrorCode.PATIENT_NOT_FOUND: PatientNotIdentified,
    HomeCallErrorCode.PATIENT_NOT_ATTACHED: PatientNotAttached,
    HomeCallErrorCode.NO_ADDRESS: NoAddress,
    HomeCallErrorCode.NO_PHONE: NoContactPhone,
    HomeCallErrorCode.NO_REASON: NoReason,
    HomeCallErrorCode.SESSION_NOT_FOUND: SessionExpired,
    HomeCallErrorCode.SLOT_NOT_AVAILABLE: SlotUnavailable,
    HomeCallErrorCode.NO_DOCTOR_ON_DUTY: NoDoctorOnDuty,
    HomeCallErrorCode.REQUEST_NOT_FOUND: HomeCallNotFound,
    HomeCallErrorCode.STATUS_CHANGE_NOT_ALLOWED: StatusChangeNotAllowed,
}

UPSTREAM = SoapUpstream(
    name="Сервис вызова врача на дом",
    name_genitive="сервиса вызова врача на дом",
    timeout=HomeCallTimeout,
    unavailable=HomeCallUnavailable,
    malformed=HomeCallMalformedReply,
)

#: A reply member that cannot be parsed is :class:`HomeCallMalformedReply`, never a bare ``ValueError``.
_parses_reply = soap_reply_parser(UPSTREAM)


class HomeCallClient:
    """``HomeCallClient(http, guid=..., timeout_s=...)``; ``http`` carries the service's base URL.

    ``error_map`` maps ``IdError`` codes to refusal classes (unmapped codes raise
    :class:`HomeCallRefusal`); ``status_table`` maps ``HomeCallStatus`` numbers. The defaults match the
    simulator.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        guid: str,
        timeout_s: float,
        path: str = DEFAULT_PATH,
        error_map: Mapping[int, type[HomeCallRefusal]] | None = None,
        status_table: StatusTable = DEFAULT_STATUS_TABLE,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._http = http
        self._guid = guid
        self._timeout_s = timeout_s
        self._path = path
        self._error_map = DEFAULT_ERROR_MAP if error_map is None else error_map
        self._table = status_table

    # -- operations ------------------------------------------------------------------------------

    @_parses_reply
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
        result = await self._call(
            "ValidateHomeCall",
            [
                ("idLpu", mo_id),
                ("reason", reason),
                ("comment", comment),
                ("idSession", session_id),
                ("guid", self._guid),
                ("timeIntervals", soap.fill_intervals(intervals) if intervals else None),
                ("homeCallPatient", soap.fill_patient(patient)),
                ("applicant", soap.fill_applicant(applicant)),
                ("address", soap.fill_address(address) if address is not None else None),
            ],
        )
        doctor_el = soap.child(result, "HomeCallDoctor", ns=soap.HC_NS)
        return HomeCallValidation(
            session_id=soap.required_text(result, "IdSession", ns=soap.HC_NS),
            patient_id=soap.required_text(result, "IdPat", ns=soap.HC_NS),
            doctor_position_id=soap.text(result, "IdDoctorPosition", ns=soap.HC_NS) or None,
            doctor=soap.read_doctor(doctor_el),
            slots=soap.read_slots(soap.child(doctor_el, "ListSlot", ns=soap.HUB_NS) if doctor_el is not None else None),
        )

    @_parses_reply
    async def get_slots(
        self, mo_id: str, session_id: str, intervals: Sequence[TimeInterval] = ()
    ) -> tuple[HomeCallSlot, ...]:
        result = await self._call(
            "GetHomeCallAvailableSlots",
            [
                ("idSession", session_id),
                ("idLpu", mo_id),
                ("guid", self._guid),
                ("timeIntervals", soap.fill_intervals(intervals) if intervals else None),
            ],
        )
        return soap.read_slots(soap.child(result, "ListSlot", ns=soap.HC_NS))

    @_parses_reply
    async def create(self, mo_id: str, session_id: str, slot_id: str) -> HomeCallCreated:
        result = await self._call(
            "CreateHomeCallRequest",
            [("idSession", session_id), ("idLpu", mo_id), ("idSlot", slot_id), ("guid", self._guid)],
        )
        return HomeCallCreated(
            request_id=soap.required_text(result, "IdHomeCallRequest", ns=soap.HC_NS),
            session_id=soap.text(result, "IdSession", ns=soap.HC_NS) or session_id,
        )

    @_parses_reply
    async def update(self, request_id: str, status: HomeCallStatus, comment: str | None = None) -> None:
        await self._call(
            "UpdateHomeCallRequest",
            [
                ("idHomeCallRequest", request_id),
                ("homeCallStatus", self._table.code(status)),
                ("comment", comment),
                ("guid", self._guid),
            ],
        )

    @_parses_reply
    async def search(self, filter: HomeCallFilter) -> HomeCallSearch:
        table = self._table

        def fill(el: etree._Element) -> None:
            if filter.created is not None:
                soap.fill_interval(filter.created)(soap.container(el, "CreatedDateRange"))
            statuses = [table.code(s) for s in filter.statuses]
            if statuses:
                holder = soap.container(el, "HomeCallStatuses")
                for code in statuses:
                    soap.put(holder, "int", code, ns=soap.ARRAYS_NS)
            soap.put(el, "IdDoc", filter.doctor_id, nil=False)
            soap.put(el, "IdHomeCallRequest", filter.request_id, nil=False)
            soap.put(el, "IdLpu", filter.mo_id, nil=False)
            soap.put(el, "IdNsiLpu", filter.nsi_mo_id, nil=False)
            if filter.patient_ids:
                holder = soap.container(el, "IdPatients")
                for patient_id in filter.patient_ids:
                    soap.put(holder, "string", patient_id, ns=soap.ARRAYS_NS)
            if filter.updated is not None:
                soap.fill_interval(filter.updated)(soap.container(el, "UpdatedDateRange"))

        result = await self._call("SearchHomeCallRequests", [("guid", self._guid), ("filter", fill)])
        items = [
            soap.read_request(el, table)
            for el in soap.children(
                soap.child(result, "ListHomeCallRequest", ns=soap.HC_NS), "HomeCallRequest", ns=soap.HC_NS
            )
        ]
        count = soap.parse_int(soap.text(result, "Count", ns=soap.HC_NS))
        return HomeCallSearch(count=len(items) if count is None else count, requests=tuple(items))

    # -- transport -------------------------------------------------------------------------------

    async def _call(self, method: str, params: Iterable[tuple[str, soap.ParamValue]]) -> etree._Element:
        body = soap.build_request(method, params)
        headers = {"Content-Type": soap.CONTENT_TYPE, "SOAPAction": soap.soap_action(method)}
        payload = await post_soap(
            self._http,
            UPSTREAM,
            self._path,
            method,
            content=body,
            headers=headers,
            timeout_s=self._timeout_s,
            parse_body=soap.parse_body,
        )
        try:
            result, errors = soap.method_result(payload, method)
        except soap.SoapMalformed as exc:
            raise UPSTREAM.malformed_reply(method, exc) from exc
        if errors:
            code, message = errors[0]
            raise self._error_map.get(code, HomeCallRefusal)(
                code, message or "Сервис вызова врача на дом вернул отказ без описания"
            )
        return result
