"""The drugs domain's tables: what it must remember between the upstream's answers.

* :class:`DrugPrescription` — the person's e-prescriptions as last seen from the regional ЛЛО system (the
  system is the truth; the row exists so that notifications — issued, three days before expiry, drug
  arrived — are sent once each, and so a list can still be shown when the system is down);
* :class:`DrugRequest` — a renewal or certificate request to the clinic's MIS, tracked to its result;
* :class:`DrugSyncState` — the cursor of the ЛЛО event feed.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, JSONType, UUIDPrimaryKey, utcnow


class DrugPrescription(UUIDPrimaryKey, Base):
    __tablename__ = "drug_prescriptions"
    __table_args__ = (
        Index("uq_drug_prescriptions_upstream_id", "upstream_id", unique=True),
        Index("ix_drug_prescriptions_patient_id", "patient_id"),
        Index("ix_drug_prescriptions_valid_until", "valid_until"),
    )

    patient_id: Mapped[uuid.UUID]
    upstream_id: Mapped[str] = mapped_column(String(64))
    series: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(32))
    barcode: Mapped[str] = mapped_column(String(64))
    mnn: Mapped[str] = mapped_column(String(255))
    dosage: Mapped[str] = mapped_column(String(64))
    form: Mapped[str] = mapped_column(String(128), default="")
    quantity: Mapped[int]
    dispensed_quantity: Mapped[int] = mapped_column(default=0)
    preferential: Mapped[bool] = mapped_column(default=False)
    benefit_code: Mapped[str | None] = mapped_column(String(16))
    financing: Mapped[str] = mapped_column(String(16))
    chronic: Mapped[bool] = mapped_column(default=False)
    narcotic_schedule: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(32))
    issued_on: Mapped[date]
    valid_days: Mapped[int]
    valid_until: Mapped[date]
    doctor_name: Mapped[str | None] = mapped_column(String(255))
    mo_name: Mapped[str | None] = mapped_column(String(512))
    dosing: Mapped[str | None] = mapped_column(Text)
    semd_kind: Mapped[str] = mapped_column(String(8))
    semd_registry_number: Mapped[str | None] = mapped_column(String(64))
    dispensing_semd: Mapped[list[str]] = mapped_column(JSONType, default=list)
    deferred_pharmacy_id: Mapped[str | None] = mapped_column(String(64))
    deferred_on: Mapped[date | None]
    deferred_due: Mapped[date | None]
    arrived_on: Mapped[date | None]
    expiry_reminded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DrugRequest(UUIDPrimaryKey, Base):
    """A request without a visit: a prescription renewal or a certificate, as the clinic's MIS accepted it."""

    __tablename__ = "drug_requests"
    __table_args__ = (
        Index("uq_drug_requests_upstream_id", "upstream_id", unique=True),
        Index("ix_drug_requests_patient_id", "patient_id"),
        Index("ix_drug_requests_created_at", "created_at"),
    )

    patient_id: Mapped[uuid.UUID]
    upstream_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # renewal | certificate
    certificate_kind: Mapped[str | None] = mapped_column(String(32))
    prescription_upstream_id: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(Text)
    tax_year: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16))
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    doctor_name: Mapped[str | None] = mapped_column(String(255))
    result_prescription_id: Mapped[str | None] = mapped_column(String(64))
    result_registry_number: Mapped[str | None] = mapped_column(String(64))
    result_document_id: Mapped[uuid.UUID | None]
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    channel: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    on_behalf: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DrugSyncState(Base):
    """The ЛЛО event feed's cursor (one row per feed)."""

    __tablename__ = "drug_sync_state"

    feed: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
