"""Quiet hours in the region's local time: no SMS at night except urgent ones; the rest wait for morning."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from backend.settings import Settings


def quiet_until(now: datetime, settings: Settings) -> datetime | None:
    """The end of the quiet period ``now`` falls in (aware UTC), or None when it is not quiet now.

    The period runs from ``notify_quiet_start_hour`` to ``notify_quiet_end_hour`` local time and may
    span midnight (22 → 8); equal hours switch quiet hours off. DST gaps are resolved by ZoneInfo.
    """
    start, end = settings.notify_quiet_start_hour, settings.notify_quiet_end_hour
    if start == end:
        return None
    tz = ZoneInfo(settings.region_timezone)
    local = now.astimezone(tz)
    hour = local.hour
    quiet = (start <= hour or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return None
    day = local.date() if hour < end else local.date() + timedelta(days=1)
    morning = datetime.combine(day, time(hour=end), tzinfo=tz)
    return morning.astimezone(UTC)
