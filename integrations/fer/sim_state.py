"""The in-memory hub of the booking hub simulator: the region's schedules (slots generated per doctor and day),
the patients each MO knows, bookings and their statuses, the MO's side (``cancel_by_mo``, ``mark_visited``,
``mark_no_show``). No SOAP here: :mod:`integrations.fer.simulator` is the SOAP layer and the ASGI app."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from integrations.common.faults import FaultInjector
from integrations.common.simulator import naive_local
from integrations.demo_region.model import (
    Department,
    District,
    Doctor,
    MedicalOrganisation,
    Person,
    Region,
    Specialty,
)
from integrations.fer.areas import HubBusinessError
from integrations.fer.protocol import AppointmentStatus, BookingChannel, HubErrorCode, SpecialistType
from integrations.fer.referrals import check_referral_for_booking

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
        return naive_local(self._clock(), self.tz)

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
