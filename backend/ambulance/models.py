"""The ambulance domain's tables: calls as the dispatch feed told us, their timeline, the ETA predictions
kept beside the actual arrival, the patient's location consent and shared positions, and the survey.

A call row is linked to the caller (the person whose confirmed phone or ESIA identity made the call) and to
the patient it is for (identified by SNILS or OMS policy with the birth date; the caller when the dispatcher
recorded nobody else). A step of the timeline is recorded once (``uq_ambulance_steps_call_status``), so a
status pushed twice, pulled after a gap, or learnt from a later event's history writes one row.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, UUIDPrimaryKey, utcnow

FINAL = ("closed", "cancelled")


class AmbulanceCall(UUIDPrimaryKey, Base):
    __tablename__ = "ambulance_calls"
    __table_args__ = (
        Index("uq_ambulance_calls_call_id", "call_id", unique=True),
        Index("ix_ambulance_calls_caller_id", "caller_id"),
        Index("ix_ambulance_calls_patient_id", "patient_id"),
        Index("ix_ambulance_calls_arrived_at", "arrived_at"),
    )

    call_id: Mapped[str] = mapped_column(String(64))  # the dispatch subsystem's call number
    caller_id: Mapped[uuid.UUID | None]
    patient_id: Mapped[uuid.UUID | None]
    caller_phone: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    district_id: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(512))
    place_lat: Mapped[float] = mapped_column(Float)
    place_lon: Mapped[float] = mapped_column(Float)
    brigade_id: Mapped[str | None] = mapped_column(String(64))
    station_name: Mapped[str | None] = mapped_column(String(512))
    hospital_name: Mapped[str | None] = mapped_column(String(512))
    accepted_at: Mapped[datetime]
    departed_at: Mapped[datetime | None]
    arrived_at: Mapped[datetime | None]  # the actual arrival
    closed_at: Mapped[datetime | None]
    departure_km: Mapped[float | None] = mapped_column(Float)  # straight line from the first position
    min_per_km: Mapped[float | None] = mapped_column(Float)  # the ETA factor calibrated at departure
    pos_lat: Mapped[float | None] = mapped_column(Float)
    pos_lon: Mapped[float | None] = mapped_column(Float)
    pos_speed: Mapped[float | None] = mapped_column(Float)
    pos_heading: Mapped[float | None] = mapped_column(Float)
    pos_at: Mapped[datetime | None]
    eta_minutes: Mapped[int | None] = mapped_column(Integer)  # ours (straight line × calibrated factor)
    eta_at: Mapped[datetime | None]
    dispatch_eta_minutes: Mapped[int | None] = mapped_column(Integer)  # the dispatcher's own
    seq_high: Mapped[int] = mapped_column(Integer, default=0)
    predicted_at: Mapped[datetime | None]  # when the last prediction row was kept
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AmbulanceStep(UUIDPrimaryKey, Base):
    __tablename__ = "ambulance_steps"
    __table_args__ = (Index("uq_ambulance_steps_call_status", "call_ref", "status", unique=True),)

    call_ref: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]


class AmbulancePrediction(UUIDPrimaryKey, Base):
    """One ETA as it was predicted (ours and the dispatcher's), kept to compare with the actual arrival."""

    __tablename__ = "ambulance_predictions"
    __table_args__ = (Index("ix_ambulance_predictions_call_ref", "call_ref"),)

    call_ref: Mapped[uuid.UUID]
    predicted_at: Mapped[datetime]
    eta_minutes: Mapped[int] = mapped_column(Integer)
    arrival_at: Mapped[datetime]
    dispatch_eta_minutes: Mapped[int | None] = mapped_column(Integer)


class AmbulanceConsent(UUIDPrimaryKey, Base):
    """The patient's consent to share their location (and, if chosen, the emergency profile) for one call."""

    __tablename__ = "ambulance_consents"
    __table_args__ = (Index("uq_ambulance_consents_call_ref", "call_ref", unique=True),)

    call_ref: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    granted_at: Mapped[datetime]
    share_profile: Mapped[bool] = mapped_column(default=False)
    withdrawn_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]  # the call closed
    profile_sent_at: Mapped[datetime | None]
    last_location_at: Mapped[datetime | None]


class AmbulanceLocation(UUIDPrimaryKey, Base):
    __tablename__ = "ambulance_locations"
    __table_args__ = (Index("ix_ambulance_locations_call_ref", "call_ref"),)

    call_ref: Mapped[uuid.UUID]
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    at: Mapped[datetime]
    received_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class AmbulanceSurvey(UUIDPrimaryKey, Base):
    __tablename__ = "ambulance_surveys"
    __table_args__ = (Index("uq_ambulance_surveys_call_ref", "call_ref", unique=True),)

    call_ref: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime]
