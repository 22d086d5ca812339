"""After closure: the one-question survey (from ``services.md`` §11, the seed's survey of ambulance callers)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from backend.ambulance.models import FINAL, AmbulanceSurvey
from backend.ambulance.problems import AlreadyAnswered, CallNotFound, CallStillOpen, InvalidInput, fail
from backend.ambulance.service.reads import call_for
from backend.core.uow import UnitOfWork

QUESTION = "Насколько точно бригада приехала к обещанному времени и насколько вам помог сервис? Оцените от 1 до 5."


async def answer(
    uow: UnitOfWork, subject_id: uuid.UUID, call_ref: uuid.UUID, *, score: int, comment: str | None
) -> AmbulanceSurvey:
    if not 1 <= score <= 5:
        raise fail(InvalidInput.of("score", "Оценка — число от 1 до 5."))
    text = (comment or "").strip() or None
    if text is not None and len(text) > 1000:
        raise fail(InvalidInput.of("comment", "Комментарий — не длиннее 1000 знаков."))
    call = await call_for(uow.session, subject_id, call_ref)
    if call is None:
        raise fail(CallNotFound.default())
    if call.status not in FINAL:
        raise fail(CallStillOpen.default())
    if await uow.session.scalar(select(AmbulanceSurvey.id).where(AmbulanceSurvey.call_ref == call.id)) is not None:
        raise fail(AlreadyAnswered.default())
    row = AmbulanceSurvey(
        id=uuid.uuid4(),
        call_ref=call.id,
        patient_id=subject_id,
        score=score,
        comment=text,
        answered_at=uow.runtime.now(),
    )
    uow.session.add(row)
    uow.audit("ambulance.survey_answered", object_type="ambulance_call", object_id=call.id, subject_id=subject_id)
    return row
