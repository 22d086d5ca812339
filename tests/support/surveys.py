"""Shared builders for the survey tests: invitations (and answers) as the survey service writes them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from backend.runtime import Runtime
from backend.surveys import questionnaire
from backend.surveys.models import SurveyAnswer, SurveyInvitation


async def answered_visits(
    runtime: Runtime,
    patient_id: uuid.UUID,
    count: int,
    *,
    visited: datetime = datetime(2025, 3, 3, 9, tzinfo=UTC),
    mo_id: str = "1001",
) -> None:
    """``count`` invitations of the patient at ``mo_id``, every other one answered."""
    async with runtime.sessionmaker() as session, session.begin():
        for i in range(count):
            invitation = SurveyInvitation(
                id=uuid.uuid4(), appointment_id=uuid.uuid4(), patient_id=patient_id, mo_id=mo_id,
                mo_name="Городская поликлиника № 1", specialty_name="Терапевт", doctor_name="Иванова М. П.",
                visited_at=visited + timedelta(hours=i), token_hash=uuid.uuid4().hex * 2,
                status="answered" if i % 2 else "pending", answer_until=visited + timedelta(days=14),
                created_at=visited + timedelta(hours=i), answered_at=None,
            )  # fmt: skip
            session.add(invitation)
            if i % 2:
                session.add(
                    SurveyAnswer(
                        id=uuid.uuid4(), invitation_id=invitation.id, patient_id=patient_id, mo_id=mo_id,
                        visited_at=invitation.visited_at, questionnaire=questionnaire.VERSION, quality=4,
                        booking_ease=5, booking_channel="epgu", future_use=True, recommend=i % 4 == 1,
                        comment=None, answers={}, channel="mobile", created_at=invitation.visited_at,
                    )
                )  # fmt: skip
