from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, UUIDPrimaryKey, utcnow


class OutboxMessage(UUIDPrimaryKey, Base):
    """A side effect to carry out once the transaction that wrote it has committed."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_pending", "dispatched_at", "dead_at", "created_at"),)

    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_until: Mapped[datetime | None]  # a worker holds it until then
    dispatched_at: Mapped[datetime | None]  # done: never run again
    dead_at: Mapped[datetime | None]  # gave up after the last attempt
    last_error: Mapped[str | None] = mapped_column(Text)
