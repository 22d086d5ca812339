"""The survey's tables: one invitation per visited appointment, and at most one answer to it.

``survey_invitations.appointment_id`` is unique: a visit is asked about once, however often the status
sync sees it. ``survey_answers.invitation_id`` is unique: answered once, from the notification's link or
from the app, whichever comes first. The scores are columns (the staff KPI aggregates them); every answer
as given is kept in ``answers`` with the questionnaire's version.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, UUIDPrimaryKey, utcnow


class InvitationStatus(enum.StrEnum):
    PENDING = "pending"
    ANSWERED = "answered"


class SurveyInvitation(UUIDPrimaryKey, Base):
    __tablename__ = "survey_invitations"
    __table_args__ = (
        Index("uq_survey_invitations_appointment", "appointment_id", unique=True),
        Index("uq_survey_invitations_token", "token_hash", unique=True),
        Index("ix_survey_invitations_patient", "patient_id", "created_at"),
        Index("ix_survey_invitations_mo_visited", "mo_id", "visited_at"),
    )

    appointment_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    mo_id: Mapped[str] = mapped_column(String(64))
    mo_name: Mapped[str] = mapped_column(String(512))
    specialty_name: Mapped[str] = mapped_column(String(255))
    doctor_name: Mapped[str] = mapped_column(String(255))
    visited_at: Mapped[datetime]
    token_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the link's token (the token is in the SMS only)
    status: Mapped[str] = mapped_column(String(16), default=InvitationStatus.PENDING.value)
    answer_until: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]


class SurveyAnswer(UUIDPrimaryKey, Base):
    __tablename__ = "survey_answers"
    __table_args__ = (
        Index("uq_survey_answers_invitation", "invitation_id", unique=True),
        Index("ix_survey_answers_mo_visited", "mo_id", "visited_at"),
    )

    invitation_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    mo_id: Mapped[str] = mapped_column(String(64))
    visited_at: Mapped[datetime]
    questionnaire: Mapped[str] = mapped_column(String(32))  # the version of the questions answered
    quality: Mapped[int] = mapped_column(Integer)  # 1–5
    booking_ease: Mapped[int] = mapped_column(Integer)  # 1–5
    booking_channel: Mapped[str] = mapped_column(String(16))
    future_use: Mapped[bool]
    recommend: Mapped[bool]
    comment: Mapped[str | None] = mapped_column(Text)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    channel: Mapped[str] = mapped_column(String(16))  # where it was answered: mobile, callcentre, link
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
