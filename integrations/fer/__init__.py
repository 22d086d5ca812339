"""The regional booking hub (FER / N3 HubService): the domain's port, the SOAP client, the simulator.

The booking domain depends on :class:`BookingHub` and the result / error types here. The simulator
(``integrations.fer.simulator``) is imported on demand, so the client does not pull in Litestar.
"""

from integrations.fer.client import DEFAULT_ERROR_MAP, DEFAULT_PATH, FerClient
from integrations.fer.protocol import (
    AccessDenied,
    AppointmentNotFound,
    AppointmentStatus,
    AvailableDate,
    BookingChannel,
    BookingHub,
    BookingResult,
    DoctorInfo,
    FerError,
    HistoryItem,
    HubError,
    HubErrorCode,
    HubMalformedReply,
    HubTimeout,
    HubTransportError,
    HubUnavailable,
    PatientCheck,
    PatientNotFound,
    ReferralRequired,
    Slot,
    SlotUnavailable,
    SpecialistType,
    Specialty,
)

__all__ = [
    "DEFAULT_ERROR_MAP",
    "DEFAULT_PATH",
    "AccessDenied",
    "AppointmentNotFound",
    "AppointmentStatus",
    "AvailableDate",
    "BookingChannel",
    "BookingHub",
    "BookingResult",
    "DoctorInfo",
    "FerClient",
    "FerError",
    "HistoryItem",
    "HubError",
    "HubErrorCode",
    "HubMalformedReply",
    "HubTimeout",
    "HubTransportError",
    "HubUnavailable",
    "PatientCheck",
    "PatientNotFound",
    "ReferralRequired",
    "Slot",
    "SlotUnavailable",
    "SpecialistType",
    "Specialty",
]
