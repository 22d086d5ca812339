"""The attachment domain's tables: the applications to attach to a clinic and their status history.

The attachment itself lives upstream (the ЕРЗЛ record, see :mod:`integrations.attachment.protocol`);
we keep what the person asked for and what became of it. At most one application is under review per
patient (a partial unique index over ``submitted`` / ``accepted``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, UUIDPrimaryKey, utcnow

_PENDING_WHERE = text("status IN ('submitted', 'accepted')")


class AttachmentApplication(UUIDPrimaryKey, Base):
    __tablename__ = "attachment_applications"
    __table_args__ = (
        Index(
            "uq_attachment_applications_pending_patient",
            "patient_id",
            unique=True,
            postgresql_where=_PENDING_WHERE,
            sqlite_where=_PENDING_WHERE,
        ),
        Index("ix_attachment_applications_patient_id", "patient_id"),
        Index("ix_attachment_applications_upstream_id", "upstream_id", unique=True),
        Index("ix_attachment_applications_created_at", "created_at"),
    )

    patient_id: Mapped[uuid.UUID]
    upstream_id: Mapped[str] = mapped_column(String(64))
    mo_id: Mapped[str] = mapped_column(String(64))
    mo_name: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16))
    rejection_reason: Mapped[str | None] = mapped_column(String(64))
    rejection_message: Mapped[str | None] = mapped_column(Text)
    change_of_residence: Mapped[bool] = mapped_column(default=False)
    registration_address: Mapped[str] = mapped_column(String(512))
    attached_on: Mapped[date | None]
    channel: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AttachmentApplicationEvent(UUIDPrimaryKey, Base):
    __tablename__ = "attachment_application_events"
    __table_args__ = (UniqueConstraint("application_id", "status"),)

    application_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    comment: Mapped[str | None] = mapped_column(Text)
