"""Simulator of the regional booking hub (N3 HubService, WCF SOAP 1.1) over a demo :class:`Region`.

``create_fer_simulator(region)`` returns a Litestar ASGI app serving ``POST /hub25/HubService.svc``
(dispatch on ``SOAPAction``, checked against the body root) and ``GET /hub25/HubService.svc?wsdl``.
Its in-memory state, :class:`FerSimulatorState`, is ``app.state.simulator`` (or
:func:`simulator_state`); tests and the scenario admin use it to inspect bookings, force faults and
play the MO's side: ``cancel_by_mo``, ``mark_visited``, ``mark_no_show``.

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

import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Litestar, Request, Response, get, post
from lxml import etree

from integrations.common.faults import Fault, FaultInjector, FaultProfile
from integrations.common.simulator import simulator_app, state_of
from integrations.demo_region.model import (
    Department,
    District,
    Doctor,
    MedicalOrganisation,
    Person,
    Region,
    Specialty,
)
from integrations.fer import soap
from integrations.fer.areas import HubBusinessError, get_patients_areas
from integrations.fer.protocol import AppointmentStatus, BookingChannel, HubErrorCode, SpecialistType
from integrations.fer.referrals import REFERRAL_HANDLERS, check_referral_for_booking
from integrations.fer.waiting_list import set_waiting_list

HUB_PATH = "/hub25/HubService.svc"
_PATIENT_NS = uuid.UUID("6f1d3c2e-9a4b-5c7d-8e0f-1a2b3c4d5e6f")

DEFAULT_ERROR_MESSAGES: Mapping[HubErrorCode, str] = {
    HubErrorCode.INTERNAL: "Внутренняя ошибка сервиса",
    HubErrorCode.ACCESS_DENIED: "Доступ запрещён: неверный идентификатор клиента (guid)",
    HubErrorCode.BAD_REQUEST: "Некорректный запрос",
    HubErrorCode.LPU_NOT_FOUND: "Медицинская организация не найдена",
    HubErrorCode.SPECIALTY_NOT_FOUND: "Специальность не найдена",
    HubErrorCode.DOCTOR_NOT_FOUND: "Врач не найден в медицинской организации",
    HubErrorCode.DISTRICT_NOT_FOUND: "Район не найден",
    HubErrorCode.PATIENT_NOT_FOUND: "Пациент не идентифицирован",
    HubErrorCode.SLOT_NOT_FOUND: "Талон не найден или недоступен для записи",
    HubErrorCode.SLOT_TAKEN: "Талон уже занят",
    HubErrorCode.APPOINTMENT_NOT_FOUND: "Запись на приём не найдена",
    HubErrorCode.APPOINTMENT_NOT_ACTIVE: "Запись на приём уже отменена или завершена",
    HubErrorCode.REFERRAL_REQUIRED: "Запись к этому специалисту возможна только по направлению",
    HubErrorCode.REFERRAL_NOT_FOUND: "Направление не найдено",
    HubErrorCode.REFERRAL_INVALID: "Направление недействительно для этой записи",
}

# A slot is released by these statuses; visited / no-show keep it occupied.
_RELEASING = frozenset(
    {AppointmentStatus.CANCELLED_BY_MO, AppointmentStatus.CANCELLED_BY_PATIENT, AppointmentStatus.RESCHEDULED}
)


@dataclass(frozen=True, slots=True)
class SimSlot:
    id: str
    doctor_id: str
    start: datetime
    end: datetime
    num: int


@dataclass(slots=True)
class Booking:
    appointment_id: str  # the slot id, as the hub names appointments
    mo_id: str
    patient_id: str
    person_oid: str
    doctor_id: str
    specialty_code: str
    visit_start: datetime
    visit_end: datetime
    created_at: datetime
    source: BookingChannel
    referral_id: str | None
    status: AppointmentStatus | None = None
    status_changed_at: datetime | None = None

    @property
    def occupies_slot(self) -> bool:
        return self.status not in _RELEASING


@dataclass(frozen=True, slots=True)
class DoctorEntry:
    doctor: Doctor
    mo: MedicalOrganisation
    specialty: Specialty
    address: str


@dataclass(frozen=True, slots=True)
class FreeSummary:
    count: int
    nearest: datetime | None
    last: datetime | None


def slot_id(doctor_id: str, start: datetime) -> str:
    return f"{doctor_id}_{start:%Y%m%d}_{start:%H%M}"


def _parse_slot_id(value: str) -> tuple[str, datetime] | None:
    parts = value.rsplit("_", 2)
    if len(parts) != 3:
        return None
    day, hm = parts[1], parts[2]
    if len(day) != 8 or len(hm) != 4 or not (day + hm).isascii() or not (day + hm).isdigit():
        return None
    try:  # not strptime, which costs much more (bench P2; bench/README.md)
        return parts[0], datetime(int(day[:4]), int(day[4:6]), int(day[6:]), int(hm[:2]), int(hm[2:]))
    except ValueError:
        return None


def _norm(value: str) -> str:
    return value.strip().casefold().replace("ё", "е")


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


class FerSimulatorState:
    """The hub's in-memory world: schedules, patients known per MO, bookings, faults, counters."""

    def __init__(
        self,
        region: Region,
        *,
        faults: FaultInjector,
        clock: Callable[[], datetime] | None = None,
        guid: str | None = None,
        error_messages: Mapping[HubErrorCode, str] | None = None,
    ) -> None:
        self.region = region
        self.faults = faults
        self.guid = guid
        self.tz = ZoneInfo(region.timezone)
        self._clock = clock or (lambda: datetime.now(self.tz))
        self.error_messages = {**DEFAULT_ERROR_MESSAGES, **(error_messages or {})}
        self.calls: Counter[str] = Counter()  # SOAP method -> requests seen
        self.bookings: list[Booking] = []  # every booking ever made, in order
        self._specialties = {s.code: s for s in region.specialties}
        self._districts = {d.id: d for d in region.districts}
        self._mos = {mo.id: mo for mo in region.organisations}
        self._doctors: dict[str, DoctorEntry] = {}
        for mo in region.organisations:
            departments: dict[str, Department] = {d.id: d for d in mo.departments}
            for doc in mo.doctors:
                specialty = self._specialties.get(doc.specialty_code)
                if specialty is None:
                    continue  # a doctor of an unknown specialty is not bookable
                dept = departments.get(doc.department_id)
                self._doctors[doc.id] = DoctorEntry(doc, mo, specialty, dept.address if dept else mo.address)
        self._by_policy: dict[str, list[Person]] = {}
        for person in region.people:
            self._by_policy.setdefault(_digits(person.oms_policy), []).append(person)
        self._patients: dict[str, tuple[str, Person]] = {}  # IdPat -> (MO id, person)
        self._day_cache: dict[tuple[str, date], tuple[SimSlot, ...]] = {}
        self._taken: dict[str, Booking] = {}  # slot id -> booking occupying it
        self._taken_per_day: Counter[tuple[str, date]] = Counter()
        self._history: dict[tuple[str, str], list[Booking]] = {}
        self._id_history = 0

    # -- time and schedule -----------------------------------------------------------------------

    def now(self) -> datetime:
        """The clock as the hub's naive local time."""
        moment = self._clock()
        if moment.tzinfo is not None:
            moment = moment.astimezone(self.tz).replace(tzinfo=None)
        return moment.replace(microsecond=0)

    def horizon(self, doctor: Doctor) -> tuple[date, date]:
        """First and last day of the doctor's open schedule."""
        today = self.now().date()
        return today, today + timedelta(days=7 * doctor.weeks_ahead - 1)

    def day_slots(self, doctor_id: str, day: date) -> tuple[SimSlot, ...]:
        """All slots of the doctor's day (booked or not), generated once per doctor and day."""
        key = (doctor_id, day)
        cached = self._day_cache.get(key)
        if cached is not None:
            return cached
        entry = self._doctors.get(doctor_id)
        slots: list[SimSlot] = []
        if entry is not None:
            step = timedelta(minutes=entry.specialty.slot_minutes)
            for hours in sorted((h for h in entry.doctor.hours if h.weekday == day.weekday()), key=lambda h: h.start):
                start = datetime.combine(day, hours.start)
                end_of_shift = datetime.combine(day, hours.end)
                while start + step <= end_of_shift:
                    slots.append(SimSlot(slot_id(doctor_id, start), doctor_id, start, start + step, len(slots) + 1))
                    start += step
        result = tuple(slots)
        self._day_cache[key] = result
        return result

    def free_slots(self, doctor_id: str, start: datetime, end: datetime) -> list[SimSlot]:
        entry = self._doctor(doctor_id)
        first, last = self.horizon(entry.doctor)
        now = self.now()
        free: list[SimSlot] = []
        day = max(first, start.date())
        while day <= min(last, end.date()):
            free.extend(
                s
                for s in self.day_slots(doctor_id, day)
                if start <= s.start <= end and s.start > now and s.id not in self._taken
            )
            day += timedelta(days=1)
        return free

    def _summary(self, doctor_id: str) -> FreeSummary:
        """Free tickets over the doctor's horizon with the nearest and the last free slot."""
        entry = self._doctor(doctor_id)
        first, last = self.horizon(entry.doctor)
        now = self.now()

        def is_free(s: SimSlot) -> bool:
            return s.start > now and s.id not in self._taken

        count = 0
        nearest: datetime | None = None
        last_day: date | None = None
        day = first
        while day <= last:
            slots = self.day_slots(doctor_id, day)
            if day == first:
                day_count = sum(1 for s in slots if is_free(s))
            else:
                day_count = len(slots) - self._taken_per_day[(doctor_id, day)]
            if day_count > 0:
                count += day_count
                if nearest is None:
                    nearest = next(s.start for s in slots if is_free(s))
                last_day = day
            day += timedelta(days=1)
        latest = None
        if last_day is not None:
            latest = next(s.start for s in reversed(self.day_slots(doctor_id, last_day)) if is_free(s))
        return FreeSummary(count, nearest, latest)

    # -- lookups ---------------------------------------------------------------------------------

    def _mo(self, mo_id: str) -> MedicalOrganisation:
        mo = self._mos.get(mo_id)
        if mo is None:
            raise HubBusinessError(HubErrorCode.LPU_NOT_FOUND, mo_id)
        return mo

    def doctor_entry(self, doctor_id: str) -> DoctorEntry:
        return self._doctor(doctor_id)

    def _doctor(self, doctor_id: str, mo_id: str | None = None) -> DoctorEntry:
        entry = self._doctors.get(doctor_id)
        if entry is None or (mo_id is not None and entry.mo.id != mo_id):
            raise HubBusinessError(HubErrorCode.DOCTOR_NOT_FOUND, doctor_id)
        return entry

    def _patient(self, mo_id: str, patient_id: str) -> Person:
        known = self._patients.get(patient_id)
        if known is None or known[0] != mo_id:
            raise HubBusinessError(HubErrorCode.PATIENT_NOT_FOUND, "неизвестный идентификатор пациента в МО")
        return known[1]

    def patient(self, patient_id: str) -> tuple[str, Person] | None:
        """The MO id and person behind an IdPat handed out by CheckPatient."""
        return self._patients.get(patient_id)

    def remember_patient(self, patient_id: str, mo_id: str, person: Person) -> None:
        """An IdPat handed out by another operation than CheckPatient (InspectDoctorsReferal)."""
        self._patients[patient_id] = (mo_id, person)

    def next_id_history(self) -> int:
        self._id_history += 1
        return self._id_history

    # -- operations (all synchronous: each is atomic on the event loop) ---------------------------

    def districts(self) -> list[District]:
        return list(self._districts.values())

    def organisations(self, district_id: str) -> list[MedicalOrganisation]:
        if district_id not in self._districts:
            raise HubBusinessError(HubErrorCode.DISTRICT_NOT_FOUND, district_id)
        return [mo for mo in self._mos.values() if mo.district_id == district_id]

    def organisation(self, mo_id: str) -> MedicalOrganisation | None:
        return self._mos.get(mo_id)

    def district(self, district_id: str) -> District | None:
        return self._districts.get(district_id)

    def specialties(self, mo_id: str) -> list[tuple[Specialty, FreeSummary]]:
        mo = self._mo(mo_id)
        per_code: dict[str, list[FreeSummary]] = {}
        for doc in mo.doctors:
            if doc.id in self._doctors:
                per_code.setdefault(doc.specialty_code, []).append(self._summary(doc.id))
        result: list[tuple[Specialty, FreeSummary]] = []
        for code in sorted(per_code):
            summaries = per_code[code]
            nearest = [s.nearest for s in summaries if s.nearest is not None]
            latest = [s.last for s in summaries if s.last is not None]
            result.append(
                (
                    self._specialties[code],
                    FreeSummary(sum(s.count for s in summaries), min(nearest, default=None), max(latest, default=None)),
                )
            )
        return result

    def doctors(self, mo_id: str, specialty_code: str) -> list[tuple[Doctor, FreeSummary]]:
        mo = self._mo(mo_id)
        if specialty_code not in self._specialties:
            raise HubBusinessError(HubErrorCode.SPECIALTY_NOT_FOUND, specialty_code)
        return [
            (doc, self._summary(doc.id))
            for doc in mo.doctors
            if doc.specialty_code == specialty_code and doc.id in self._doctors
        ]

    def available_dates(self, mo_id: str, doctor_id: str, start: datetime, end: datetime) -> list[date]:
        self._mo(mo_id)
        self._doctor(doctor_id, mo_id)
        return sorted({s.start.date() for s in self.free_slots(doctor_id, start, end)})

    def available_slots(
        self, mo_id: str, doctor_id: str, start: datetime, end: datetime
    ) -> tuple[DoctorEntry, list[SimSlot]]:
        self._mo(mo_id)
        entry = self._doctor(doctor_id, mo_id)
        return entry, self.free_slots(doctor_id, start, end)

    def check_patient(
        self,
        mo_id: str,
        *,
        oms_policy: str,
        birth_date: date | None,
        surname: str | None = None,
        name: str | None = None,
        second_name: str | None = None,
        snils: str | None = None,
    ) -> str:
        """Identify a person by policy and birth date (names and SNILS, when given, must match)."""
        self._mo(mo_id)
        if not oms_policy or birth_date is None:
            raise HubBusinessError(HubErrorCode.PATIENT_NOT_FOUND, "нужны номер полиса ОМС и дата рождения")
        for person in self._by_policy.get(_digits(oms_policy), []):
            if person.birth_date != birth_date:
                continue
            pairs = (
                (surname, person.last_name),
                (name, person.first_name),
                (second_name, person.middle_name),
            )
            if any(given and _norm(given) != _norm(actual) for given, actual in pairs):
                continue
            if snils and _digits(snils) != _digits(person.snils):
                continue
            patient_id = str(uuid.uuid5(_PATIENT_NS, f"{mo_id}:{person.esia_oid}"))
            self._patients[patient_id] = (mo_id, person)
            return patient_id
        raise HubBusinessError(HubErrorCode.PATIENT_NOT_FOUND, "полис ОМС, дата рождения или ФИО не совпадают")

    def book(
        self,
        mo_id: str,
        patient_id: str,
        appointment_id: str,
        *,
        source: BookingChannel = BookingChannel.INTERNET,
        referral_id: str | None = None,
        previous_appointment_id: str | None = None,
    ) -> Booking:
        self._mo(mo_id)
        person = self._patient(mo_id, patient_id)
        parsed = _parse_slot_id(appointment_id)
        entry = self._doctors.get(parsed[0]) if parsed else None
        if parsed is None or entry is None or entry.mo.id != mo_id:
            raise HubBusinessError(HubErrorCode.SLOT_NOT_FOUND, appointment_id)
        first, last = self.horizon(entry.doctor)
        slot = next((s for s in self.day_slots(entry.doctor.id, parsed[1].date()) if s.id == appointment_id), None)
        if slot is None or not first <= slot.start.date() <= last or slot.start <= self.now():
            raise HubBusinessError(HubErrorCode.SLOT_NOT_FOUND, appointment_id)
        if referral_id:  # integrations/fer/referrals.py: the referral must allow this booking
            check_referral_for_booking(self, person, entry.specialty.code, mo_id, referral_id)
        elif not entry.specialty.direct_booking:
            raise HubBusinessError(HubErrorCode.REFERRAL_REQUIRED, entry.specialty.name)
        previous: Booking | None = None
        if previous_appointment_id:
            previous = self._taken.get(previous_appointment_id)
            if previous is None or previous.patient_id != patient_id or previous.status is not None:
                raise HubBusinessError(HubErrorCode.APPOINTMENT_NOT_FOUND, previous_appointment_id)
        if appointment_id in self._taken:
            raise HubBusinessError(HubErrorCode.SLOT_TAKEN, appointment_id)
        now = self.now()
        booking = Booking(
            appointment_id=appointment_id,
            mo_id=mo_id,
            patient_id=patient_id,
            person_oid=person.esia_oid,
            doctor_id=entry.doctor.id,
            specialty_code=entry.specialty.code,
            visit_start=slot.start,
            visit_end=slot.end,
            created_at=now,
            source=source,
            referral_id=referral_id,
        )
        self.bookings.append(booking)
        self._taken[appointment_id] = booking
        self._taken_per_day[(entry.doctor.id, slot.start.date())] += 1
        self._history.setdefault((mo_id, patient_id), []).append(booking)
        if previous is not None:
            self._set_status(previous, AppointmentStatus.RESCHEDULED)
        return booking

    def specialist_type(self, booking: Booking) -> SpecialistType:
        specialty = self._specialties[booking.specialty_code]
        return SpecialistType.GENERAL if specialty.direct_booking else SpecialistType.NARROW

    def refuse(self, mo_id: str, patient_id: str, appointment_id: str) -> Booking:
        """CreateClaimForRefusal: the patient cancels an active future booking."""
        self._mo(mo_id)
        self._patient(mo_id, patient_id)
        booking = self._taken.get(appointment_id)
        if booking is None or booking.patient_id != patient_id:
            mine = [b for b in self._history.get((mo_id, patient_id), []) if b.appointment_id == appointment_id]
            code = HubErrorCode.APPOINTMENT_NOT_ACTIVE if mine else HubErrorCode.APPOINTMENT_NOT_FOUND
            raise HubBusinessError(code, appointment_id)
        if booking.status is not None or booking.visit_start <= self.now():
            raise HubBusinessError(HubErrorCode.APPOINTMENT_NOT_ACTIVE, appointment_id)
        self._set_status(booking, AppointmentStatus.CANCELLED_BY_PATIENT)
        return booking

    def history(self, mo_id: str, patient_id: str) -> list[Booking]:
        self._mo(mo_id)
        self._patient(mo_id, patient_id)
        return list(self._history.get((mo_id, patient_id), []))

    # -- admin hooks (the MO's side) -------------------------------------------------------------

    def active_booking(self, appointment_id: str) -> Booking | None:
        """The booking occupying the slot (active, visited or no-show), if any."""
        return self._taken.get(appointment_id)

    def cancel_by_mo(self, appointment_id: str) -> Booking:
        """The MO cancels an active booking (status 1); the slot becomes free."""
        return self._set_status(self._active(appointment_id), AppointmentStatus.CANCELLED_BY_MO)

    def mark_visited(self, appointment_id: str) -> Booking:
        return self._set_status(self._active(appointment_id), AppointmentStatus.VISITED)

    def mark_no_show(self, appointment_id: str) -> Booking:
        return self._set_status(self._active(appointment_id), AppointmentStatus.NO_SHOW)

    def _active(self, appointment_id: str) -> Booking:
        booking = self._taken.get(appointment_id)
        if booking is None or booking.status is not None:
            raise KeyError(f"no active booking on {appointment_id}")
        return booking

    def _set_status(self, booking: Booking, status: AppointmentStatus) -> Booking:
        booking.status = status
        booking.status_changed_at = self.now()
        if status in _RELEASING and self._taken.get(booking.appointment_id) is booking:
            del self._taken[booking.appointment_id]
            self._taken_per_day[(booking.doctor_id, booking.visit_start.date())] -= 1
        return booking


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


def _xml(body: bytes, status_code: int = 200) -> Response[bytes]:
    return Response(content=body, status_code=status_code, media_type=soap.CONTENT_TYPE)


def _fault(code: str, message: str, status_code: int = 500) -> Response[bytes]:
    return _xml(soap.build_fault(code, message), status_code)


def handle_soap(state: FerSimulatorState, action: str | None, body: bytes) -> Response[bytes]:
    """Process one SOAP request synchronously (no awaits: atomic on the event loop)."""
    method = soap.method_from_action(action)
    handler = HANDLERS.get(method or "")
    if method is None or handler is None:
        return _fault("Client", f"Действие {action!r} не поддерживается (ActionNotSupported)")
    try:
        op = soap.parse_body(body)
    except (soap.SoapMalformed, soap.SoapFault) as exc:
        return _fault("Client", f"Некорректный SOAP-запрос: {exc}", 400)
    if op.tag != soap.qn(soap.TEMPURI_NS, method):
        return _fault("Client", f"Корневой элемент {op.tag} не соответствует SOAPAction {method}")
    state.calls[method] += 1
    id_history = state.next_id_history()
    params = _Params(op)
    try:
        if state.guid is not None and params.text("guid") != state.guid:
            raise HubBusinessError(HubErrorCode.ACCESS_DENIED)
        return _xml(soap.serialize(handler(state, params, id_history)))
    except HubBusinessError as exc:
        message = state.error_messages.get(exc.code, DEFAULT_ERROR_MESSAGES[HubErrorCode.INTERNAL])
        if exc.detail:
            message = f"{message}: {exc.detail}"
        env, _ = soap.new_result(method, errors=[(int(exc.code), message)], id_history=id_history)
        return _xml(soap.serialize(env))


_WSDL_OPERATIONS = "".join(
    f'<wsdl:operation name="{name}"><soap:operation soapAction="{soap.SOAP_ACTION_PREFIX}{name}" '
    f'style="document"/><wsdl:input><soap:body use="literal"/></wsdl:input>'
    f'<wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>'
    for name in HANDLERS
)


def _wsdl(location: str) -> bytes:
    port_ops = "".join(f'<wsdl:operation name="{name}"/>' for name in HANDLERS)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<wsdl:definitions name="HubService" targetNamespace="http://tempuri.org/" '
        'xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
        'xmlns:tns="http://tempuri.org/">'
        f'<wsdl:portType name="IHubService">{port_ops}</wsdl:portType>'
        '<wsdl:binding name="BasicHttpBinding_IHubService" type="tns:IHubService">'
        '<soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>'
        f"{_WSDL_OPERATIONS}</wsdl:binding>"
        '<wsdl:service name="HubService"><wsdl:port name="BasicHttpBinding_IHubService" '
        f'binding="tns:BasicHttpBinding_IHubService"><soap:address location="{location}"/></wsdl:port>'
        "</wsdl:service></wsdl:definitions>"
    ).encode()


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

    @post(HUB_PATH, status_code=200, media_type=soap.CONTENT_TYPE)
    async def soap_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
        body = await request.body()
        fault = await state.faults.before_reply()
        if fault is Fault.ERROR:
            return _fault("Server", "Сервис записи временно недоступен")
        if fault is Fault.MALFORMED:
            return _xml(b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><Resp')
        return handle_soap(state, request.headers.get("soapaction"), body)

    @get(HUB_PATH, media_type=soap.CONTENT_TYPE)
    async def wsdl_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
        if "wsdl" not in {key.lower() for key in request.query_params}:
            return _xml(b"", 400)
        return _xml(_wsdl(str(request.url.with_replacements(query=""))))

    return simulator_app([soap_endpoint, wsdl_endpoint], state)


def simulator_state(app: Litestar) -> FerSimulatorState:
    """The in-memory state of an app made by :func:`create_fer_simulator`."""
    return state_of(app, FerSimulatorState)
