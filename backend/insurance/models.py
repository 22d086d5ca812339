"""The insurance domain's tables.

* :class:`InsurancePolicySnapshot` — the last ЕРЗЛ answer about a patient (the digital policy, refreshed on
  login and by the periodic job), the ЕНП ESIA gave (``MDCL_PLCY``) for the cross-check, or the "not found
  yet" state with its retry moment;
* :class:`InsuranceTicket` / :class:`InsuranceTicketEvent` — disputes of billed services and complaints, as
  tracked tickets mirroring the insurer's appeal, with their status history;
* :class:`InsurerChange` / :class:`InsurerChangeEvent` — applications to change insurer and their steps;
* :class:`RepresentativeMessage` — the virtual representative's messages: one per (patient, rule, period)
  (a unique index), dismissable.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, JSONType, UUIDPrimaryKey, utcnow

_OPEN_CHANGE = text("status IN ('submitted', 'accepted')")


class InsurancePolicySnapshot(UUIDPrimaryKey, Base):
    __tablename__ = "insurance_policy_snapshots"
    __table_args__ = (Index("uq_insurance_policy_snapshots_patient_id", "patient_id", unique=True),)

    patient_id: Mapped[uuid.UUID]
    state: Mapped[str] = mapped_column(String(16))  # found | pending | not_found
    retry_after: Mapped[datetime | None]
    enp: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str | None] = mapped_column(String(16))
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    region: Mapped[str | None] = mapped_column(String(8))
    insurer_code: Mapped[str | None] = mapped_column(String(16))
    insurer_name: Mapped[str | None] = mapped_column(String(512))
    insurer_ogrn: Mapped[str | None] = mapped_column(String(16))
    insurer_phone: Mapped[str | None] = mapped_column(String(32))
    insurer_website: Mapped[str | None] = mapped_column(String(256))
    insurer_address: Mapped[str | None] = mapped_column(String(512))
    attachment_mo_oid: Mapped[str | None] = mapped_column(String(128))
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    esia_enp: Mapped[str | None] = mapped_column(String(16))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class InsuranceTicket(UUIDPrimaryKey, Base):
    __tablename__ = "insurance_tickets"
    __table_args__ = (
        Index("ix_insurance_tickets_patient_id", "patient_id"),
        Index("ix_insurance_tickets_upstream_id", "upstream_id", unique=True),
    )

    patient_id: Mapped[uuid.UUID]
    upstream_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # dispute | complaint
    category: Mapped[str] = mapped_column(String(32))
    addressee: Mapped[str] = mapped_column(String(8))  # smo | tfoms
    case_id: Mapped[str | None] = mapped_column(String(64))
    service_name: Mapped[str | None] = mapped_column(String(512))
    service_date: Mapped[date | None]
    service_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    description: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)  # vault file ids and titles
    status: Mapped[str] = mapped_column(String(16))
    due_on: Mapped[date]
    answer: Mapped[str | None] = mapped_column(Text)
    upheld: Mapped[bool | None]
    reopened: Mapped[bool] = mapped_column(default=False)
    channel: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class InsuranceTicketEvent(UUIDPrimaryKey, Base):
    __tablename__ = "insurance_ticket_events"
    __table_args__ = (
        Index("ix_insurance_ticket_events_ticket_id", "ticket_id"),
        UniqueConstraint("ticket_id", "seq"),
    )

    ticket_id: Mapped[uuid.UUID]
    seq: Mapped[int]  # the step's place in the upstream's history
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    comment: Mapped[str | None] = mapped_column(Text)


class InsurerChange(UUIDPrimaryKey, Base):
    __tablename__ = "insurer_changes"
    __table_args__ = (
        Index("ix_insurer_changes_patient_id", "patient_id"),
        Index("ix_insurer_changes_upstream_id", "upstream_id", unique=True),
        Index(
            "uq_insurer_changes_open_patient",
            "patient_id",
            unique=True,
            postgresql_where=_OPEN_CHANGE,
            sqlite_where=_OPEN_CHANGE,
        ),
    )

    patient_id: Mapped[uuid.UUID]
    upstream_id: Mapped[str] = mapped_column(String(64))
    insurer_code: Mapped[str] = mapped_column(String(16))
    insurer_name: Mapped[str] = mapped_column(String(512))
    reason: Mapped[str] = mapped_column(String(32))
    new_address: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16))
    certificate_number: Mapped[str | None] = mapped_column(String(64))
    certificate_valid_until: Mapped[date | None]
    rejection: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class InsurerChangeEvent(UUIDPrimaryKey, Base):
    __tablename__ = "insurer_change_events"
    __table_args__ = (UniqueConstraint("change_id", "status"),)

    change_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    comment: Mapped[str | None] = mapped_column(Text)


class RepresentativeMessage(UUIDPrimaryKey, Base):
    __tablename__ = "insurance_representative_messages"
    __table_args__ = (
        UniqueConstraint("patient_id", "rule", "period_key"),
        Index("ix_insurance_representative_messages_created_at", "created_at"),
    )

    patient_id: Mapped[uuid.UUID]
    rule: Mapped[str] = mapped_column(String(32))
    period_key: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    citation: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dismissed_at: Mapped[datetime | None]
