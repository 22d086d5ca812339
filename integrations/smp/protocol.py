"""The regional СМП dispatch feed: an internal contract, as no public protocol exists (``protocols.md`` §8).

Modelled on the §8 feed shape (call id, status with timestamps, brigade and station, positions with speed
and heading, ETA, history). Two directions:

* **push** — the dispatch subsystem POSTs the events of its calls to our webhook (``POST
  /api/v1/ambulance/feed``): one event as a JSON object, or a **batch** ``{"events": [...]}`` of at most
  :data:`MAX_BATCH` events (of any calls, in the order they happened), signed with HMAC-SHA256 over
  ``"<unix time>.<body>"`` with a shared secret (header ``X-Smp-Signature: t=<unix>,v1=<hex>``; a signature
  older than :data:`SIGNATURE_TOLERANCE_S` is refused, which bounds replays). A 2xx answer acknowledges
  every event of the body; anything else is delivered again, whole (applying is idempotent per event).
  Batches because a region's fleet reports about a thousand positions a second at the issue's scale (5,000
  brigades, one fix per 5 s): one HTTPS request per position costs both sides more than the positions
  themselves, so the dispatch side sends what accumulated over a short window (:data:`BATCH_WINDOW_S`).
  A webhook rather than a message queue the dispatch side publishes to: it needs nothing but HTTPS on
  both sides (no broker shared between two operators, nothing beyond our PostgreSQL and Redis), it is
  verifiable per message, and the dispatch side already retries on a non-2xx answer;
* **pull** — for recovery after a gap: the call's current state (:meth:`SmpDispatch.get_call`) and its
  events after a sequence number (:meth:`SmpDispatch.events`).

Every event of a call carries ``seq``, increasing by one per call: a receiver spots a gap (a missing
number), a duplicate (a number seen) and out-of-order delivery (a lower number after a higher one).

Back to the crew: the patient's shared location and emergency profile (:meth:`SmpDispatch.share_location`,
:meth:`SmpDispatch.share_profile`), accepted only while the call is open.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

#: A signature older (or newer) than this is refused.
SIGNATURE_TOLERANCE_S = 300
SIGNATURE_HEADER = "X-Smp-Signature"
#: The most events one push may carry.
MAX_BATCH = 1000
#: How long the dispatch side (and the simulator in batch mode) lets a batch fill before it is pushed.
BATCH_WINDOW_S = 0.05


class CallStatus(enum.Enum):
    ACCEPTED = "accepted"
    BRIGADE_ASSIGNED = "brigade_assigned"
    DEPARTED = "departed"
    EN_ROUTE = "en_route"
    ARRIVED = "arrived"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def is_final(self) -> bool:
        return self in (CallStatus.CLOSED, CallStatus.CANCELLED)

    @property
    def label_ru(self) -> str:
        return _LABELS[self]


_RANK = {s: i for i, s in enumerate(CallStatus)}
_RANK[CallStatus.CANCELLED] = _RANK[CallStatus.CLOSED]
_LABELS = {
    CallStatus.ACCEPTED: "Вызов принят",
    CallStatus.BRIGADE_ASSIGNED: "Бригада назначена",
    CallStatus.DEPARTED: "Бригада выехала",
    CallStatus.EN_ROUTE: "Бригада в пути",
    CallStatus.ARRIVED: "Бригада на месте",
    CallStatus.TRANSPORTING: "Пациента везут в больницу",
    CallStatus.AT_HOSPITAL: "Пациент доставлен в больницу",
    CallStatus.CLOSED: "Вызов завершён",
    CallStatus.CANCELLED: "Вызов отменён",
}


@dataclass(frozen=True, slots=True)
class Brigade:
    id: str
    station_id: str
    station_name: str


@dataclass(frozen=True, slots=True)
class Position:
    lat: float
    lon: float
    speed_kmh: float
    heading: float
    ts: datetime


@dataclass(frozen=True, slots=True)
class Place:
    lat: float
    lon: float
    address: str


@dataclass(frozen=True, slots=True)
class Hospital:
    id: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class PatientRef:
    """Who the call is for, as the dispatcher recorded it (may be absent or partial)."""

    last_name: str
    first_name: str
    birth_date: date | None = None
    snils: str | None = None
    oms_policy: str | None = None


@dataclass(frozen=True, slots=True)
class StatusStep:
    status: CallStatus
    at: datetime


@dataclass(frozen=True)
class CallSnapshot:
    """A call as the dispatch subsystem knows it now (the §8 document)."""

    call_id: str
    status: CallStatus
    caller_phone: str
    caller_esia_oid: str | None
    patient: PatientRef | None
    place: Place
    district_id: str
    accepted_at: datetime
    brigade: Brigade | None = None
    position: Position | None = None
    eta_minutes: int | None = None
    hospital: Hospital | None = None
    history: tuple[StatusStep, ...] = ()
    seq: int = 0


class EventKind(enum.Enum):
    STATUS = "status"
    POSITION = "position"


@dataclass(frozen=True)
class FeedEvent:
    """One pushed (or pulled) event of a call: a status change carries the whole snapshot, a position the
    brigade's position and the dispatcher's ETA."""

    call_id: str
    seq: int
    kind: EventKind
    sent_at: datetime
    call: CallSnapshot | None = None
    position: Position | None = None
    eta_minutes: int | None = None

    @property
    def dedup_key(self) -> str:
        return f"{self.call_id}:{self.seq}"


@dataclass(frozen=True)
class SharedLocation:
    lat: float
    lon: float
    accuracy_m: float | None
    at: datetime


@dataclass(frozen=True)
class CrewProfile:
    """The emergency profile as the crew receives it."""

    blood_group: str | None
    allergies: tuple[str, ...] = ()
    chronic_conditions: tuple[str, ...] = ()
    contact_name: str | None = None
    contact_phone: str | None = None


# -- errors ------------------------------------------------------------------------------------------


class SmpError(Exception):
    """Anything the dispatch subsystem could not do; ``user_message`` is Russian."""

    user_message = "Служба скорой помощи не ответила. Повторите попытку; при угрозе жизни звоните 103 или 112."

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or type(self).__name__)
        self.detail = detail


class SmpUnavailable(SmpError):
    """Transport failure, timeout or an answer we cannot read: retryable."""


class SmpCallNotFound(SmpError):
    user_message = "Вызов не найден в диспетчерской службе скорой помощи."


class SmpCallClosed(SmpError):
    user_message = "Вызов уже завершён: бригаде больше ничего не передаётся."


class SmpBadRequest(SmpError):
    user_message = "Диспетчерская служба не приняла данные."


class SmpAccessDenied(SmpError):
    pass


class FeedRejected(Exception):
    """A pushed message we must not apply (bad signature, unreadable body)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# -- the port ----------------------------------------------------------------------------------------


class SmpDispatch(Protocol):
    async def get_call(self, call_id: str) -> CallSnapshot: ...

    async def events(self, call_id: str, after_seq: int = 0) -> Sequence[FeedEvent]: ...

    async def share_location(self, call_id: str, location: SharedLocation) -> None: ...

    async def share_profile(self, call_id: str, profile: CrewProfile) -> None: ...

    async def aclose(self) -> None: ...


# -- signatures --------------------------------------------------------------------------------------


def sign(body: bytes, secret: str, at: int) -> str:
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def verify(body: bytes, header: str | None, secret: str, now: int, *, tolerance_s: int = SIGNATURE_TOLERANCE_S) -> None:
    """:class:`FeedRejected` (401) unless ``header`` signs ``body`` with ``secret`` within the tolerance."""
    if not header:
        raise FeedRejected(401, "missing signature")
    parts: dict[str, str] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts[name] = value
    try:
        at = int(parts.get("t", ""))
    except ValueError:
        raise FeedRejected(401, "bad signature timestamp") from None
    if abs(now - at) > tolerance_s:
        raise FeedRejected(401, "signature outside the tolerance")
    expected = sign(body, secret, at).partition(",v1=")[2]
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        raise FeedRejected(401, "signature mismatch")


@dataclass
class Delivery:
    """What one push attempt answered (the simulator's record)."""

    seq: int
    call_id: str
    status: int
    extra: dict[str, Any] = field(default_factory=dict)
