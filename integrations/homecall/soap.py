"""SOAP 1.1 messages of the N3 HomeCallService (WCF ``basicHttpBinding``), built and parsed with lxml.

Wire shape (``protocols.md`` §3.1; IHomeCallService.cs, HomeCallServiceContractClasses.cs):

* ``SOAPAction: "http://tempuri.org/IHomeCallService/<Method>"``; body root ``tem:<Method>`` in
  ``http://tempuri.org/`` with one child per parameter, in parameter order;
* the home-call data contracts (``TimeInterval``, ``homeCallPatient``, ``Applicant``, ``Address``,
  ``HomeCallRequest``, ``SearchHomeCallRequestFilter`` and the ``*Result`` classes) are in
  ``http://schemas.datacontract.org/2004/07/HubService2.ContractsClasses.HomeCall``; ``MethodResult``
  (``ErrorList, IdHistory, Success``), ``Error``, ``HomeCallDoctor`` and ``Slot`` are in the hub's
  ``http://schemas.datacontract.org/2004/07/HubService2``. A member element is in the namespace of the
  contract that declares it; base members come first, then the rest alphabetically
  (``DataContractSerializer``); arrays of ``int`` / ``string`` use the Serialization/Arrays namespace.

Helpers shared with the booking hub (envelope parsing that refuses DTDs and entities, scalars, faults)
come from :mod:`integrations.fer.soap`. The serialisers and parsers of the data contracts are here, used
by the client, the simulator and the push handler alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from lxml import etree

from integrations.fer.areas import AreaType
from integrations.fer.soap import (
    ARRAYS_NS,
    CONTENT_TYPE,
    HUB_NS,
    SOAP_ENV_NS,
    TEMPURI_NS,
    XSI_NS,
    Scalar,
    SoapFault,
    SoapMalformed,
    build_fault,
    child,
    children,
    format_scalar,
    local_name,
    parse_body,
    parse_bool,
    parse_datetime,
    parse_int,
    qn,
    required_text,
    serialize,
    text,
)
from integrations.homecall.protocol import (
    Address,
    Applicant,
    HomeCallDoctor,
    HomeCallPatient,
    HomeCallRequestInfo,
    HomeCallSlot,
    StatusTable,
    TimeInterval,
)

__all__ = [
    "ARRAYS_NS",
    "CONTENT_TYPE",
    "HC_NS",
    "HUB_NS",
    "SOAP_ACTION_PREFIX",
    "TEMPURI_NS",
    "SoapFault",
    "SoapMalformed",
    "build_fault",
    "build_request",
    "child",
    "children",
    "local_name",
    "method_from_action",
    "new_result",
    "parse_body",
    "parse_bool",
    "parse_datetime",
    "parse_int",
    "qn",
    "required_text",
    "serialize",
    "soap_action",
    "text",
]

HC_NS = "http://schemas.datacontract.org/2004/07/HubService2.ContractsClasses.HomeCall"
SOAP_ACTION_PREFIX = "http://tempuri.org/IHomeCallService/"

_NIL = f"{{{XSI_NS}}}nil"

Filler = Callable[[etree._Element], None]
ParamValue = Scalar | Filler | None


def soap_action(method: str) -> str:
    return f'"{SOAP_ACTION_PREFIX}{method}"'


def method_from_action(header: str | None) -> str | None:
    if not header:
        return None
    action = header.strip().strip('"')
    if not action.startswith(SOAP_ACTION_PREFIX):
        return None
    return action[len(SOAP_ACTION_PREFIX) :] or None


def put(
    parent: etree._Element, name: str, value: Scalar | None, *, ns: str = HC_NS, nil: bool = True
) -> etree._Element | None:
    """Append ``<name>`` with ``value``; ``None`` gives ``i:nil="true"`` (or nothing with ``nil=False``)."""
    if value is None and not nil:
        return None
    el = etree.SubElement(parent, qn(ns, name))
    if value is None:
        el.set(_NIL, "true")
    else:
        el.text = format_scalar(value)
    return el


def container(parent: etree._Element, name: str, *, ns: str = HC_NS) -> etree._Element:
    return etree.SubElement(parent, qn(ns, name))


# -- envelopes -----------------------------------------------------------------------------------


def build_request(method: str, params: Iterable[tuple[str, ParamValue]]) -> bytes:
    """``tem:<method>`` with the parameters in order; ``None`` is left out, a filler builds a complex one."""
    env = etree.Element(
        qn(SOAP_ENV_NS, "Envelope"),
        nsmap={"s": SOAP_ENV_NS, "tem": TEMPURI_NS, "hc": HC_NS, "a": HUB_NS, "arr": ARRAYS_NS, "i": XSI_NS},
    )
    body = etree.SubElement(env, qn(SOAP_ENV_NS, "Body"))
    op = etree.SubElement(body, qn(TEMPURI_NS, method))
    for name, value in params:
        if value is None:
            continue
        el = etree.SubElement(op, qn(TEMPURI_NS, name))
        if callable(value):
            value(el)
        else:
            el.text = format_scalar(value)
    return serialize(env)


def new_result(
    method: str, *, errors: Sequence[tuple[int, str]] = (), id_history: int | None = None
) -> tuple[etree._Element, etree._Element]:
    """Envelope and ``<method>Result`` with ``MethodResult`` members in place; append the derived ones."""
    env = etree.Element(qn(SOAP_ENV_NS, "Envelope"), nsmap={"s": SOAP_ENV_NS})
    body = etree.SubElement(env, qn(SOAP_ENV_NS, "Body"))
    response = etree.SubElement(
        body,
        qn(TEMPURI_NS, f"{method}Response"),
        nsmap={None: TEMPURI_NS},  # type: ignore[dict-item]  # lxml-stubs forbid the default ns
    )
    result = etree.SubElement(
        response,
        qn(TEMPURI_NS, f"{method}Result"),
        nsmap={"a": HUB_NS, "b": HC_NS, "i": XSI_NS, "c": ARRAYS_NS},
    )
    error_list = container(result, "ErrorList", ns=HUB_NS)
    for code, message in errors:
        err = container(error_list, "Error", ns=HUB_NS)
        put(err, "ErrorDescription", message, ns=HUB_NS)
        put(err, "IdError", code, ns=HUB_NS)
    put(result, "IdHistory", id_history, ns=HUB_NS)
    put(result, "Success", not errors, ns=HUB_NS)
    return env, result


def method_result(payload: etree._Element, method: str) -> tuple[etree._Element, list[tuple[int, str]]]:
    """The ``<method>Result`` of a ``<method>Response`` and its errors; ``SoapMalformed`` if the shape is wrong."""
    if payload.tag != qn(TEMPURI_NS, f"{method}Response"):
        raise SoapMalformed(f"ожидался {method}Response, получен {payload.tag}")
    result = payload.find(qn(TEMPURI_NS, f"{method}Result"))
    if result is None:
        raise SoapMalformed(f"нет {method}Result")
    success = parse_bool(text(result, "Success", ns=HUB_NS))
    errors: list[tuple[int, str]] = []
    for err in children(child(result, "ErrorList", ns=HUB_NS), "Error", ns=HUB_NS):
        code = parse_int(text(err, "IdError", ns=HUB_NS))
        errors.append((0 if code is None else code, text(err, "ErrorDescription", ns=HUB_NS) or ""))
    if not success and not errors:
        errors.append((0, ""))
    return result, errors


# -- data contracts: writing ---------------------------------------------------------------------


def fill_intervals(intervals: Sequence[TimeInterval]) -> Filler:
    def fill(el: etree._Element) -> None:
        for interval in intervals:
            item = container(el, "TimeInterval")
            put(item, "End", interval.end)
            put(item, "Start", interval.start)

    return fill


def fill_interval(interval: TimeInterval) -> Filler:
    def fill(el: etree._Element) -> None:
        put(el, "End", interval.end)
        put(el, "Start", interval.start)

    return fill


def fill_patient(patient: HomeCallPatient, *, nil: bool = False) -> Filler:
    def fill(el: etree._Element) -> None:
        put(el, "BirthDate", patient.birth_date, nil=nil)
        put(el, "FirstName", patient.first_name, nil=nil)
        put(el, "LastName", patient.last_name, nil=nil)
        put(el, "MiddleName", patient.middle_name, nil=nil)
        put(el, "OMSNumber", patient.oms_number, nil=nil)
        put(el, "OMSSeries", patient.oms_series, nil=nil)
        put(el, "Sex", patient.sex, nil=nil)
        put(el, "Snils", patient.snils, nil=nil)

    return fill


def fill_applicant(applicant: Applicant, *, nil: bool = False) -> Filler:
    def fill(el: etree._Element) -> None:
        put(el, "Email", applicant.email, nil=nil)
        put(el, "FirstName", applicant.first_name, nil=nil)
        put(el, "LastName", applicant.last_name, nil=nil)
        put(el, "MiddleName", applicant.middle_name, nil=nil)
        put(el, "MobilePhone", applicant.mobile_phone, nil=nil)
        put(el, "SNILS", applicant.snils, nil=nil)

    return fill


_ADDRESS_MEMBERS = (
    ("AdditionalArea", "additional_area"),
    ("AdditionalStreet", "additional_street"),
    ("AddressLine", "address_line"),
    ("Apartment", "apartment"),
    ("Area", "area"),
    ("City", "city"),
    ("CityArea", "city_area"),
    ("CodKladrFias", "kladr_fias_code"),
    ("Comment", "comment"),
    ("House", "house"),
    ("Housing", "housing"),
    ("Place", "place"),
    ("PostIndex", "post_index"),
    ("Region", "region"),
    ("Street", "street"),
    ("Structure", "structure"),
)


def fill_address(address: Address, *, nil: bool = False) -> Filler:
    def fill(el: etree._Element) -> None:
        for member, attr in _ADDRESS_MEMBERS:
            put(el, member, getattr(address, attr), nil=nil)

    return fill


def add_slot(parent: etree._Element, slot: HomeCallSlot, *, name: str = "Slot", ns: str = HUB_NS) -> None:
    el = container(parent, name, ns=ns)
    put(el, "Duration", slot.duration_minutes, ns=HUB_NS)
    put(el, "IdSlot", slot.id, ns=HUB_NS)
    put(el, "VisitTime", slot.visit_time, ns=HUB_NS)


def add_slot_list(parent: etree._Element, slots: Iterable[HomeCallSlot], *, ns: str) -> None:
    """``ListSlot`` (a member in ``ns``) of ``Slot`` items in the hub namespace."""
    el = container(parent, "ListSlot", ns=ns)
    for slot in slots:
        add_slot(el, slot)


def add_doctor_members(el: etree._Element, doctor: HomeCallDoctor) -> None:
    """``HomeCallDoctor`` members (hub namespace), alphabetical."""
    put(el, "Area", doctor.area, ns=HUB_NS)
    put(el, "AreaType", doctor.area_type.wire_name if doctor.area_type else None, ns=HUB_NS)
    put(el, "Comment", doctor.comment, ns=HUB_NS)
    put(el, "CountFreeParticipantIE", doctor.free_tickets, ns=HUB_NS)
    put(el, "CountFreeTicket", doctor.free_tickets, ns=HUB_NS)
    put(el, "IdDoc", doctor.id, ns=HUB_NS)
    put(el, "LastDate", doctor.last_date, ns=HUB_NS)
    put(el, "Name", doctor.name, ns=HUB_NS)
    put(el, "NearestDate", doctor.nearest_date, ns=HUB_NS)
    put(el, "Snils", doctor.snils, ns=HUB_NS)


def add_request(
    parent: etree._Element, name: str, request: HomeCallRequestInfo, table: StatusTable, *, ns: str = HC_NS
) -> None:
    """A ``HomeCallRequest`` as element ``name`` (in ``ns``) of ``parent``; its members in the home-call namespace."""
    el = container(parent, name, ns=ns)
    if request.address is None:
        put(el, "Address", None)
    else:
        fill_address(request.address, nil=True)(container(el, "Address"))
    if request.applicant is None:
        put(el, "Applicant", None)
    else:
        fill_applicant(request.applicant, nil=True)(container(el, "Applicant"))
    put(el, "Comment", request.comment)
    put(el, "CreatedDate", request.created_at)
    if request.doctor is None:
        put(el, "HomeCallDoctor", None)
    else:
        add_doctor_members(container(el, "HomeCallDoctor"), request.doctor)
    if request.patient is None:
        put(el, "HomeCallPatient", None)
    else:
        fill_patient(request.patient, nil=True)(container(el, "HomeCallPatient"))
    put(el, "HomeCallStatus", table.code(request.status))
    put(el, "IdDoctorPosition", request.doctor_position_id)
    put(el, "IdHomeCallRequest", request.request_id)
    put(el, "IdLpu", request.mo_id)
    put(el, "IdNsiLpu", request.nsi_mo_id)
    put(el, "IdPat", request.patient_id)
    put(el, "IdSession", request.session_id)
    put(el, "MemberGuid", request.member_guid)
    put(el, "Reason", request.reason)
    if request.slot is None:
        put(el, "Slot", None)
    else:
        add_slot(el, request.slot, ns=HC_NS)
    put(el, "UpdatedDate", request.updated_at)


# -- data contracts: reading ---------------------------------------------------------------------


def _present(el: etree._Element | None) -> bool:
    return el is not None and el.get(_NIL) != "true"


def read_intervals(el: etree._Element | None) -> list[TimeInterval]:
    intervals: list[TimeInterval] = []
    for item in children(el, "TimeInterval", ns=HC_NS):
        intervals.append(read_interval(item))
    return intervals


def read_interval(el: etree._Element) -> TimeInterval:
    start = parse_datetime(text(el, "Start", ns=HC_NS))
    end = parse_datetime(text(el, "End", ns=HC_NS))
    if start is None or end is None:
        raise SoapMalformed("у интервала времени нет начала или окончания")
    try:
        return TimeInterval(start, end)
    except ValueError as exc:
        raise SoapMalformed("интервал времени заканчивается раньше, чем начинается") from exc


def read_patient(el: etree._Element | None) -> HomeCallPatient | None:
    if el is None or not _present(el):
        return None
    birth = parse_datetime(text(el, "BirthDate", ns=HC_NS))
    if birth is None:
        raise SoapMalformed("у пациента нет даты рождения")
    return HomeCallPatient(
        last_name=text(el, "LastName", ns=HC_NS) or "",
        first_name=text(el, "FirstName", ns=HC_NS) or "",
        middle_name=text(el, "MiddleName", ns=HC_NS) or None,
        birth_date=birth.date(),
        sex=text(el, "Sex", ns=HC_NS) or None,
        snils=text(el, "Snils", ns=HC_NS) or None,
        oms_series=text(el, "OMSSeries", ns=HC_NS) or None,
        oms_number=text(el, "OMSNumber", ns=HC_NS) or "",
    )


def read_applicant(el: etree._Element | None) -> Applicant | None:
    if el is None or not _present(el):
        return None
    return Applicant(
        last_name=text(el, "LastName", ns=HC_NS) or "",
        first_name=text(el, "FirstName", ns=HC_NS) or "",
        middle_name=text(el, "MiddleName", ns=HC_NS) or None,
        mobile_phone=text(el, "MobilePhone", ns=HC_NS) or "",
        email=text(el, "Email", ns=HC_NS) or None,
        snils=text(el, "SNILS", ns=HC_NS) or None,
    )


def read_address(el: etree._Element | None) -> Address | None:
    if el is None or not _present(el):
        return None
    values = {attr: (text(el, member, ns=HC_NS) or None) for member, attr in _ADDRESS_MEMBERS}
    return Address(**values)


def read_slot(el: etree._Element | None) -> HomeCallSlot | None:
    if el is None or not _present(el):
        return None
    visit = parse_datetime(text(el, "VisitTime", ns=HUB_NS))
    if visit is None:
        raise SoapMalformed("у окна визита нет времени")
    return HomeCallSlot(
        id=required_text(el, "IdSlot", ns=HUB_NS),
        visit_time=visit,
        duration_minutes=parse_int(text(el, "Duration", ns=HUB_NS)) or 0,
    )


def read_slots(el: etree._Element | None) -> tuple[HomeCallSlot, ...]:
    slots = [read_slot(item) for item in children(el, "Slot", ns=HUB_NS)]
    return tuple(s for s in slots if s is not None)


def read_doctor(el: etree._Element | None) -> HomeCallDoctor | None:
    if el is None or not _present(el):
        return None
    try:
        area_type = AreaType.parse(text(el, "AreaType", ns=HUB_NS))
    except ValueError as exc:
        raise SoapMalformed(str(exc)) from exc
    return HomeCallDoctor(
        id=required_text(el, "IdDoc", ns=HUB_NS),
        name=text(el, "Name", ns=HUB_NS) or "",
        snils=text(el, "Snils", ns=HUB_NS) or None,
        area=text(el, "Area", ns=HUB_NS) or None,
        area_type=area_type,
        comment=text(el, "Comment", ns=HUB_NS) or None,
        free_tickets=parse_int(text(el, "CountFreeTicket", ns=HUB_NS)),
        nearest_date=parse_datetime(text(el, "NearestDate", ns=HUB_NS)),
        last_date=parse_datetime(text(el, "LastDate", ns=HUB_NS)),
    )


def read_request(el: etree._Element, table: StatusTable) -> HomeCallRequestInfo:
    """A ``HomeCallRequest`` (its members in the home-call namespace, whatever the wrapper's)."""
    status_code = parse_int(text(el, "HomeCallStatus", ns=HC_NS))
    if status_code is None:
        raise SoapMalformed("у вызова нет статуса")
    try:
        status = table.status(status_code)
    except ValueError as exc:
        raise SoapMalformed(str(exc)) from exc
    created = parse_datetime(text(el, "CreatedDate", ns=HC_NS))
    updated = parse_datetime(text(el, "UpdatedDate", ns=HC_NS))
    if created is None:
        raise SoapMalformed("у вызова нет даты создания")
    return HomeCallRequestInfo(
        request_id=required_text(el, "IdHomeCallRequest", ns=HC_NS),
        mo_id=required_text(el, "IdLpu", ns=HC_NS),
        status=status,
        status_code=status_code,
        created_at=created,
        updated_at=updated or created,
        patient_id=text(el, "IdPat", ns=HC_NS) or None,
        session_id=text(el, "IdSession", ns=HC_NS) or None,
        nsi_mo_id=text(el, "IdNsiLpu", ns=HC_NS) or None,
        reason=text(el, "Reason", ns=HC_NS) or None,
        comment=text(el, "Comment", ns=HC_NS) or None,
        slot=read_slot(child(el, "Slot", ns=HC_NS)),
        doctor=read_doctor(child(el, "HomeCallDoctor", ns=HC_NS)),
        doctor_position_id=text(el, "IdDoctorPosition", ns=HC_NS) or None,
        patient=read_patient(child(el, "HomeCallPatient", ns=HC_NS)),
        applicant=read_applicant(child(el, "Applicant", ns=HC_NS)),
        address=read_address(child(el, "Address", ns=HC_NS)),
        member_guid=text(el, "MemberGuid", ns=HC_NS) or None,
    )
