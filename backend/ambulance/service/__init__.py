"""The ambulance domain's services: the feed (:mod:`.feed`), consent and sharing with the crew (:mod:`.consent`),
reads and the KPI (:mod:`.reads`), the survey (:mod:`.survey`)."""

from backend.ambulance.service.consent import (
    TOPIC_LOCATION,
    TOPIC_PROFILE,
    grant,
    on_location,
    on_profile,
    share_location,
    withdraw,
)
from backend.ambulance.service.feed import (
    TOPIC_LIVE,
    TOPIC_RECOVER,
    SyncReport,
    apply_call,
    apply_event,
    handle_push,
    live_update,
    on_live,
    on_recover,
    recover_call,
    sync,
)
from backend.ambulance.service.reads import ArrivalStats, CallView, arrival_kpi, call_for, calls_of
from backend.ambulance.service.survey import QUESTION, answer

__all__ = [
    "QUESTION",
    "TOPIC_LIVE",
    "TOPIC_LOCATION",
    "TOPIC_PROFILE",
    "TOPIC_RECOVER",
    "ArrivalStats",
    "CallView",
    "SyncReport",
    "answer",
    "apply_call",
    "apply_event",
    "arrival_kpi",
    "call_for",
    "calls_of",
    "grant",
    "handle_push",
    "live_update",
    "on_live",
    "on_location",
    "on_profile",
    "on_recover",
    "recover_call",
    "share_location",
    "sync",
    "withdraw",
]
