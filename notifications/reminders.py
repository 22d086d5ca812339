"""Reminders from a periodic scan, in bounded batches — not a timer per message that dies with Redis.

The domains that own what is reminded of (booking: appointments) implement :class:`ReminderSource` and
register it with :func:`register_reminder_source`. Each run asks every source for the reminders whose
moment lies in ``[now - lookback, now)``, page by page (``limit`` + cursor), and hands each to
:func:`notifications.service.notify` in a transaction of its own, together with a row in
``notification_reminders`` whose unique key (source, object, kind) makes the reminder happen once
however often the scan runs or overlaps. One bad reminder (no phone, bad data) is logged and skipped;
the rest of the batch goes on.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from notifications.models import ReminderLedger
from notifications.preferences import insert_ignore
from notifications.service import notify

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

# How far back a run looks: reminders missed while the scheduler was down are still sent when due
# (a reminder whose appointment has started is dropped by its expiry, see rendering.EVENTS).
LOOKBACK = timedelta(hours=6)
BATCH = 200
MAX_BATCHES_PER_SOURCE = 50
KINDS = {"24h": "appointment.reminder_24h", "2h": "appointment.reminder_2h"}


@dataclass(frozen=True)
class DueReminder:
    """One reminder a source wants sent.

    ``object_id`` names the thing (an appointment id); with ``kind`` it is the once-only key.
    ``remind_at`` is when it is due; ``data`` feeds the template of ``event`` (for appointments at least
    ``starts_at`` and ``specialty``); ``cursor`` is opaque and ordered: the next page starts after it.
    """

    object_id: str
    patient_id: uuid.UUID
    kind: str  # "24h" | "2h" (or another kind the source names an ``event`` for)
    remind_at: datetime
    data: dict[str, Any]
    cursor: str
    event: str | None = None  # defaults to KINDS[kind]


@runtime_checkable
class ReminderSource(Protocol):
    async def due_reminders(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        window_start: datetime,
        window_end: datetime,
        limit: int,
        after_cursor: str | None,
    ) -> list[DueReminder]:
        """Reminders with ``window_start <= remind_at < window_end``, ordered by cursor, at most
        ``limit``, starting after ``after_cursor`` (None: from the beginning). Cancelled or moved
        appointments are simply not returned (a moved one comes back under its new time with the
        same object id — give it a new ``object_id``, e.g. ``f"{id}@{starts_at}"``, to remind again)."""
        ...


_SOURCES: dict[str, ReminderSource] = {}


def register_reminder_source(name: str, source: ReminderSource) -> None:
    if len(name) > 32:
        raise ValueError("reminder source name: at most 32 characters")
    _SOURCES[name] = source


def unregister_reminder_source(name: str) -> None:
    _SOURCES.pop(name, None)


def reminder_sources() -> dict[str, ReminderSource]:
    return dict(_SOURCES)


@dataclass
class ScanSummary:
    seen: int = 0
    notified: int = 0
    already: int = 0
    failed: int = 0
    sources: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"seen": self.seen, "notified": self.notified, "already": self.already, "failed": self.failed}


async def scan_reminders(
    runtime: Runtime,
    *,
    sources: dict[str, ReminderSource] | None = None,
    batch: int = BATCH,
    lookback: timedelta = LOOKBACK,
) -> ScanSummary:
    now = runtime.now()
    summary = ScanSummary()
    for name, source in (sources if sources is not None else _SOURCES).items():
        summary.sources.append(name)
        cursor: str | None = None
        for _ in range(MAX_BATCHES_PER_SOURCE):
            try:
                due = await source.due_reminders(runtime.sessionmaker, now - lookback, now, batch, cursor)
            except Exception:
                log.exception("notifications.reminder_source_failed", source=name)
                summary.failed += 1
                break
            for reminder in due:
                summary.seen += 1
                await _remind(runtime, name, reminder, summary)
            if len(due) < batch:
                break
            cursor = due[-1].cursor
        else:
            log.warning("notifications.reminder_scan_truncated", source=name, batches=MAX_BATCHES_PER_SOURCE)
    if summary.seen:
        log.info("notifications.reminders_scanned", **summary.as_dict())
    return summary


async def _remind(runtime: Runtime, source: str, reminder: DueReminder, summary: ScanSummary) -> None:
    event = reminder.event or KINDS.get(reminder.kind)
    try:
        if event is None:
            raise ValueError(f"reminder kind {reminder.kind!r} has no event")
        async with UnitOfWork(runtime, RequestContext.for_system("notifications.reminders")) as uow:
            fresh = await insert_ignore(
                uow.session,
                ReminderLedger,
                {
                    "id": uuid.uuid4(),
                    "source": source,
                    "object_id": reminder.object_id,
                    "kind": reminder.kind,
                    "patient_id": reminder.patient_id,
                    "created_at": runtime.now(),
                },
                ["source", "object_id", "kind"],
            )
            if fresh:
                notify(
                    uow,
                    patient_id=reminder.patient_id,
                    event=event,
                    data=reminder.data,
                    dedupe_key=f"reminder:{source}:{reminder.object_id}:{reminder.kind}",
                )
    except Exception:
        summary.failed += 1
        log.exception("notifications.reminder_failed", source=source, object_id=reminder.object_id, kind=reminder.kind)
        return
    if fresh:
        summary.notified += 1
    else:
        summary.already += 1


class StaticReminderSource:
    """A source over a fixed list (tests, the benchmark, and a template for real sources)."""

    def __init__(self, reminders: Sequence[DueReminder]) -> None:
        self.reminders = sorted(reminders, key=lambda r: r.cursor)
        self.calls = 0

    async def due_reminders(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        window_start: datetime,
        window_end: datetime,
        limit: int,
        after_cursor: str | None,
    ) -> list[DueReminder]:
        self.calls += 1
        due = [
            r
            for r in self.reminders
            if window_start <= r.remind_at < window_end and (after_cursor is None or r.cursor > after_cursor)
        ]
        return due[:limit]
