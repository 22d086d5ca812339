"""The satisfaction survey after a visit (services.md §18), once per appointment, and the staff KPI.

When booking records a visit (the hub's history says ``visited``: booking's ``on_visited`` hook, in the
same unit of work), the patient is invited: an invitation row (unique per appointment: a visit is asked
about once, however often the sync sees it) and a notification (``survey.invitation``) with a link
carrying a one-time token (only its hash is kept). The survey is answered from that link without logging
in (``GET/POST /api/v1/surveys/{token}``: the token is the capability, and it answers one survey once) or
from the app (``answerSurvey``); the first answer wins, a second is refused (``SURVEY_ALREADY_ANSWERED``).
Answers may be given for :data:`ANSWER_DAYS` days.

The questions are :mod:`backend.surveys.questionnaire` (versioned data, with their sources). The KPI per
clinic and period: invitations, answers, the response rate, the mean quality score, the satisfied share
(quality 4–5, the usual CSAT), the mean ease of booking, the shares ready to use it again and to recommend.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.uow import UnitOfWork
from backend.surveys import questionnaire
from backend.surveys.models import InvitationStatus, SurveyAnswer, SurveyInvitation
from backend.surveys.problems import AlreadyAnswered, InvalidInput, SurveyClosed, SurveyNotFound, fail
from notifications import service as notifications

if TYPE_CHECKING:
    from backend.booking.models import Appointment
    from backend.runtime import Runtime

ANSWER_DAYS = 14
INVITATION_EVENT = "survey.invitation"
LINK_PATH = "/api/v1/surveys"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link(runtime: Runtime, token: str) -> str:
    return f"{runtime.settings.public_url.rstrip('/')}{LINK_PATH}/{token}"


async def on_visited(uow: UnitOfWork, appointment: Appointment) -> None:
    """Booking's hook (in its unit of work): invite the patient to rate the visit, once per appointment."""
    session = uow.session
    known = await session.scalar(select(SurveyInvitation.id).where(SurveyInvitation.appointment_id == appointment.id))
    if known is not None:
        return
    at = uow.runtime.now()
    token = secrets.token_urlsafe(18)
    invitation = SurveyInvitation(
        id=uuid.uuid4(),
        appointment_id=appointment.id,
        patient_id=appointment.patient_id,
        mo_id=appointment.mo_id,
        mo_name=appointment.mo_name,
        specialty_name=appointment.specialty_name,
        doctor_name=appointment.doctor_name,
        visited_at=appointment.slot_start,
        token_hash=token_hash(token),
        status=InvitationStatus.PENDING.value,
        answer_until=at + timedelta(days=ANSWER_DAYS),
        created_at=at,
        answered_at=None,
    )
    session.add(invitation)
    uow.audit(
        "survey.invited",
        object_type="survey_invitation",
        object_id=invitation.id,
        subject_id=appointment.patient_id,
        details={"appointment_id": str(appointment.id)},
    )
    notifications.notify(
        uow,
        patient_id=appointment.patient_id,
        event=INVITATION_EVENT,
        data={
            "specialty": appointment.specialty_name,
            "clinic": appointment.mo_name,
            "answer_until": invitation.answer_until,
            "link": link(uow.runtime, token),
        },
        dedupe_key=f"survey:{appointment.id}",
    )


@dataclass(frozen=True)
class Answers:
    quality: int
    booking_ease: int
    booking_channel: str
    future_use: bool
    recommend: bool
    comment: str | None = None

    def check(self) -> None:
        for name in ("quality", "booking_ease"):
            if getattr(self, name) not in range(1, 6):
                raise fail(InvalidInput.of(name, "Оценка — от 1 до 5."))
        if self.booking_channel not in {o.value for o in questionnaire.CHANNELS}:
            raise fail(InvalidInput.of("bookingChannel", "Выберите, как вы записались, из списка."))
        if self.comment is not None and len(self.comment) > questionnaire.COMMENT_MAX:
            raise fail(InvalidInput.of("comment", f"Комментарий — не длиннее {questionnaire.COMMENT_MAX} символов."))


async def invitation_by_token(session: AsyncSession, token: str) -> SurveyInvitation | None:
    return await session.scalar(select(SurveyInvitation).where(SurveyInvitation.token_hash == token_hash(token)))


async def answer(uow: UnitOfWork, invitation: SurveyInvitation, answers: Answers, *, channel: str) -> SurveyAnswer:
    """Record the answer, once: the answer's unique index decides between two at once."""
    answers.check()
    at = uow.runtime.now()
    if invitation.status == InvitationStatus.ANSWERED.value:
        raise fail(AlreadyAnswered.default())
    if invitation.answer_until <= at:
        raise fail(SurveyClosed.default())
    comment = (answers.comment or "").strip() or None
    row = SurveyAnswer(
        id=uuid.uuid4(),
        invitation_id=invitation.id,
        patient_id=invitation.patient_id,
        mo_id=invitation.mo_id,
        visited_at=invitation.visited_at,
        questionnaire=questionnaire.VERSION,
        quality=answers.quality,
        booking_ease=answers.booking_ease,
        booking_channel=answers.booking_channel,
        future_use=answers.future_use,
        recommend=answers.recommend,
        comment=comment,
        answers={**answers.__dict__, "comment": comment},
        channel=channel,
        created_at=at,
    )
    session = uow.session
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise fail(AlreadyAnswered.default()) from None
    invitation.status, invitation.answered_at = InvitationStatus.ANSWERED.value, at
    uow.audit(
        "survey.answered",
        object_type="survey_invitation",
        object_id=invitation.id,
        subject_id=invitation.patient_id,
        details={"channel": channel, "quality": answers.quality},
    )
    return row


async def own_invitation(session: AsyncSession, patient_id: uuid.UUID, invitation_id: uuid.UUID) -> SurveyInvitation:
    invitation = await session.get(SurveyInvitation, invitation_id)
    if invitation is None or invitation.patient_id != patient_id:
        raise fail(SurveyNotFound.default())
    return invitation


async def invitations_of(session: AsyncSession, patient_id: uuid.UUID, *, limit: int = 50) -> list[SurveyInvitation]:
    """The patient's invitations, newest first (one statement)."""
    return list(
        await session.scalars(
            select(SurveyInvitation)
            .where(SurveyInvitation.patient_id == patient_id)
            .order_by(SurveyInvitation.created_at.desc(), SurveyInvitation.id)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class ClinicKpi:
    mo_id: str
    mo_name: str
    invited: int
    answered: int
    mean_quality: float | None
    satisfied_share: float | None
    mean_booking_ease: float | None
    future_use_share: float | None
    recommend_share: float | None

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.invited if self.invited else None


def _share(flag: Any) -> Any:
    return func.avg(case((flag, 1.0), else_=0.0))


async def satisfaction_kpi(
    session: AsyncSession, start: datetime, end: datetime, *, mo_id: str | None = None
) -> list[ClinicKpi]:
    """Per clinic, of the visits in [start, end): one statement."""
    answer = SurveyAnswer
    query = (
        select(
            SurveyInvitation.mo_id,
            func.max(SurveyInvitation.mo_name),
            func.count(SurveyInvitation.id),
            func.count(answer.id),
            func.avg(answer.quality),
            _share(answer.quality >= 4).filter(answer.id.is_not(None)),
            func.avg(answer.booking_ease),
            _share(answer.future_use.is_(True)).filter(answer.id.is_not(None)),
            _share(answer.recommend.is_(True)).filter(answer.id.is_not(None)),
        )
        .outerjoin(answer, answer.invitation_id == SurveyInvitation.id)
        .where(SurveyInvitation.visited_at >= start, SurveyInvitation.visited_at < end)
        .group_by(SurveyInvitation.mo_id)
        .order_by(SurveyInvitation.mo_id)
    )
    if mo_id is not None:
        query = query.where(SurveyInvitation.mo_id == mo_id)
    rows = await session.execute(query)

    def num(value: Any) -> float | None:
        return None if value is None else round(float(value), 4)

    return [
        ClinicKpi(m, name, int(invited), int(answered), num(q), num(s), num(e), num(f), num(r))
        for m, name, invited, answered, q, s, e, f, r in rows
    ]
