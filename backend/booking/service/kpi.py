"""The remote-booking share: «Доля записей на прием к врачу, совершенных гражданами дистанционно»."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.booking.models import Appointment
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


async def remote_booking_share(session: AsyncSession, start: datetime, end: datetime) -> RemoteShare:
    """«Доля записей на прием к врачу, совершенных гражданами дистанционно» over bookings made here in
    [start, end): every appointment row is one booking act (a later cancellation does not undo it)."""
    rows = await session.execute(
        select(Appointment.channel, func.count())
        .where(and_(Appointment.created_at >= start, Appointment.created_at < end))
        .group_by(Appointment.channel)
    )
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
