"""What every part of booking shares: constants, the clock and the region's time, the hub, who acts."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from backend.core.context import ActorKind, Channel, RequestContext
from integrations.fer import BookingChannel, BookingHub

if TYPE_CHECKING:
    from backend.runtime import Runtime


HOLD_TTL = timedelta(minutes=5)
SLOT_MARKER_TTL_S = 10.0
ADULT_AGE = 18
PEDIATRICIAN = "49"
THERAPIST = "76"

TOPIC_CANCEL_UPSTREAM = "booking.cancel_upstream"
TOPIC_COMPENSATE = "booking.compensate_upstream"


_SOURCE_OF_CHANNEL: dict[Channel, BookingChannel] = {
    Channel.MOBILE: BookingChannel.INTERNET,
    Channel.EPGU: BookingChannel.INTERNET,
    Channel.CALLCENTRE: BookingChannel.CALL_CENTRE,
    Channel.KIOSK: BookingChannel.INFOMAT,
    Channel.SYSTEM: BookingChannel.OTHER,
}


def source_of(channel: Channel) -> BookingChannel:
    """The hub's AppointmentSourceType for one of our channels."""
    return _SOURCE_OF_CHANNEL[channel]


def now(runtime: Runtime) -> datetime:
    """The runtime's clock (aware UTC); tests replace ``runtime.adapters.clock``."""
    return runtime.now()


def set_clock(runtime: Runtime, clock: Callable[[], datetime]) -> None:
    runtime.adapters.clock = clock


def _tz(runtime: Runtime) -> ZoneInfo:
    return _zone(runtime.settings.region_timezone)


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_utc(runtime: Runtime, local: datetime) -> datetime:
    """A hub time (naive, the region's local time) as aware UTC."""
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    return local.replace(tzinfo=_tz(runtime)).astimezone(UTC)


def local_day(runtime: Runtime, moment: datetime) -> date:
    return moment.astimezone(_tz(runtime)).date()


def hub(runtime: Runtime) -> BookingHub:
    return runtime.adapters.fer


@dataclass(frozen=True)
class Acting:
    """Who makes a booking for whom, through what."""

    channel: Channel
    actor_kind: str
    actor_id: str | None
    on_behalf: bool

    @classmethod
    def of(cls, ctx: RequestContext, patient_id: uuid.UUID) -> Acting:
        actor = ctx.actor
        on_behalf = actor.kind is not ActorKind.PATIENT or actor.subject_id != patient_id
        return cls(actor.channel, actor.kind.value, actor.id, on_behalf)
