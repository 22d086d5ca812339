"""Dispanserization's tables: the questionnaire's answers per year, and the plans (one day's itinerary of
several appointments at the attached clinic) with their items.

An item refers to booking's appointment by id (no cross-domain foreign key); the appointment itself (slot,
status) is booking's. One live plan per patient and year: ``(patient_id, year) WHERE status = 'booked'``.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, UUIDPrimaryKey, utcnow

_LIVE_PLAN = text("status = 'booked'")


class PlanStatus(enum.StrEnum):
    BOOKED = "booked"
    REPLACED = "replaced"  # rescheduled as a whole: ``replaced_by_id`` is the new plan
    CANCELLED = "cancelled"


class Questionnaire(UUIDPrimaryKey, Base):
    """The patient's answers for one year (answered again: replaced), with the first stage they gave."""

    __tablename__ = "dispanserization_questionnaires"
    __table_args__ = (UniqueConstraint("patient_id", "year"),)

    patient_id: Mapped[uuid.UUID]
    year: Mapped[int] = mapped_column(Integer)
    rules_version: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(24))  # ExamKind
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"exams": [codes], "flags": [texts]}
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Plan(UUIDPrimaryKey, Base):
    __tablename__ = "dispanserization_plans"
    __table_args__ = (
        Index(
            "uq_dispanserization_plans_live",
            "patient_id",
            "year",
            unique=True,
            postgresql_where=_LIVE_PLAN,
            sqlite_where=_LIVE_PLAN,
        ),
        Index("ix_dispanserization_plans_patient_id", "patient_id"),
    )

    patient_id: Mapped[uuid.UUID]
    year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    rules_version: Mapped[str] = mapped_column(String(32))
    mo_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default=PlanStatus.BOOKED.value)
    channel: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    replaced_by_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlanItem(UUIDPrimaryKey, Base):
    __tablename__ = "dispanserization_plan_items"
    __table_args__ = (UniqueConstraint("plan_id", "position"), Index("ix_dispanserization_plan_items_plan", "plan_id"))

    plan_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(Integer)
    resource_code: Mapped[str] = mapped_column(String(32))
    exams: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"codes": [...]}
    appointment_id: Mapped[uuid.UUID]
