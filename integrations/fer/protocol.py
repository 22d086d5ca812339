"""What the booking domain needs from the regional booking hub (FER / N3 HubService).

The domain depends on :class:`BookingHub` only; :class:`integrations.fer.client.FerClient` implements it
over SOAP. Times are the hub's: naive ``datetime`` values in the region's local time, as the WCF
service serialises them (no offset).

Errors form two families the domain treats differently:

* :class:`HubError` and its subclasses are business answers (``ErrorList`` in the result). They are
  final for the request: retrying the same call gives the same answer.
* :class:`HubTransportError` subclasses (timeout, malformed reply, SOAP Fault / HTTP failure) mean the
  hub did not give a usable answer. They are retryable; note that after :class:`HubTimeout` on
  ``SetAppointment`` the booking may or may not exist, so the caller reconciles via the history.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable


class BookingChannel(enum.IntEnum):
    """The channel a booking came through; the value is the hub's ``AppointmentSourceType``."""

    CALL_CENTRE = 1  # ЦТО, the 122 contact centre
    INFOMAT = 2  # kiosk in a clinic
    REGISTRY = 3  # registration desk
    DOCTOR = 4  # booked by a doctor during a visit
    INTERNET = 5  # EPGU, the mobile app, the web
    OTHER = 6


class AppointmentStatus(enum.IntEnum):
    """The hub's ``AppointmentStatusType``; an active (booked, not yet resolved) visit has no status."""

    CANCELLED_BY_MO = 1
    CANCELLED_BY_PATIENT = 2
    RESCHEDULED = 3
    VISITED = 4
    NO_SHOW = 5


class SpecialistType(enum.IntEnum):
    """The hub's ``SpecialistType`` returned by ``SetAppointment``."""

    GENERAL = 1  # first-level doctor, booked directly
    NARROW = 2  # narrow specialist


class HubErrorCode(enum.IntEnum):
    """``ErrorList/Error/IdError`` codes.

    The real hub's catalogue (``GetErrorList``) is closed; these are the codes the simulator uses and
    the client maps by default. A deployment against a real hub passes its own ``error_map`` to the
    client.
    """

    INTERNAL = 1
    ACCESS_DENIED = 2  # wrong or missing guid
    BAD_REQUEST = 3
    LPU_NOT_FOUND = 10
    SPECIALTY_NOT_FOUND = 11
    DOCTOR_NOT_FOUND = 12
    DISTRICT_NOT_FOUND = 13
    PATIENT_NOT_FOUND = 20
    SLOT_NOT_FOUND = 30
    SLOT_TAKEN = 31
    APPOINTMENT_NOT_FOUND = 33
    APPOINTMENT_NOT_ACTIVE = 34
    REFERRAL_REQUIRED = 35
    REFERRAL_NOT_FOUND = 36  # CheckReferral / InspectDoctorsReferal: no referral with this number
    REFERRAL_INVALID = 37  # expired, cancelled, used, of another patient or another specialty


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DistrictInfo:
    id: str  # IdDistrict
    name: str  # DistrictName
    okato: str | None  # Okato


@dataclass(frozen=True, slots=True)
class LpuInfo:
    """An ``LpuInfo`` of ``GetLPUInfo`` (``LpuInformationResult.LpuCollection``): the organisation's card.

    The hub's contract (IHubService.cs, HubServiceContractClasses.cs of the public N3 client) carries what
    ``GetLPUList``'s ``Clinic`` lacks: the address, phone, e-mail and the hours (``WorkTime``, a free string
    whose format is **unconfirmed**; ``backend.directory.hours`` reads the Russian forms registries use).
    """

    id: str  # Id (IdLPU)
    full_name: str  # FullName
    short_name: str  # ShortName
    oid: str | None  # Oid (ФРМО)
    address: str | None  # Address
    phone: str | None  # Phone
    email: str | None  # Email
    work_time: str | None  # WorkTime
    commentary: str | None  # Commentary


@runtime_checkable
class LpuInfoHub(Protocol):
    async def get_lpu_info(self, mo_id: str) -> LpuInfo | None:
        """GetLPUInfo: the organisation's card (None: the hub lists no organisation with this id)."""
        ...


@dataclass(frozen=True, slots=True)
class OrganisationInfo:
    """A ``Clinic`` of ``GetLPUList``.

    The hub's contract has no address, coordinates or phone; the demo simulator sends them as an
    extension (``Address``, ``Latitude``, ``Longitude``, ``Phone``) and a real hub leaves them ``None``.
    """

    id: str  # IdLPU
    full_name: str  # LPUFullName
    short_name: str  # LPUShortName
    kind: str | None  # LPUType
    oid: str | None  # Oid (ФРМО)
    district_id: str | None  # District (IdDistrict)
    active: bool  # IsActive
    part_of: str | None  # PartOf: IdLPU of the parent organisation
    description: str | None  # Description
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Specialty:
    id: str  # IdSpesiality
    fer_id: str  # FerIdSpesiality (НСИ code)
    name: str
    free_tickets: int
    nearest_date: datetime | None
    last_date: datetime | None


@dataclass(frozen=True, slots=True)
class DoctorInfo:
    id: str  # IdDoc
    name: str
    snils: str
    area: str | None  # AriaNumber (attachment area), when the doctor has one
    free_tickets: int
    nearest_date: datetime | None
    last_date: datetime | None


@dataclass(frozen=True, slots=True)
class AvailableDate:
    mo_id: str
    doctor_id: str
    day: date


@dataclass(frozen=True, slots=True)
class Slot:
    id: str  # IdAppointment: also the id of the booking made on it
    mo_id: str
    doctor_id: str
    start: datetime
    end: datetime
    room: str
    address: str
    num: int  # ticket number within the day


@dataclass(frozen=True, slots=True)
class BookingResult:
    appointment_id: str
    mo_id: str
    patient_id: str
    specialist_type: SpecialistType | None


@dataclass(frozen=True, slots=True)
class PatientCheck:
    patient_id: str  # IdPat: the hub's id of the patient within one MO
    mo_id: str


@dataclass(frozen=True, slots=True)
class HistoryItem:
    appointment_id: str
    mo_id: str
    visit_start: datetime
    created_at: datetime | None
    doctor_id: str
    doctor_name: str
    specialty_id: str
    specialty_name: str
    status: AppointmentStatus | None  # None: booked and still active
    source: BookingChannel | None


# -- errors --------------------------------------------------------------------------------------


class FerError(Exception):
    """Base of everything the booking hub adapter raises."""

    retryable: bool = False


class HubError(FerError):
    """A business error from the hub's ``ErrorList``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message


class SlotUnavailable(HubError):
    """The slot is taken, gone or never existed."""


class PatientNotFound(HubError):
    """The hub cannot identify the patient (policy / birth date / name mismatch, unknown IdPat)."""


class ReferralRequired(HubError):
    """The specialist is booked only with a referral (направление)."""


class ReferralNotFound(HubError):
    """No referral with this number (``CheckReferral``, ``InspectDoctorsReferal``)."""


class ReferralInvalid(HubError):
    """The referral exists but does not allow this booking (expired, cancelled, used, another patient or
    specialty)."""


class AppointmentNotFound(HubError):
    """No such appointment for this patient, or it is no longer active."""


class AccessDenied(HubError):
    """The hub rejected the client's guid."""


class HubTransportError(FerError):
    """The hub gave no usable answer; the call may be retried."""

    retryable = True


class HubTimeout(HubTransportError):
    """No reply within the client's deadline."""


class HubMalformedReply(HubTransportError):
    """The reply cannot be parsed as the expected SOAP message."""


class HubUnavailable(HubTransportError):
    """SOAP Fault, HTTP error status or connection failure."""

    def __init__(self, message: str, *, fault_code: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message)
        self.fault_code = fault_code
        self.status_code = status_code


# -- the port ------------------------------------------------------------------------------------


@runtime_checkable
class BookingHub(Protocol):
    async def get_districts(self) -> list[DistrictInfo]:
        """GetDistrictList: the region's districts."""
        ...

    async def get_organisations(self, district_id: str) -> list[OrganisationInfo]:
        """GetLPUList: the medical organisations of a district."""
        ...

    async def get_specialties(self, mo_id: str, *, patient_id: str | None = None) -> list[Specialty]:
        """GetSpesialityList."""
        ...

    async def get_doctors(self, mo_id: str, specialty_id: str, *, patient_id: str | None = None) -> list[DoctorInfo]:
        """GetDoctorList."""
        ...

    async def get_available_dates(
        self, mo_id: str, doctor_id: str, start: date, end: date, *, patient_id: str | None = None
    ) -> list[AvailableDate]:
        """GetAvailableDates: days within ``[start, end]`` with free slots."""
        ...

    async def get_slots(
        self, mo_id: str, doctor_id: str, start: date, end: date, *, patient_id: str | None = None
    ) -> list[Slot]:
        """GetAvaibleAppointments: free slots within ``[start, end]``."""
        ...

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
        """CheckPatient: identify the patient in the MO; raises :class:`PatientNotFound`."""
        ...

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
        """SetAppointment; ``previous_appointment_id`` reschedules (idAppointmentPrev)."""
        ...

    async def cancel(self, mo_id: str, patient_id: str, appointment_id: str) -> None:
        """CreateClaimForRefusal: the patient cancels; the slot becomes free."""
        ...

    async def get_history(self, mo_id: str, patient_id: str) -> list[HistoryItem]:
        """GetPatientHistory."""
        ...
