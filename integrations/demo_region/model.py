"""Shapes of the synthetic demo region (frozen dataclasses; no I/O)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, time


class RegionScale(enum.Enum):
    SMALL = "small"  # the default run and the tests: a handful of organisations, fast to generate
    FULL = "full"  # shaped by seed 004: about 470 medical sites and 300 feldsher posts


@dataclass(frozen=True)
class Specialty:
    code: str  # НСИ code (V021 IDSPEC: "76" терапия, "49" педиатрия, "39" ОВП, ...)
    name: str  # Russian name as a patient reads it
    slot_minutes: int  # visit length used by the booking hub's schedule
    direct_booking: bool  # a patient may book without a referral (first-level specialties)


@dataclass(frozen=True)
class District:
    id: str
    name: str  # Russian, e.g. "Шпаковский муниципальный округ"
    okato: str


@dataclass(frozen=True)
class WorkingHours:
    weekday: int  # 0 = Monday
    start: time
    end: time


@dataclass(frozen=True)
class Doctor:
    id: str  # the booking hub's IdDoc
    snils: str
    last_name: str
    first_name: str
    middle_name: str
    specialty_code: str
    department_id: str
    room: str
    hours: tuple[WorkingHours, ...]
    weeks_ahead: int  # how far ahead the schedule is open

    @property
    def full_name(self) -> str:
        # A room (a prevention or diagnostic cabinet, see generator.PREVENTION_ROOMS) may have fewer parts.
        return " ".join(part for part in (self.last_name, self.first_name, self.middle_name) if part)


@dataclass(frozen=True)
class Department:
    id: str
    mo_id: str
    name: str
    kind: str  # "adult" | "children" | "mixed"
    address: str
    latitude: float
    longitude: float


# The usual hours of a clinic of each kind (a polyclinic's evening reception, the hospital's reception desk
# round the clock, a feldsher post's lunch break), as the hub's ``WorkTime`` text.
WORK_TIME_BY_KIND: dict[str, str] = {
    "polyclinic": "Пн-Пт 08:00-20:00; Сб 09:00-15:00; Вс выходной",
    "children_polyclinic": "Пн-Пт 08:00-19:00, перерыв 13:00-13:30; Сб 09:00-14:00; Вс выходной",
    "hospital": "Круглосуточно",
    "ambulatory": "Пн-Пт 08:00-17:00, перерыв 12:00-12:45; Сб, Вс выходной",
    "feldsher_post": "Пн-Пт 08:00-16:00, обед 12:00-13:00; Сб, Вс выходной",
}


@dataclass(frozen=True)
class MedicalOrganisation:
    id: str  # the booking hub's IdLpu
    oid: str  # FRMO-style OID, "1.2.643.5.1.13.13.12.2.26.xxxx"
    name: str
    short_name: str
    district_id: str
    address: str
    latitude: float
    longitude: float
    phone: str
    kind: str  # "polyclinic" | "children_polyclinic" | "hospital" | "feldsher_post" | "ambulatory"
    attaches: bool  # a patient can be attached to it (primary care)
    departments: tuple[Department, ...] = ()
    doctors: tuple[Doctor, ...] = ()
    work_time: str | None = None  # the hub's WorkTime text; None: the usual hours of its kind

    @property
    def work_time_text(self) -> str:
        """The hours the hub's ``GetLPUInfo`` sends for it, in the Russian form registries write."""
        return self.work_time or WORK_TIME_BY_KIND.get(self.kind, WORK_TIME_BY_KIND["polyclinic"])


@dataclass(frozen=True)
class Pharmacy:
    id: str
    name: str
    address: str
    district_id: str
    latitude: float
    longitude: float
    preferential: bool  # dispenses preferential (ЛЛО) drugs


@dataclass(frozen=True)
class AmbulanceStation:
    id: str
    name: str
    district_id: str
    address: str
    latitude: float
    longitude: float
    crews: tuple[str, ...]  # crew ids (brigade numbers)


@dataclass(frozen=True)
class DrugRight:
    category: str  # "federal" | "regional"
    code: str  # benefit category code
    name: str
    valid_until: date


@dataclass(frozen=True)
class Person:
    """A demo person as ESIA and the OMS register know them."""

    esia_oid: str  # ESIA subject id (digits)
    last_name: str
    first_name: str
    middle_name: str
    birth_date: date
    sex: str  # "M" | "F"
    snils: str  # "123-456-789 01"
    oms_policy: str  # 16-digit single-format policy number
    smo_name: str  # the insurer (СМО)
    phone: str  # "+7(9xx)xxxxxxx" as ESIA shows it
    email: str
    address: str
    district_id: str
    latitude: float
    longitude: float
    attached_mo_id: str
    parent_oid: str | None = None  # for a child: the ESIA oid of the parent who acts for them
    birth_certificate: str | None = None  # "IV-ДН 123456" for children
    passport: str | None = None  # "0712 345678" for adults
    drug_rights: tuple[DrugRight, ...] = field(default_factory=tuple)

    @property
    def full_name(self) -> str:
        # A room (a prevention or diagnostic cabinet, see generator.PREVENTION_ROOMS) may have fewer parts.
        return " ".join(part for part in (self.last_name, self.first_name, self.middle_name) if part)

    def age(self, on: date) -> int:
        """Full years on the given date (pass a fixed date for deterministic results)."""
        had_birthday = (on.month, on.day) >= (self.birth_date.month, self.birth_date.day)
        return on.year - self.birth_date.year - (0 if had_birthday else 1)


@dataclass(frozen=True)
class Region:
    code: str  # OKATO-ish region code, "26" for the seed's Ставропольский край
    name: str
    timezone: str  # IANA, "Europe/Moscow"
    seed: int
    scale: RegionScale
    specialties: tuple[Specialty, ...]
    districts: tuple[District, ...]
    organisations: tuple[MedicalOrganisation, ...]
    pharmacies: tuple[Pharmacy, ...]
    ambulance_stations: tuple[AmbulanceStation, ...]
    people: tuple[Person, ...]

    def organisation(self, mo_id: str) -> MedicalOrganisation:
        for mo in self.organisations:
            if mo.id == mo_id:
                return mo
        raise KeyError(mo_id)

    def doctors(self) -> tuple[Doctor, ...]:
        return tuple(d for mo in self.organisations for d in mo.doctors)

    def person_by_oid(self, oid: str) -> Person:
        for p in self.people:
            if p.esia_oid == oid:
                return p
        raise KeyError(oid)

    def person_by_policy(self, policy: str) -> Person:
        for p in self.people:
            if p.oms_policy == policy:
                return p
        raise KeyError(policy)

    def person_by_snils(self, snils: str) -> Person:
        for p in self.people:
            if p.snils == snils:
                return p
        raise KeyError(snils)

    def children_of(self, parent_oid: str) -> tuple[Person, ...]:
        """The people a parent acts for (their ``parent_oid`` is the parent's ESIA oid)."""
        return tuple(p for p in self.people if p.parent_oid == parent_oid)

    def specialty(self, code: str) -> Specialty:
        for s in self.specialties:
            if s.code == code:
                return s
        raise KeyError(code)

    def district(self, district_id: str) -> District:
        for d in self.districts:
            if d.id == district_id:
                return d
        raise KeyError(district_id)

    def departments(self) -> tuple[Department, ...]:
        return tuple(dep for mo in self.organisations for dep in mo.departments)

    def department(self, department_id: str) -> Department:
        for dep in self.departments():
            if dep.id == department_id:
                return dep
        raise KeyError(department_id)

    def doctor(self, doctor_id: str) -> Doctor:
        for d in self.doctors():
            if d.id == doctor_id:
                return d
        raise KeyError(doctor_id)

    def attaching_organisations(self) -> tuple[MedicalOrganisation, ...]:
        return tuple(mo for mo in self.organisations if mo.attaches)

    def feldsher_posts(self) -> tuple[MedicalOrganisation, ...]:
        return tuple(mo for mo in self.organisations if mo.kind == "feldsher_post")

    def sites(self) -> tuple[Department, ...]:
        """Territorially separate medical sites: every department (a feldsher post is one site)."""
        return self.departments()
