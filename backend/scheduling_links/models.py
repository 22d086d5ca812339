"""The published files' parts: one row per FHIR resource group, rewritten only when its content changes.

``kind`` is ``Location`` (one row per clinic), ``Schedule`` (one per doctor) or ``Slot`` (one per doctor:
the NDJSON lines of that doctor's free slots). A regeneration compares each part's ``digest`` with what it
built and writes only the parts that changed (``changed_at``, the manifest's ``transactionTime``), and
deletes the parts of doctors and clinics no longer published.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, UUIDPrimaryKey, utcnow


class PublishedPart(UUIDPrimaryKey, Base):
    __tablename__ = "scheduling_link_parts"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_scheduling_link_parts_kind_key"),)

    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(160))
    content: Mapped[str] = mapped_column(Text)  # NDJSON lines (no trailing newline)
    lines: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
