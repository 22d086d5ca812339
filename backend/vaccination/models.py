"""The vaccination domain's tables.

* ``vaccination_records``: vaccinations imported from the immunization register (history before the
  СЭМД 170 documents). The vaccinations of the СЭМД 170 themselves stay with the documents domain, which
  read them from each CDA at its sync; the domain reads them through ``backend.documents.service``.
* ``vaccination_exemptions``: medical exemptions (медотводы) with their period, from the register.
* ``vaccination_register_states``: when a patient's register data was last imported, and how it went.
* ``vaccination_bookings``: which appointment of the booking core is for which dose (the reason the hub's
  SetAppointment cannot carry).
* ``vaccination_certificates``: every certificate issued (what it lists, who issued it, the token).
* ``vaccination_reminders``: every ``vaccination.due`` reminder sent, once per (patient, recipient, key).

Other domains' rows are referred to by plain UUID columns (no cross-domain foreign keys).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, JSONType, UUIDPrimaryKey, utcnow


class VaccinationRecordRow(UUIDPrimaryKey, Base):
    """One vaccination from the immunization register."""

    __tablename__ = "vaccination_records"
    __table_args__ = (
        UniqueConstraint("patient_id", "source", "source_id"),
        Index("ix_vaccination_records_given_on", "given_on"),
    )

    patient_id: Mapped[uuid.UUID]
    source: Mapped[str] = mapped_column(String(16))  # "register"
    source_id: Mapped[str] = mapped_column(String(128))
    given_on: Mapped[date] = mapped_column(Date)
    vaccine: Mapped[str | None] = mapped_column(String(32))  # the calendar's vaccine code
    nsi_code: Mapped[str | None] = mapped_column(String(16))  # НСИ 1078
    trade_name: Mapped[str | None] = mapped_column(String(200))
    infections: Mapped[list[str]] = mapped_column(JSONType, default=list)
    dose_number: Mapped[int | None] = mapped_column(Integer)
    lot: Mapped[str | None] = mapped_column(String(64))
    clinic: Mapped[str | None] = mapped_column(String(255))
    performer: Mapped[str | None] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class VaccinationExemptionRow(UUIDPrimaryKey, Base):
    """A medical exemption from ``starts_on`` to ``ends_on`` inclusive (``ends_on`` None: permanent)."""

    __tablename__ = "vaccination_exemptions"
    __table_args__ = (UniqueConstraint("patient_id", "source", "source_id"),)

    patient_id: Mapped[uuid.UUID]
    source: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(128))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    infections: Mapped[list[str] | None] = mapped_column(JSONType)  # None: every vaccination
    reason: Mapped[str | None] = mapped_column(String(500))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class VaccinationRegisterState(Base):
    """When the patient's register data was last imported (``imported_at``) or tried."""

    __tablename__ = "vaccination_register_states"

    patient_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    imported_at: Mapped[datetime | None]
    attempted_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class VaccinationBooking(Base):
    """The booking core's appointment ``appointment_id`` is for this dose."""

    __tablename__ = "vaccination_bookings"
    __table_args__ = (Index("ix_vaccination_bookings_patient_id", "patient_id"),)

    appointment_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    patient_id: Mapped[uuid.UUID]
    infection: Mapped[str] = mapped_column(String(32))
    dose_number: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))  # «Вакцинация против полиомиелита, доза 1»
    booked_at: Mapped[datetime] = mapped_column(default=utcnow)


class VaccinationCertificate(UUIDPrimaryKey, Base):
    """A certificate issued: the vaccinations it lists (``entries``), the signed token of its QR code."""

    __tablename__ = "vaccination_certificates"
    __table_args__ = (Index("ix_vaccination_certificates_patient_id", "patient_id"),)

    patient_id: Mapped[uuid.UUID]
    infections: Mapped[list[str]] = mapped_column(JSONType, default=list)  # chosen; empty: all
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    kid: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))


class VaccinationReminder(UUIDPrimaryKey, Base):
    """A ``vaccination.due`` reminder sent to ``recipient_id`` about ``patient_id`` (once per key)."""

    __tablename__ = "vaccination_reminders"
    __table_args__ = (UniqueConstraint("patient_id", "recipient_id", "key"),)

    patient_id: Mapped[uuid.UUID]
    recipient_id: Mapped[uuid.UUID]
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    infection: Mapped[str] = mapped_column(String(32))
    dose_number: Mapped[int] = mapped_column(Integer)
    send_on: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
