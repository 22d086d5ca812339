"""The remote-booking share: «Доля записей на прием к врачу, совершенных гражданами дистанционно»."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from backend.booking.models import Appointment, AppointmentState
from backend.core.context import Channel

# Whether a booking was made remotely (KPI 1.3 of the strategy: «Доля записей на прием к врачу, совершенных
# гражданами дистанционно»). Remote means "without coming to the clinic" («Отсутствие необходимости очного
# визита для записи на прием»): the app, EPGU and the 122 phone line are remote; an infomat stands in the
# clinic, so it is not.
REMOTE_CHANNELS: frozenset[str] = frozenset({Channel.MOBILE.value, Channel.EPGU.value, Channel.CALLCENTRE.value})


@dataclass(frozen=True)
class ChannelCount:
    channel: str
    count: int
    remote: bool


@dataclass(frozen=True)
class RemoteShare:
    start: datetime
    end: datetime
    total: int
    remote: int
    share: float | None  # remote / total; None without bookings
    share_with_kiosk: float | None  # if infomats counted as remote
    by_channel: list[ChannelCount]
    target: float = 0.63


#: A booking that ends cancelled (by the patient, or on its way there) is not counted.
CANCELLED_STATES: tuple[str, ...] = (
    AppointmentState.CANCEL_PENDING.value,
    AppointmentState.CANCELLED_BY_PATIENT.value,
    AppointmentState.CANCELLED_BY_MO.value,
)


def _booking_acts(start: datetime, end: datetime) -> Select[str, int]:
    """Booking acts made in [start, end) by channel: one per first appointment (a reschedule continues the
    act of the appointment it replaces, in that one's channel and time), unless the act's latest
    appointment is cancelled. One statement: a recursive walk along ``rescheduled_from_id``."""
    first = (
        select(Appointment.id.label("current"), Appointment.channel.label("channel"))
        .where(
            Appointment.rescheduled_from_id.is_(None),
            and_(Appointment.created_at >= start, Appointment.created_at < end),
        )
        .cte("booking_acts", recursive=True)
    )
    acts = first.union_all(
        select(Appointment.id, first.c.channel).where(Appointment.rescheduled_from_id == first.c.current)
    )
    latest = aliased(Appointment, name="latest")
    return (
        select(acts.c.channel, func.count())
        .join(latest, latest.id == acts.c.current)
        .where(latest.replaced_by_id.is_(None), latest.status.not_in(CANCELLED_STATES))
        .group_by(acts.c.channel)
    )


async def remote_booking_share(session: AsyncSession, start: datetime, end: datetime) -> RemoteShare:
    """«Доля записей на прием к врачу, совершенных гражданами дистанционно» over bookings made here in
    [start, end): a booking and its reschedules are one booking act; a cancelled booking is none."""
    rows = await session.execute(_booking_acts(start, end))
    counts = {channel: int(n) for channel, n in rows}
    total = sum(counts.values())
    remote = sum(n for c, n in counts.items() if c in REMOTE_CHANNELS)
    kiosk = counts.get(Channel.KIOSK.value, 0)
    by_channel = [ChannelCount(c, counts.get(c, 0), c in REMOTE_CHANNELS) for c in [ch.value for ch in Channel]]
    return RemoteShare(
        start=start,
        end=end,
        total=total,
        remote=remote,
        share=remote / total if total else None,
        share_with_kiosk=(remote + kiosk) / total if total else None,
        by_channel=by_channel,
    )
