"""Booking: search, hold, confirm, book, cancel, reschedule; statuses kept in step with the hub.

The package by concern: :mod:`.base` (constants, the clock, the region's time, the hub, who acts),
:mod:`backend.booking.problems` (typed business errors), :mod:`.slots` (slot references, availability),
:mod:`.statements` (the prebuilt statements of the booking path), :mod:`.rules`, :mod:`.holds`,
:mod:`.upstream` (the hub's calls and its errors as problems), :mod:`.compensation`,
:mod:`.appointments` (claim, confirm, book, cancel, reschedule), :mod:`.search`, :mod:`.sync` (status sync,
hold expiry) and :mod:`.kpi`. Callers import from here.

Who guards what
---------------
* The database: partial unique indexes (see :mod:`backend.booking.models`). A one-step booking inserts
  its appointment row (the claim: ``INSERT … WHERE no running hold … ON CONFLICT DO NOTHING``) *before*
  calling the hub, a hold does the same with its hold row, so concurrent attempts at one slot serialise
  on the index: the first goes on to the hub, the others wait and then fail with :class:`SlotTaken`.
  The appointment's audit row and the patient's notification are written by the same statement
  (:meth:`~backend.core.uow.UnitOfWork.claim`), and roll back with it if the hub then refuses.
* The hub: its own uniqueness per slot (SetAppointment answers SLOT_TAKEN).
* The cache's marker (Redis ``SET NX`` or in-process, with each process's own view in front) only turns
  away early the attempts at a slot that someone is booking right now or just booked; it is never what
  prevents a double booking.

Upstream effects and our transaction
------------------------------------
A booking accepted by the hub is registered with :func:`register_upstream`. If our transaction then
does not commit (a typed problem, an integrity error, a failed commit), :func:`compensation_scope`
writes an outbox row in a transaction of its own that cancels it upstream. A cancellation goes to the
hub only through the outbox (``cancel_pending`` meanwhile, retried with backoff while the hub is down).

Times: the hub's slot times are naive local times of the region; here they are aware UTC.
"""

from backend.booking.problems import (
    PROBLEM_TYPES,
    TRANSIENT_CODES,
    AgeRestricted,
    AppointmentMissing,
    AppointmentNotActive,
    BookingProblem,
    BookingServiceUnavailable,
    HoldExpired,
    HoldNotFound,
    IdempotencyKeyReused,
    InvalidInput,
    OnlineBookingLimited,
    PatientNotFoundAtClinic,
    ProblemError,
    ReferralNeeded,
    ReferralNotUsable,
    SameSpecialtyActive,
    SexRestricted,
    SlotTaken,
    fail,
)

# Issue 24: referrals and no-show rules (modules, called as ``service.referrals.add(...)``), multi-booking reads.
from backend.booking.service import no_shows, referrals
from backend.booking.service.appointments import (
    appointments_of,
    book_now,
    cancel,
    confirm_hold,
    emit_event,
    on_cancel_upstream,
    reschedule,
    slot_marker,
)
from backend.booking.service.base import (
    ADULT_AGE,
    HOLD_TTL,
    PEDIATRICIAN,
    SLOT_MARKER_TTL_S,
    THERAPIST,
    TOPIC_CANCEL_UPSTREAM,
    TOPIC_COMPENSATE,
    Acting,
    hub,
    local_day,
    now,
    set_clock,
    source_of,
    to_utc,
)
from backend.booking.service.compensation import (
    COMPENSATION_NOT_FOUND_RETRIES,
    UpstreamBooking,
    after_rollback,
    booking_unit,
    compensation_scope,
    on_compensate,
    register_upstream,
)
from backend.booking.service.holds import (
    BRIDGE_ACTOR,
    BRIDGE_TTL,
    bridge_from_hold,
    hold_slot,
    release_hold,
    remaining_seconds,
    take_bridge,
)
from backend.booking.service.hooks import FreedSlot, on_slot_freed, on_visited
from backend.booking.service.kpi import REMOTE_CHANNELS, ChannelCount, RemoteShare, remote_booking_share
from backend.booking.service.multi import appointments_by_ids
from backend.booking.service.rules import (
    VisitPurpose,
    check_age,
    check_live_appointments,
    check_sex,
    doctor_info,
    load_patient,
)
from backend.booking.service.search import (
    MAX_CLINICS,
    MAX_CONCURRENT_FETCHES,
    SEARCH_DEADLINE_S,
    DoctorAvailability,
    NearestSlot,
    SearchResult,
    haversine_km,
    nearest_free_slots,
    own_clinic,
    own_clinic_of,
    search,
)
from backend.booking.service.slots import (
    SlotRef,
    _slot_to_json,
    doctor_slots,
    find_slot,
    live_holds_and_bookings,
    parse_ref,
)
from backend.booking.service.sync import SYNC_BATCH, SYNC_MIN_INTERVAL, SyncReport, expire_holds, sync_statuses
from backend.booking.service.upstream import identify, remembered_hub_patient

__all__ = [
    "ADULT_AGE",
    "BRIDGE_ACTOR",
    "BRIDGE_TTL",
    "COMPENSATION_NOT_FOUND_RETRIES",
    "HOLD_TTL",
    "MAX_CLINICS",
    "MAX_CONCURRENT_FETCHES",
    "PEDIATRICIAN",
    "PROBLEM_TYPES",
    "REMOTE_CHANNELS",
    "SEARCH_DEADLINE_S",
    "SLOT_MARKER_TTL_S",
    "SYNC_BATCH",
    "SYNC_MIN_INTERVAL",
    "THERAPIST",
    "TOPIC_CANCEL_UPSTREAM",
    "TOPIC_COMPENSATE",
    "TRANSIENT_CODES",
    "Acting",
    "AgeRestricted",
    "AppointmentMissing",
    "AppointmentNotActive",
    "BookingProblem",
    "BookingServiceUnavailable",
    "ChannelCount",
    "DoctorAvailability",
    "FreedSlot",
    "HoldExpired",
    "HoldNotFound",
    "IdempotencyKeyReused",
    "InvalidInput",
    "NearestSlot",
    "OnlineBookingLimited",
    "PatientNotFoundAtClinic",
    "ProblemError",
    "ReferralNeeded",
    "ReferralNotUsable",
    "RemoteShare",
    "SameSpecialtyActive",
    "SearchResult",
    "SexRestricted",
    "SlotRef",
    "SlotTaken",
    "SyncReport",
    "UpstreamBooking",
    "VisitPurpose",
    "_slot_to_json",
    "after_rollback",
    "appointments_by_ids",
    "appointments_of",
    "book_now",
    "booking_unit",
    "bridge_from_hold",
    "cancel",
    "check_age",
    "check_live_appointments",
    "check_sex",
    "compensation_scope",
    "confirm_hold",
    "doctor_info",
    "doctor_slots",
    "emit_event",
    "expire_holds",
    "fail",
    "find_slot",
    "haversine_km",
    "hold_slot",
    "hub",
    "identify",
    "live_holds_and_bookings",
    "load_patient",
    "local_day",
    "nearest_free_slots",
    "no_shows",
    "now",
    "on_cancel_upstream",
    "on_compensate",
    "on_slot_freed",
    "on_visited",
    "own_clinic",
    "own_clinic_of",
    "parse_ref",
    "referrals",
    "register_upstream",
    "release_hold",
    "remaining_seconds",
    "remembered_hub_patient",
    "remote_booking_share",
    "reschedule",
    "search",
    "set_clock",
    "slot_marker",
    "source_of",
    "sync_statuses",
    "take_bridge",
    "to_utc",
]
