"""The regional СМП (ambulance) dispatch feed: an internal contract (``protocols.md`` §8), client, simulator.

* :mod:`~integrations.smp.protocol` — :class:`SmpDispatch`, the call snapshot and feed events, errors,
  the webhook signature;
* :mod:`~integrations.smp.wire` — the JSON;
* :mod:`~integrations.smp.client` — :class:`SmpClient` (the pull API over httpx) and :func:`parse_push`;
* :mod:`~integrations.smp.simulator` — :func:`create_smp_simulator` (imported on demand: Litestar).
"""

from integrations.smp.client import SmpClient, parse_push
from integrations.smp.protocol import (
    SIGNATURE_HEADER,
    Brigade,
    CallSnapshot,
    CallStatus,
    CrewProfile,
    EventKind,
    FeedEvent,
    FeedRejected,
    Hospital,
    PatientRef,
    Place,
    Position,
    SharedLocation,
    SmpAccessDenied,
    SmpBadRequest,
    SmpCallClosed,
    SmpCallNotFound,
    SmpDispatch,
    SmpError,
    SmpUnavailable,
    StatusStep,
    sign,
    verify,
)

__all__ = [
    "SIGNATURE_HEADER",
    "Brigade",
    "CallSnapshot",
    "CallStatus",
    "CrewProfile",
    "EventKind",
    "FeedEvent",
    "FeedRejected",
    "Hospital",
    "PatientRef",
    "Place",
    "Position",
    "SharedLocation",
    "SmpAccessDenied",
    "SmpBadRequest",
    "SmpCallClosed",
    "SmpCallNotFound",
    "SmpClient",
    "SmpDispatch",
    "SmpError",
    "SmpUnavailable",
    "StatusStep",
    "parse_push",
    "sign",
    "verify",
]
