"""The call record's one table: a call of the 122 call centre, from the operator's «принять звонок» to the
outcome they closed it with.

What the operator did inside the call is not typed in by them: at the close it is copied from the audit trail
(the operator's audited actions between the opening and the close, see :mod:`backend.call_record.service`)
into ``actions``, so the record says what really happened and stays readable when the audit is archived.
An operator has at most one open call (a partial unique index over ``closed_at IS NULL``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, JSONType, UUIDPrimaryKey

_OPEN_WHERE = text("closed_at IS NULL")


class Call(UUIDPrimaryKey, Base):
    __tablename__ = "calls"
    __table_args__ = (
        Index(
            "uq_calls_open_operator", "operator_id", unique=True, postgresql_where=_OPEN_WHERE, sqlite_where=_OPEN_WHERE
        ),
        Index("uq_calls_operator_open_key", "operator_id", "open_key", unique=True),
        Index("ix_calls_opened_at", "opened_at"),
    )

    operator_id: Mapped[str] = mapped_column(String(64))
    caller_phone: Mapped[str | None] = mapped_column(String(32))
    patient_id: Mapped[uuid.UUID | None]  # the caller, once identified (the first subject acted for)
    opened_at: Mapped[datetime]  # the runtime's clock: durations and the supervisor's hours
    audit_from: Mapped[datetime]  # the audit trail's clock at the opening: where the call's actions start
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(500))
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)  # copied from the audit at the close
    open_key: Mapped[str] = mapped_column(String(128))
    close_key: Mapped[str | None] = mapped_column(String(128))
