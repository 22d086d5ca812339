"""The home-visit domain's tables: the requests and their status timeline.

One active request per patient is guarded by the database (a partial unique index over the active
statuses, the same on PostgreSQL and SQLite), as the hub refuses a second one (code 4015). A status
change is recorded once: ``home_visit_events.dedup_key`` is unique (a push delivered twice, or the push
and the periodic sync reporting the same change, write one event).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, JSONType, UUIDPrimaryKey, utcnow

ACTIVE = ("new", "doctor_assigned", "on_the_way")
_ACTIVE_WHERE = text("status IN ('new', 'doctor_assigned', 'on_the_way')")


class HomeVisit(UUIDPrimaryKey, Base):
    """A request for a doctor at home, as the hub accepted it, with who asked, through what, for whom."""

    __tablename__ = "home_visits"
    __table_args__ = (
        Index(
            "uq_home_visits_active_patient",
            "patient_id",
            unique=True,
            postgresql_where=_ACTIVE_WHERE,
            sqlite_where=_ACTIVE_WHERE,
        ),
        Index("ix_home_visits_patient_id", "patient_id"),
        Index("ix_home_visits_created_at", "created_at"),
        Index("ix_home_visits_request_id", "request_id", unique=True),
    )

    patient_id: Mapped[uuid.UUID]
    request_id: Mapped[str] = mapped_column(String(64))  # the hub's IdHomeCallRequest (the number shown)
    mo_id: Mapped[str] = mapped_column(String(64))
    mo_name: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(32))
    reason_code: Mapped[str] = mapped_column(String(32))
    reason_text: Mapped[str | None] = mapped_column(Text)
    symptoms: Mapped[list[str]] = mapped_column(JSONType, default=list)
    address: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    address_line: Mapped[str] = mapped_column(String(512))
    phone: Mapped[str] = mapped_column(String(20))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    doctor_name: Mapped[str | None] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    on_behalf: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class HomeVisitEvent(UUIDPrimaryKey, Base):
    """One step of a request's timeline (created, doctor assigned, on the way, visited, cancelled)."""

    __tablename__ = "home_visit_events"
    __table_args__ = (
        Index("ix_home_visit_events_visit_id", "visit_id"),
        Index("uq_home_visit_events_dedup_key", "dedup_key", unique=True),
    )

    visit_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    comment: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # created | patient | push | sync
    dedup_key: Mapped[str] = mapped_column(String(200))
