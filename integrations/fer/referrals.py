"""Referrals (направления) in the booking hub: ``CheckReferral``, ``InspectDoctorsReferal`` and
``GetAppointmentsDemandDoctorsReferal`` of the N3 HubService, and ``SetAppointment``'s ``doctorsReferral``.

Kept out of :mod:`integrations.fer.client` and :mod:`integrations.fer.simulator` (as
:mod:`integrations.fer.areas` is): :class:`FerReferralsClient` is the hub client with these operations (a
drop-in replacement), and :data:`REFERRAL_HANDLERS` are the simulator's handlers.

Wire shape (the generated WCF client ``GumerovRinat/N3ApiClient``: ``IHubService.cs``,
``HubServiceContractClasses.cs``; names keep the hub's spellings):

* ``CheckReferral(doctorsReferral, guid, idHistory)`` → ``CheckReferralResult : MethodResult { Referral }``,
  ``Referral`` of the data-contract namespace ``…/HubService2.Dto``: ``EventsInfo``, ``Patient{Person{BirthDate,
  HumanName{FamilyName, GivenName, MiddleName}}}``, ``ReferralInfo{Comment, Date, IdMq, MqReferralStatus:
  Coding{Code, System, Version}, Priority, ProfileMedService: Coding, Reason, ReferralType: Coding}``,
  ``Source{Doctors: Doctor[]{Lpu, Person, Position, Role, Speciality}, IdCaseMis, IdReferralMis, Lpu: Coding}``,
  ``Target{Doctors, Lpu: Coding, …}``.
* ``InspectDoctorsReferal(idLpu, doctorsReferal, guid, idHistory)`` → ``InspectDoctorsReferalResult :
  MethodResult { IdDoc, IdLpu, Id_Patient, Type: AppointmentType }``: where the referral may be booked, the
  patient's IdPat there, and the target doctor when the referral names one.
* ``GetAppointmentsDemandDoctorsReferal(idDoc, idLpu, idPat, appType, startVisit, endVisit, guid, idHistory)``
  → ``GetAvaibleAppointmentsResult``: the free slots of a doctor booked only by referral.

What the public contract leaves open, and what this adapter chose (**unconfirmed** against a real hub):

* ``ReferralInfo.ProfileMedService.Code`` carries the target specialty as the hub's ``IdSpesiality``;
* ``MqReferralStatus.Code``: 1 issued (выдано), 2 booked (записан), 3 served (обслужено), 4 cancelled
  (аннулировано) — :class:`ReferralStatus`;
* the validity date is not in the contract: the simulator adds ``ValidityDate`` to ``ReferralInfo`` (after
  the contract's members) and the client reads ``None`` from a real hub (the referral is then valid until
  the hub says otherwise);
* the issuing doctor's SNILS travels as ``Source/Doctors/Doctor/Person/IdPersonMis``.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from weakref import WeakKeyDictionary

from lxml import etree

from integrations.fer import soap
from integrations.fer.areas import FerAreasClient, HubBusinessError
from integrations.fer.protocol import AppointmentStatus, HubErrorCode, HubMalformedReply, Slot

if TYPE_CHECKING:
    from integrations.demo_region.model import Person, Region
    from integrations.fer.sim_state import FerSimulatorState

DTO_NS = "http://schemas.datacontract.org/2004/07/HubService2.Dto"
_DAY_END = time(23, 59, 59)


class ReferralStatus(enum.IntEnum):
    """``MqReferralStatus.Code`` as this adapter reads it (see the module docstring)."""

    ISSUED = 1
    BOOKED = 2
    SERVED = 3
    CANCELLED = 4


class AppointmentKind(enum.IntEnum):
    """The hub's ``AppointmentType`` (HubServiceEnums.cs)."""

    UNSPECIFIED = 0
    CONSULTATION = 1
    REPEAT = 2


@dataclass(frozen=True, slots=True)
class HubReferral:
    """One ``Referral`` of ``CheckReferral``."""

    number: str  # ReferralInfo.IdMq: the number the patient and the doctor know
    issued_on: date | None  # ReferralInfo.Date
    valid_until: date | None  # ReferralInfo.ValidityDate (simulator extension; None from a real hub)
    status: ReferralStatus | None
    target_specialty_id: str | None  # ReferralInfo.ProfileMedService.Code
    target_mo_id: str | None  # Target.Lpu.Code
    reason: str | None  # ReferralInfo.Reason
    issuer_mo_id: str | None  # Source.Lpu.Code
    issuer_name: str | None  # Source.Doctors[0].Person.HumanName
    issuer_snils: str | None  # Source.Doctors[0].Person.IdPersonMis
    patient_last_name: str | None
    patient_birth_date: date | None


@dataclass(frozen=True, slots=True)
class ReferralInspection:
    """``InspectDoctorsReferalResult``."""

    mo_id: str
    patient_id: str | None  # Id_Patient: the IdPat in mo_id
    doctor_id: str | None  # IdDoc: the target doctor, when the referral names one
    kind: AppointmentKind


@runtime_checkable
class ReferralsHub(Protocol):
    async def check_referral(self, number: str) -> HubReferral:
        """CheckReferral; raises :class:`~integrations.fer.protocol.ReferralNotFound`."""
        ...

    async def inspect_referral(self, mo_id: str, number: str) -> ReferralInspection:
        """InspectDoctorsReferal: may the referral be booked in ``mo_id``; raises ``ReferralNotFound`` /
        ``ReferralInvalid``."""
        ...

    async def get_referral_slots(
        self,
        mo_id: str,
        doctor_id: str,
        patient_id: str | None,
        start: date,
        end: date,
        *,
        kind: AppointmentKind = AppointmentKind.CONSULTATION,
    ) -> list[Slot]:
        """GetAppointmentsDemandDoctorsReferal: free slots of a doctor booked by referral."""
        ...


def _coding_code(el: etree._Element | None, name: str) -> str | None:
    return soap.text(soap.child(el, name, ns=DTO_NS) if el is not None else None, "Code", ns=DTO_NS) or None


def _date(value: str | None) -> date | None:
    moment = soap.parse_datetime(value)
    return moment.date() if moment is not None else None


def _human_name(person: etree._Element | None) -> str | None:
    name = soap.child(person, "HumanName", ns=DTO_NS) if person is not None else None
    parts = [soap.text(name, n, ns=DTO_NS) for n in ("FamilyName", "GivenName", "MiddleName")]
    joined = " ".join(p for p in parts if p)
    return joined or None


def _status(code: str | None) -> ReferralStatus | None:
    if not code:
        return None
    try:
        return ReferralStatus(int(code))
    except ValueError as exc:
        raise HubMalformedReply(f"неизвестный статус направления {code!r}") from exc


class FerReferralsClient(FerAreasClient):
    """The hub client with the referral operations; implements ``BookingHub``, ``PatientAreasHub`` and
    :class:`ReferralsHub`."""

    async def check_referral(self, number: str) -> HubReferral:
        result = await self._call("CheckReferral", [("doctorsReferral", number)])
        try:
            referral = soap.child(result, "Referral")
            if referral is None:
                raise soap.SoapMalformed("нет Referral")
            info = soap.child(referral, "ReferralInfo", ns=DTO_NS)
            source = soap.child(referral, "Source", ns=DTO_NS)
            target = soap.child(referral, "Target", ns=DTO_NS)
            doctors = soap.children(
                soap.child(source, "Doctors", ns=DTO_NS) if source is not None else None, "Doctor", ns=DTO_NS
            )
            issuer = soap.child(doctors[0], "Person", ns=DTO_NS) if doctors else None
            patient = soap.child(referral, "Patient", ns=DTO_NS)
            person = soap.child(patient, "Person", ns=DTO_NS) if patient is not None else None
            family = soap.child(person, "HumanName", ns=DTO_NS) if person is not None else None
            return HubReferral(
                number=soap.text(info, "IdMq", ns=DTO_NS) or number,
                issued_on=_date(soap.text(info, "Date", ns=DTO_NS)),
                valid_until=_date(soap.text(info, "ValidityDate", ns=DTO_NS)),
                status=_status(_coding_code(info, "MqReferralStatus")),
                target_specialty_id=_coding_code(info, "ProfileMedService"),
                target_mo_id=_coding_code(target, "Lpu"),
                reason=soap.text(info, "Reason", ns=DTO_NS) or None,
                issuer_mo_id=_coding_code(source, "Lpu"),
                issuer_name=_human_name(issuer),
                issuer_snils=soap.text(issuer, "IdPersonMis", ns=DTO_NS) or None,
                patient_last_name=soap.text(family, "FamilyName", ns=DTO_NS) or None,
                patient_birth_date=_date(soap.text(person, "BirthDate", ns=DTO_NS)),
            )
        except soap.SoapMalformed as exc:
            raise HubMalformedReply(f"Некорректный ответ хаба записи (CheckReferral): {exc}") from exc

    async def inspect_referral(self, mo_id: str, number: str) -> ReferralInspection:
        result = await self._call("InspectDoctorsReferal", [("idLpu", mo_id), ("doctorsReferal", number)])
        kind_text = soap.text(result, "Type")
        try:
            kind = AppointmentKind(int(kind_text)) if kind_text and kind_text.isdigit() else AppointmentKind.UNSPECIFIED
        except ValueError as exc:
            raise HubMalformedReply(f"неизвестный AppointmentType {kind_text!r}") from exc
        return ReferralInspection(
            mo_id=soap.text(result, "IdLpu") or mo_id,
            patient_id=soap.text(result, "Id_Patient") or None,
            doctor_id=soap.text(result, "IdDoc") or None,
            kind=kind,
        )

    async def get_referral_slots(
        self,
        mo_id: str,
        doctor_id: str,
        patient_id: str | None,
        start: date,
        end: date,
        *,
        kind: AppointmentKind = AppointmentKind.CONSULTATION,
    ) -> list[Slot]:
        result = await self._call(
            "GetAppointmentsDemandDoctorsReferal",
            [
                ("idDoc", doctor_id),
                ("idLpu", mo_id),
                ("idPat", patient_id),
                ("appType", int(kind)),
                ("startVisit", datetime.combine(start, time())),
                ("endVisit", datetime.combine(end, _DAY_END)),
            ],
        )
        slots: list[Slot] = []
        try:
            for el in soap.children(soap.child(result, "ListAppointments"), "Appointment"):
                visit_start = soap.parse_datetime(soap.text(el, "VisitStart"))
                visit_end = soap.parse_datetime(soap.text(el, "VisitEnd"))
                if visit_start is None or visit_end is None:
                    raise soap.SoapMalformed("у талона нет времени начала или окончания")
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
        except soap.SoapMalformed as exc:
            raise HubMalformedReply(
                f"Некорректный ответ хаба записи (GetAppointmentsDemandDoctorsReferal): {exc}"
            ) from exc
        return slots


# -- the simulator's side ------------------------------------------------------------------------


@dataclass(slots=True)
class SimReferral:
    number: str
    person_oid: str
    specialty_code: str
    issuer_doctor_id: str
    issuer_mo_id: str
    issued_on: date
    valid_until: date
    target_mo_id: str | None = None
    reason: str | None = None
    cancelled: bool = False


@dataclass
class ReferralBook:
    """The referrals the hub knows (issued by the clinics' MIS; the simulator's admin hook issues them)."""

    referrals: dict[str, SimReferral] = field(default_factory=dict)
    counter: int = 0


_BOOKS: WeakKeyDictionary[FerSimulatorState, ReferralBook] = WeakKeyDictionary()


def referral_book(state: FerSimulatorState) -> ReferralBook:
    book = _BOOKS.get(state)
    if book is None:
        book = ReferralBook()
        _BOOKS[state] = book
    return book


def issue_referral(
    state: FerSimulatorState,
    *,
    person_oid: str,
    specialty_code: str,
    issuer_doctor_id: str,
    valid_days: int = 30,
    issued_on: date | None = None,
    target_mo_id: str | None = None,
    reason: str | None = None,
    number: str | None = None,
) -> str:
    """The MO's side: a doctor's MIS issues a referral (the admin hook of tests, the demo and the scenario
    admin). Returns its number, ``NAPR-<region>-<serial>`` unless given."""
    book = referral_book(state)
    issuer = state.doctor_entry(issuer_doctor_id)
    day = issued_on or state.now().date()
    book.counter += 1
    value = number or f"NAPR-{state.region.code}-{book.counter:06d}"
    book.referrals[value] = SimReferral(
        number=value,
        person_oid=person_oid,
        specialty_code=specialty_code,
        issuer_doctor_id=issuer_doctor_id,
        issuer_mo_id=issuer.mo.id,
        issued_on=day,
        valid_until=day + timedelta(days=valid_days),
        target_mo_id=target_mo_id,
        reason=reason,
    )
    return value


def cancel_referral(state: FerSimulatorState, number: str) -> None:
    """The MO annuls a referral (admin hook)."""
    referral_book(state).referrals[number].cancelled = True


def _status_of(state: FerSimulatorState, referral: SimReferral) -> ReferralStatus:
    if referral.cancelled:
        return ReferralStatus.CANCELLED
    for booking in reversed(state.bookings):
        if booking.referral_id != referral.number:
            continue
        if booking.status is None:
            return ReferralStatus.BOOKED
        if booking.status in (AppointmentStatus.VISITED, AppointmentStatus.NO_SHOW):
            return ReferralStatus.SERVED
    return ReferralStatus.ISSUED


def _lookup(state: FerSimulatorState, number: str) -> SimReferral:
    referral = referral_book(state).referrals.get(number.strip())
    if referral is None:
        raise HubBusinessError(HubErrorCode.REFERRAL_NOT_FOUND, number)
    return referral


def _usable(state: FerSimulatorState, referral: SimReferral, mo_id: str) -> None:
    status = _status_of(state, referral)
    if status is not ReferralStatus.ISSUED:
        raise HubBusinessError(HubErrorCode.REFERRAL_INVALID, f"статус направления {int(status)}")
    if referral.valid_until < state.now().date():
        raise HubBusinessError(HubErrorCode.REFERRAL_INVALID, "срок действия направления истёк")
    if referral.target_mo_id is not None and referral.target_mo_id != mo_id:
        raise HubBusinessError(HubErrorCode.REFERRAL_INVALID, "направление выдано в другую медицинскую организацию")


def check_referral_for_booking(
    state: FerSimulatorState, person: Person, specialty_code: str, mo_id: str, number: str
) -> None:
    """SetAppointment with ``doctorsReferral``: the referral must be the patient's, for this specialty, usable
    in this MO and not used by another live booking."""
    referral = _lookup(state, number)
    if referral.person_oid != person.esia_oid:
        raise HubBusinessError(HubErrorCode.REFERRAL_INVALID, "направление выдано другому пациенту")
    if referral.specialty_code != specialty_code:
        raise HubBusinessError(HubErrorCode.REFERRAL_INVALID, "направление выдано к другому специалисту")
    _usable(state, referral, mo_id)


def _box(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, soap.qn(DTO_NS, name))


def _add_coding(parent: etree._Element, name: str, code: str | None, system: str | None = None) -> None:
    if code is None:
        soap.add(parent, name, None, ns=DTO_NS)
        return
    el = _box(parent, name)
    soap.add(el, "Code", code, ns=DTO_NS)
    soap.add(el, "System", system, ns=DTO_NS)
    soap.add(el, "Version", None, ns=DTO_NS)


def _check_referral(state: FerSimulatorState, params: Any, id_history: int) -> etree._Element:
    referral = _lookup(state, params.required("doctorsReferral"))
    person = next((p for p in state.region.people if p.esia_oid == referral.person_oid), None)
    issuer = state.doctor_entry(referral.issuer_doctor_id)
    env, result = soap.new_result("CheckReferral", id_history=id_history)
    el = soap.add_container(result, "Referral")
    # Members in DataContractSerializer (alphabetical) order.
    _box(el, "EventsInfo")
    patient = _box(el, "Patient")
    if person is not None:
        pers = _box(patient, "Person")
        soap.add(pers, "BirthDate", datetime.combine(person.birth_date, time()), ns=DTO_NS)
        name = _box(pers, "HumanName")
        soap.add(name, "FamilyName", person.last_name, ns=DTO_NS)
        soap.add(name, "GivenName", person.first_name, ns=DTO_NS)
        soap.add(name, "MiddleName", person.middle_name, ns=DTO_NS)
    info = _box(el, "ReferralInfo")
    soap.add(info, "Comment", None, ns=DTO_NS)
    soap.add(info, "Date", datetime.combine(referral.issued_on, time()), ns=DTO_NS)
    soap.add(info, "IdMq", referral.number, ns=DTO_NS)
    _add_coding(info, "MqReferralStatus", str(int(_status_of(state, referral))))
    soap.add(info, "Priority", None, ns=DTO_NS)
    _add_coding(info, "ProfileMedService", referral.specialty_code)
    soap.add(info, "Reason", referral.reason, ns=DTO_NS)
    _add_coding(info, "ReferralType", "2")  # 2: на консультацию (unconfirmed catalogue)
    # Extension member of the simulator (after the contract's own): the last day the referral is valid.
    soap.add(info, "ValidityDate", datetime.combine(referral.valid_until, time()), ns=DTO_NS)
    source = _box(el, "Source")
    doctors = _box(source, "Doctors")
    doctor = _box(doctors, "Doctor")
    _add_coding(doctor, "Lpu", issuer.mo.id)
    dperson = _box(doctor, "Person")
    dname = _box(dperson, "HumanName")
    soap.add(dname, "FamilyName", issuer.doctor.last_name, ns=DTO_NS)
    soap.add(dname, "GivenName", issuer.doctor.first_name, ns=DTO_NS)
    soap.add(dname, "MiddleName", issuer.doctor.middle_name, ns=DTO_NS)
    soap.add(dperson, "IdPersonMis", issuer.doctor.snils, ns=DTO_NS)
    _add_coding(doctor, "Speciality", issuer.specialty.code)
    _add_coding(source, "Lpu", issuer.mo.id)
    target = _box(el, "Target")
    _add_coding(target, "Lpu", referral.target_mo_id)
    return env


def _inspect_doctors_referal(state: FerSimulatorState, params: Any, id_history: int) -> etree._Element:
    mo_id = params.required("idLpu")
    referral = _lookup(state, params.required("doctorsReferal"))
    _usable(state, referral, mo_id)
    patient_id = str(uuid.uuid5(uuid.UUID("6f1d3c2e-9a4b-5c7d-8e0f-1a2b3c4d5e6f"), f"{mo_id}:{referral.person_oid}"))
    person = next((p for p in state.region.people if p.esia_oid == referral.person_oid), None)
    if person is not None:
        state.remember_patient(patient_id, mo_id, person)
    env, result = soap.new_result("InspectDoctorsReferal", id_history=id_history)
    soap.add(result, "IdDoc", None)
    soap.add(result, "IdLpu", mo_id)
    soap.add(result, "Id_Patient", patient_id if person is not None else None)
    soap.add(result, "Type", int(AppointmentKind.CONSULTATION))
    return env


def _get_appointments_demand(state: FerSimulatorState, params: Any, id_history: int) -> etree._Element:
    entry, slots = state.available_slots(
        params.required("idLpu"), params.required("idDoc"), params.moment("startVisit"), params.moment("endVisit")
    )
    env, result = soap.new_result("GetAppointmentsDemandDoctorsReferal", id_history=id_history)
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


REFERRAL_HANDLERS = {
    "CheckReferral": _check_referral,
    "InspectDoctorsReferal": _inspect_doctors_referal,
    "GetAppointmentsDemandDoctorsReferal": _get_appointments_demand,
}


# -- the demo's referrals --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoReferral:
    number: str
    person_oid: str
    specialty_code: str
    issuer_doctor_id: str


def demo_referrals(region: Region, *, count: int = 2) -> list[DemoReferral]:
    """Referrals the demo hub knows from its start (numbers ``NAPR-<region>-9000NN``): to a narrow specialist
    (one bookable only by referral) for the first adults attached to an adult polyclinic, each issued by a
    therapist of that polyclinic. Deterministic, so ``seed-demo`` prints the same numbers the server's
    simulator issues."""
    narrow = {s.code for s in region.specialties if not s.direct_booking}
    offered = sorted({d.specialty_code for mo in region.organisations for d in mo.doctors} & narrow)
    if not offered:
        return []
    by_mo = {mo.id: mo for mo in region.organisations}
    result: list[DemoReferral] = []
    for person in region.people:
        mo = by_mo.get(person.attached_mo_id or "")
        if mo is None or mo.kind != "polyclinic" or person.parent_oid is not None:
            continue
        therapist = next((d for d in mo.doctors if d.specialty_code == "76"), None)
        if therapist is None:
            continue
        n = len(result)
        result.append(
            DemoReferral(
                f"NAPR-{region.code}-9000{n + 1:02d}", person.esia_oid, offered[n % len(offered)], therapist.id
            )
        )
        if len(result) == count:
            break
    return result


def issue_demo_referrals(state: FerSimulatorState, *, valid_days: int = 60) -> list[str]:
    """Issue :func:`demo_referrals` in the simulator (the demo's in-process hub does at start)."""
    return [
        issue_referral(
            state,
            person_oid=r.person_oid,
            specialty_code=r.specialty_code,
            issuer_doctor_id=r.issuer_doctor_id,
            valid_days=valid_days,
            reason="Консультация специалиста (демо)",
            number=r.number,
        )
        for r in demo_referrals(state.region)
    ]
