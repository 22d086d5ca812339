"""The waitlist's tables: who waits for what (entries) and the slots offered to them (offers).

The database keeps the fairness and the "one offer" rules (partial unique indexes, the same on PostgreSQL
and SQLite):

* one active entry per patient, clinic and specialty: ``(patient_id, mo_id, specialty_code) WHERE status
  IN ('waiting', 'offered')``;
* the line's order is ``(priority DESC, seq)``; ``seq`` is unique (the join's place in the line), taken
  from :class:`WaitlistCounter` (one row updated in place: concurrent joins get consecutive numbers, in
  the order they reach the database, with no retries);
* nobody gets two offers for one slot: ``(entry_id, mo_id, slot_id)`` unique, whatever became of the first;
* one live offer per slot: ``(mo_id, slot_id) WHERE status = 'offered'`` (the slot's hold, in booking,
  is the second guard: one live hold per slot);
* one live offer per entry: ``(entry_id) WHERE status = 'offered'``.

Other domains' rows (the hold, the appointment) are referred to by plain UUID columns.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, UUIDPrimaryKey, utcnow


class EntryStatus(enum.StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"  # a slot is held for the entry right now
    BOOKED = "booked"  # an offer was accepted: the appointment is in booking
    LEFT = "left"  # the patient left the line
    ENDED = "ended"  # the date range passed


ACTIVE_ENTRY: tuple[str, ...] = (EntryStatus.WAITING.value, EntryStatus.OFFERED.value)


class OfferStatus(enum.StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    FAILED = "failed"  # accepted, but the hub refused the booking: the slot goes on down the line
    PASSED = "passed"  # the entry could not take it (another appointment of the specialty, age…): skipped


class Priority(enum.IntEnum):
    """A place in the line is first come, first served within a priority; a higher priority goes first."""

    REGULAR = 0
    OUT_OF_TURN = 1  # право на внеочередное оказание медицинской помощи, checked by a 122 operator


_ACTIVE_WHERE = text("status IN ('waiting', 'offered')")
_OFFERED_WHERE = text("status = 'offered'")


class WaitlistEntry(UUIDPrimaryKey, Base):
    __tablename__ = "waitlist_entries"
    __table_args__ = (
        Index(
            "uq_waitlist_entries_active",
            "patient_id",
            "mo_id",
            "specialty_code",
            unique=True,
            postgresql_where=_ACTIVE_WHERE,
            sqlite_where=_ACTIVE_WHERE,
        ),
        Index("uq_waitlist_entries_seq", "seq", unique=True),
        Index("ix_waitlist_entries_line", "mo_id", "specialty_code", "status", "priority", "seq"),
        Index("ix_waitlist_entries_patient", "patient_id"),
    )

    patient_id: Mapped[uuid.UUID]
    seq: Mapped[int] = mapped_column(BigInteger)  # the place in the line: the order of joining
    priority: Mapped[int] = mapped_column(Integer, default=Priority.REGULAR.value)
    mo_id: Mapped[str] = mapped_column(String(64))
    mo_name: Mapped[str] = mapped_column(String(512))
    specialty_code: Mapped[str] = mapped_column(String(32))
    specialty_name: Mapped[str] = mapped_column(String(255))
    doctor_id: Mapped[str | None] = mapped_column(String(64))  # None: any doctor of the specialty
    doctor_name: Mapped[str | None] = mapped_column(String(255))
    date_from: Mapped[date]
    date_to: Mapped[date]
    claim_type: Mapped[int] = mapped_column(Integer)  # the hub's ClaimToWaitingListType
    phone: Mapped[str] = mapped_column(String(32))
    hub_claim_guid: Mapped[str] = mapped_column(String(64))  # GuidClaim
    status: Mapped[str] = mapped_column(String(16), default=EntryStatus.WAITING.value)
    appointment_id: Mapped[uuid.UUID | None]
    channel: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WaitlistOffer(UUIDPrimaryKey, Base):
    __tablename__ = "waitlist_offers"
    __table_args__ = (
        UniqueConstraint("entry_id", "mo_id", "slot_id", name="uq_waitlist_offers_entry_slot"),
        Index(
            "uq_waitlist_offers_live_slot",
            "mo_id",
            "slot_id",
            unique=True,
            postgresql_where=_OFFERED_WHERE,
            sqlite_where=_OFFERED_WHERE,
        ),
        Index(
            "uq_waitlist_offers_live_entry",
            "entry_id",
            unique=True,
            postgresql_where=_OFFERED_WHERE,
            sqlite_where=_OFFERED_WHERE,
        ),
        Index("ix_waitlist_offers_status_expires", "status", "expires_at"),
        Index("ix_waitlist_offers_patient", "patient_id"),
    )

    entry_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    mo_id: Mapped[str] = mapped_column(String(64))
    doctor_id: Mapped[str] = mapped_column(String(64))
    specialty_code: Mapped[str] = mapped_column(String(32))
    slot_id: Mapped[str] = mapped_column(String(128))
    slot_start: Mapped[datetime]
    slot_end: Mapped[datetime]
    hold_id: Mapped[uuid.UUID | None]  # booking's hold of the slot (None for a passed offer)
    status: Mapped[str] = mapped_column(String(16), default=OfferStatus.OFFERED.value)
    reason: Mapped[str | None] = mapped_column(String(64))  # a passed offer: the problem's code
    expires_at: Mapped[datetime]
    appointment_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]


class WaitlistCounter(Base):
    """A named counter (``entries``: the places in the line), moved by ``INSERT … ON CONFLICT DO UPDATE SET
    value = value + 1 RETURNING value``: the row lock orders concurrent joins."""

    __tablename__ = "waitlist_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
