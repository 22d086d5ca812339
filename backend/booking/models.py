"""The booking domain's tables: slot holds, appointments, idempotency keys, referrals and no-show contests.

The database is the guard against double booking (partial unique indexes, the same on PostgreSQL and
SQLite):

* one live hold per slot: ``(mo_id, slot_id) WHERE status = 'held'``;
* one live appointment per slot: ``(mo_id, slot_id) WHERE status IN ('booked', 'cancel_pending')``;
* one live appointment per patient and specialty: ``(patient_id, specialty_code) WHERE status IN
  ('booked', 'cancel_pending')`` (the rule «не более одной активной записи к врачу одной специальности»).

Other domains' rows are referred to by plain UUID / upstream-id columns (no cross-domain foreign keys).
Slot times are aware UTC; the hub's own (naive, local) ids are kept as strings.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Index, Integer, String, UniqueConstraint, literal_column, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, UUIDPrimaryKey, utcnow


class HoldStatus(enum.StrEnum):
    HELD = "held"
    CONFIRMED = "confirmed"
    RELEASED = "released"  # the patient let it go, or the confirmation failed
    EXPIRED = "expired"


class AppointmentState(enum.StrEnum):
    BOOKED = "booked"
    CANCEL_PENDING = "cancel_pending"  # the refusal is on its way to the hub (outbox)
    CANCELLED_BY_PATIENT = "cancelled_by_patient"
    CANCELLED_BY_MO = "cancelled_by_mo"
    RESCHEDULED = "rescheduled"  # replaced by another appointment (``replaced_by_id``)
    VISITED = "visited"
    NO_SHOW = "no_show"


LIVE_STATES: tuple[str, ...] = (AppointmentState.BOOKED.value, AppointmentState.CANCEL_PENDING.value)
_LIVE_WHERE = text("status IN ('booked', 'cancel_pending')")
_HELD_WHERE = text("status = 'held'")


def is_live(status: Any) -> ColumnElement[bool]:
    """``status IN ('booked', 'cancel_pending')`` with the states as literals, as the partial indexes say it:
    a prepared statement's generic plan can then use those indexes (bound parameters would not prove it)."""
    return status.in_([literal_column(f"'{state}'") for state in LIVE_STATES])


class SlotHold(UUIDPrimaryKey, Base):
    """A patient's claim on a slot until ``expires_at`` (then it is ``expired``, lazily or by the job)."""

    __tablename__ = "booking_holds"
    __table_args__ = (
        Index(
            "uq_booking_holds_live_slot",
            "mo_id",
            "slot_id",
            unique=True,
            postgresql_where=_HELD_WHERE,
            sqlite_where=_HELD_WHERE,
        ),
        Index("ix_booking_holds_patient_id", "patient_id"),
        Index("ix_booking_holds_status_expires_at", "status", "expires_at"),
    )

    patient_id: Mapped[uuid.UUID]
    mo_id: Mapped[str] = mapped_column(String(64))  # the hub's IdLPU
    doctor_id: Mapped[str] = mapped_column(String(64))  # IdDoc
    specialty_code: Mapped[str] = mapped_column(String(32))
    slot_id: Mapped[str] = mapped_column(String(128))  # IdAppointment
    slot_start: Mapped[datetime]
    slot_end: Mapped[datetime]
    room: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default=HoldStatus.HELD.value)
    expires_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    reschedule_of_id: Mapped[uuid.UUID | None]  # the appointment this hold would replace
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]


class Appointment(UUIDPrimaryKey, Base):
    """A visit booked at the hub, with who booked it, through which channel, and for whom."""

    __tablename__ = "booking_appointments"
    __table_args__ = (
        Index(
            "uq_booking_appointments_live_slot",
            "mo_id",
            "slot_id",
            unique=True,
            postgresql_where=_LIVE_WHERE,
            sqlite_where=_LIVE_WHERE,
        ),
        Index(
            "uq_booking_appointments_live_specialty",
            "patient_id",
            "specialty_code",
            unique=True,
            postgresql_where=_LIVE_WHERE,
            sqlite_where=_LIVE_WHERE,
        ),
        Index("ix_booking_appointments_patient_start", "patient_id", "slot_start"),
        Index("ix_booking_appointments_status_start", "status", "slot_start"),
        Index("ix_booking_appointments_created_at", "created_at"),
    )

    patient_id: Mapped[uuid.UUID]
    mo_id: Mapped[str] = mapped_column(String(64))
    mo_name: Mapped[str] = mapped_column(String(512))
    doctor_id: Mapped[str] = mapped_column(String(64))
    doctor_name: Mapped[str] = mapped_column(String(255))
    specialty_code: Mapped[str] = mapped_column(String(32))
    specialty_name: Mapped[str] = mapped_column(String(255))
    slot_id: Mapped[str] = mapped_column(String(128))
    slot_start: Mapped[datetime]
    slot_end: Mapped[datetime]
    room: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(512))
    hub_patient_id: Mapped[str] = mapped_column(String(64))  # IdPat within the MO
    status: Mapped[str] = mapped_column(String(24), default=AppointmentState.BOOKED.value)
    # Channel and actor: who made the booking, through what, and for whom (subject = patient_id).
    channel: Mapped[str] = mapped_column(String(16))  # backend.core.context.Channel
    source_type: Mapped[int] = mapped_column(Integer)  # the hub's AppointmentSourceType
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    on_behalf: Mapped[bool] = mapped_column(default=False)  # an operator, kiosk or proxy acted for the patient
    hold_id: Mapped[uuid.UUID | None]
    rescheduled_from_id: Mapped[uuid.UUID | None]
    replaced_by_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]
    status_synced_at: Mapped[datetime | None]  # last time the hub's history was compared


class IdempotencyRecord(UUIDPrimaryKey, Base):
    """The first result of a mutation for (actor, operation, key); a repeat returns it."""

    __tablename__ = "booking_idempotency"
    __table_args__ = (UniqueConstraint("actor_key", "operation", "key"),)

    actor_key: Mapped[str] = mapped_column(String(160))
    operation: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- referrals and no-show contests (issue 24; services in service/referrals.py and service/no_shows.py) -----


class ReferralState(enum.StrEnum):
    """A referral's state as the hub last said (``expired`` is ours: past ``valid_until``)."""

    ISSUED = "issued"  # выдано: may be booked
    BOOKED = "booked"  # записан
    SERVED = "served"  # обслужено
    CANCELLED = "cancelled"  # аннулировано
    EXPIRED = "expired"


class Referral(UUIDPrimaryKey, Base):
    """A patient's referral (направление) as the hub's CheckReferral gave it, with the booking made on it."""

    __tablename__ = "booking_referrals"
    __table_args__ = (
        UniqueConstraint("patient_id", "number"),
        Index("ix_booking_referrals_patient_id", "patient_id"),
    )

    patient_id: Mapped[uuid.UUID]
    number: Mapped[str] = mapped_column(String(64))  # the hub's IdMq
    status: Mapped[str] = mapped_column(String(16))
    target_specialty_code: Mapped[str] = mapped_column(String(32))
    target_specialty_name: Mapped[str] = mapped_column(String(200))
    target_mo_id: Mapped[str | None] = mapped_column(String(64))
    issued_on: Mapped[date | None]
    valid_until: Mapped[date | None]
    issuer_name: Mapped[str | None] = mapped_column(String(200))
    issuer_snils: Mapped[str | None] = mapped_column(String(14))
    issuer_mo_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    appointment_id: Mapped[uuid.UUID | None]  # the appointment booked on it (here)
    added_by: Mapped[str] = mapped_column(String(16))  # actor kind that added it: patient | operator | ...
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContestStatus(enum.StrEnum):
    PENDING = "pending"  # sent to the clinic, not decided
    UPHELD = "upheld"  # the clinic agrees: not a no-show, it no longer counts
    REJECTED = "rejected"


class NoShowContest(UUIDPrimaryKey, Base):
    """The patient's contest of one no-show: a tracked request to the clinic (one per appointment)."""

    __tablename__ = "booking_no_show_contests"
    __table_args__ = (
        UniqueConstraint("appointment_id"),
        Index("ix_booking_no_show_contests_patient_id", "patient_id"),
        Index("ix_booking_no_show_contests_mo_status", "mo_id", "status"),
    )

    appointment_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    mo_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default=ContestStatus.PENDING.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decision_note: Mapped[str | None] = mapped_column(String(1000))
