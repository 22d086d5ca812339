"""Dispanserization and preventive exams: who is due, the questionnaire, the first stage, and its
multi-booking — a plan of several appointments on one day at the attached clinic, booked all-or-nothing.

All-or-nothing. A plan's visits are booked one after another in one unit of work through booking's own
one-step booking (:func:`backend.booking.service.book_now`: the appointment row claims the slot before the
hub is asked, so no double booking here or at the hub). If any visit fails — its slot taken meanwhile, the
hub refusing or down — the problem names that visit's examinations (:class:`PlanExamLost`), the unit of
work rolls back (no appointment, no plan row, no notification kept) and booking's compensation cancels at
the hub, through the outbox, every visit the hub had already accepted (``compensation_scope``, which the
resolver opens). A reschedule moves every visit with booking's reschedule in one unit of work: the new
slots are booked first, the old ones are let go only if all succeed.

The plan's rules (eligibility, the questionnaire, the first stage) are data in :mod:`.rules`, citing the
order (Приказ Минздрава России от 27.04.2021 № 404н).
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.attachment import service as attachment
from backend.booking import service as booking
from backend.core.uow import UnitOfWork
from backend.directory import service as directory
from backend.dispanserization import rules
from backend.dispanserization.models import Plan, PlanItem, PlanStatus, Questionnaire
from backend.dispanserization.problems import (
    InvalidInput,
    NoRoomForPlan,
    NotAttached,
    NotEligible,
    PlanExamLost,
    PlanNotFound,
    ServiceUnavailable,
    fail,
)
from backend.identity.service import get_patient
from integrations.fer import FerError, Slot

if TYPE_CHECKING:
    from backend.booking.models import Appointment
    from backend.identity.service import PatientView
    from backend.runtime import Runtime

MAX_RANGE_DAYS = 31
MAX_DAYS_OFFERED = 5


def this_year(runtime: Runtime) -> int:
    return booking.local_day(runtime, booking.now(runtime)).year


async def _patient(session: AsyncSession, patient_id: uuid.UUID) -> PatientView:
    patient = await get_patient(session, patient_id)
    if patient is None:
        raise fail(NotEligible.default())
    return patient


# -- eligibility and the questionnaire ----------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    year: int
    kind: rules.ExamKind | None
    age: int
    next_dispanserization_year: int | None
    questions: list[rules.Question]
    questionnaire: Questionnaire | None
    stage: rules.StageOne | None
    plan: Plan | None


async def overview(runtime: Runtime, session: AsyncSession, patient_id: uuid.UUID, year: int | None = None) -> Overview:
    """What the patient is due this year, the questions, their answers and the first stage from them, and the
    live plan (three statements)."""
    patient = await _patient(session, patient_id)
    year = year or this_year(runtime)
    kind = rules.eligibility(patient.birth_date, year)
    answered = await session.scalar(
        select(Questionnaire).where(Questionnaire.patient_id == patient_id, Questionnaire.year == year)
    )
    stage = rules.stage_one(patient.birth_date, patient.sex, year, answered.answers if answered else None)
    plan = await session.scalar(
        select(Plan).where(Plan.patient_id == patient_id, Plan.year == year, Plan.status == PlanStatus.BOOKED.value)
    )
    return Overview(
        year=year,
        kind=kind,
        age=rules.age_in_year(patient.birth_date, year),
        next_dispanserization_year=(
            rules.next_dispanserization_year(patient.birth_date, year) if kind is not None else None
        ),
        questions=rules.questions_for(patient.sex),
        questionnaire=answered,
        stage=stage,
        plan=plan,
    )


async def answer(uow: UnitOfWork, patient_id: uuid.UUID, raw: dict[str, Any]) -> Questionnaire:
    """Store this year's answers (again: replaced) with the first stage they give."""
    session = uow.session
    patient = await _patient(session, patient_id)
    year = this_year(uow.runtime)
    kind = rules.eligibility(patient.birth_date, year)
    if kind is None:
        raise fail(NotEligible.default())
    try:
        answers = rules.validate_answers(raw, sex=patient.sex, year=year)
    except rules.AnswerError as exc:
        raise fail(InvalidInput.of(exc.field, exc.message)) from None
    stage = rules.stage_one(patient.birth_date, patient.sex, year, answers)
    assert stage is not None
    result = {"exams": [e.code for e in stage.exams], "flags": stage.flags}
    at = booking.now(uow.runtime)
    row = await session.scalar(
        select(Questionnaire).where(Questionnaire.patient_id == patient_id, Questionnaire.year == year)
    )
    if row is None:
        row = Questionnaire(
            id=uuid.uuid4(),
            patient_id=patient_id,
            year=year,
            rules_version=rules.RULES_VERSION,
            kind=kind.value,
            answers=answers,
            result=result,
            created_at=at,
            updated_at=at,
        )
        session.add(row)
    else:
        row.answers, row.result, row.kind, row.rules_version, row.updated_at = (
            answers,
            result,
            kind.value,
            rules.RULES_VERSION,
            at,
        )
    try:
        await session.flush()
    except IntegrityError:  # answered twice at once: the other one stands
        raise fail(InvalidInput.of("answers", "Анкета уже сохраняется. Обновите страницу.")) from None
    uow.audit(
        "dispanserization.questionnaire_answered",
        object_type="questionnaire",
        object_id=row.id,
        subject_id=patient_id,
        details={"year": year, "exams": result["exams"], "rules": rules.RULES_VERSION},
    )
    return row


async def _stage(session: AsyncSession, patient: PatientView, year: int) -> rules.StageOne:
    answered = await session.scalar(
        select(Questionnaire).where(Questionnaire.patient_id == patient.id, Questionnaire.year == year)
    )
    stage = rules.stage_one(patient.birth_date, patient.sex, year, answered.answers if answered else None)
    if stage is None:
        raise fail(NotEligible.default())
    return stage


# -- finding a day ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    resource_code: str
    resource_name: str
    exams: list[rules.Exam]
    slot: Slot
    ref: str  # the slot reference to book with

    @property
    def title(self) -> str:
        return "; ".join(e.name for e in self.exams)


@dataclass(frozen=True)
class Itinerary:
    day: date
    mo_id: str
    steps: list[Step]


async def _attached(runtime: Runtime, session: AsyncSession, patient_id: uuid.UUID) -> str:
    mo_id = await attachment.attached_mo_id(runtime, session, patient_id)
    if mo_id is None:
        raise fail(NotAttached.default())
    return mo_id


async def find_days(
    runtime: Runtime,
    session: AsyncSession,
    patient_id: uuid.UUID,
    date_from: date,
    date_to: date,
    *,
    limit: int = MAX_DAYS_OFFERED,
) -> list[Itinerary]:
    """Days in ``[date_from, date_to]`` when every visit of the first stage fits at the attached clinic, each
    one after the previous ends, in the order of :data:`rules.ORDER`; the earliest fit of each day."""
    if date_to < date_from or (date_to - date_from).days >= MAX_RANGE_DAYS:
        raise fail(InvalidInput.of("dateTo", f"Выберите период не длиннее {MAX_RANGE_DAYS} дней."))
    patient = await _patient(session, patient_id)
    stage = await _stage(session, patient, date_from.year)
    mo_id = await _attached(runtime, session, patient_id)
    steps = rules.bookable_steps(stage.exams)
    candidates: list[tuple[str, list[rules.Exam], list[tuple[str, Slot]]]] = []
    for code, exams in steps:
        offer = await directory.offering(runtime, session, code)
        doctors = [d for o in offer.organisations if o.upstream_id == mo_id for d in offer.doctors.get(o.id, [])]
        if not doctors:
            raise fail(
                NoRoomForPlan.default(f"В вашей поликлинике нет записи: «{exams[0].name}». Обратитесь в регистратуру.")
            )
        slots: list[tuple[str, Slot]] = []
        for doctor in doctors:
            try:
                found = await booking.doctor_slots(runtime, mo_id, doctor.upstream_id, date_from, date_to)
            except FerError:
                raise fail(ServiceUnavailable.default()) from None
            slots.extend((doctor.full_name, s) for s in found)
        candidates.append((code, exams, sorted(slots, key=lambda pair: pair[1].start)))
    at = booking.now(runtime)
    every = [s for _, _, pairs in candidates for _, s in pairs]
    taken = await booking.live_holds_and_bookings(session, runtime, at, every)
    days: list[Itinerary] = []
    day = date_from
    while day <= date_to and len(days) < limit:
        plan = _fit(runtime, at, day, candidates, taken)
        if plan is not None:
            days.append(Itinerary(day, mo_id, plan))
        day += timedelta(days=1)
    return days


def _fit(
    runtime: Runtime,
    at: datetime,
    day: date,
    candidates: list[tuple[str, list[rules.Exam], list[tuple[str, Slot]]]],
    taken: set[tuple[str, str]],
) -> list[Step] | None:
    steps: list[Step] = []
    after: datetime | None = None
    for code, exams, pairs in candidates:
        chosen = next(
            (
                (name, s)
                for name, s in pairs
                if s.start.date() == day
                and (after is None or s.start >= after)
                and (s.mo_id, s.id) not in taken
                and booking.to_utc(runtime, s.start) > at
            ),
            None,
        )
        if chosen is None:
            return None
        name, slot = chosen
        ref = booking.SlotRef(slot.mo_id, slot.doctor_id, slot.id, slot.start.date())
        steps.append(Step(code, name, exams, slot, ref.encode()))
        after = slot.end
    return steps


# -- booking, rescheduling, cancelling a plan ------------------------------------------------------------


@dataclass(frozen=True)
class PlanView:
    plan: Plan
    items: list[tuple[PlanItem, Appointment | None]]


def _refs(slots: list[str]) -> list[booking.SlotRef]:
    refs: list[booking.SlotRef] = []
    for value in slots:
        try:
            refs.append(booking.SlotRef.decode(value))
        except ValueError:
            raise fail(InvalidInput.of("slots", "Талон указан неверно. Подберите день заново.")) from None
    if len({(r.mo_id, r.slot_id) for r in refs}) != len(refs):
        raise fail(InvalidInput.of("slots", "Один и тот же талон указан дважды."))
    if len({r.day for r in refs}) > 1:
        raise fail(InvalidInput.of("slots", "Все обследования плана проходят в один день."))
    return refs


async def _matched(
    uow: UnitOfWork, patient_id: uuid.UUID, slots: list[str]
) -> tuple[PatientView, rules.StageOne, str, list[tuple[booking.SlotRef, str, list[rules.Exam]]]]:
    """The slots matched to the first stage's visits, in the order of the day; refused unless they are one
    day at the attached clinic and exactly the visits the stage needs."""
    session = uow.session
    refs = _refs(slots)
    if not refs:
        raise fail(InvalidInput.of("slots", "Выберите талоны для всех обследований."))
    patient = await _patient(session, patient_id)
    stage = await _stage(session, patient, refs[0].day.year)
    mo_id = await _attached(uow.runtime, session, patient_id)
    if any(r.mo_id != mo_id for r in refs):
        raise fail(NotAttached.default("Диспансеризацию проходят в поликлинике, к которой вы прикреплены."))
    needed = dict(rules.bookable_steps(stage.exams))
    by_code: dict[str, booking.SlotRef] = {}
    for ref in refs:
        card = await directory.doctor_card(uow.runtime, session, ref.mo_id, ref.doctor_id)
        code = card.specialty_code if card is not None else ""
        if code not in needed or code in by_code:
            raise fail(InvalidInput.of("slots", "Талоны не совпадают с перечнем обследований. Подберите день заново."))
        by_code[code] = ref
    missing = [needed[c][0].name for c in needed if c not in by_code]
    if missing:
        raise fail(InvalidInput.of("slots", f"Не выбран талон: «{missing[0]}»."))
    ordered = [(by_code[code], code, needed[code]) for code in rules.ORDER if code in needed]
    return patient, stage, mo_id, ordered


def _title(exams: list[rules.Exam]) -> str:
    return "; ".join(e.name for e in exams)


async def _new_plan(
    uow: UnitOfWork,
    patient_id: uuid.UUID,
    *,
    stage: rules.StageOne,
    mo_id: str,
    day: date,
    booked: list[tuple[str, list[rules.Exam], Appointment]],
) -> Plan:
    at = booking.now(uow.runtime)
    plan = Plan(
        id=uuid.uuid4(),
        patient_id=patient_id,
        year=day.year,
        kind=stage.kind.value,
        rules_version=rules.RULES_VERSION,
        mo_id=mo_id,
        day=day,
        status=PlanStatus.BOOKED.value,
        channel=uow.ctx.actor.channel.value,
        actor_kind=uow.ctx.actor.kind.value,
        replaced_by_id=None,
        created_at=at,
        updated_at=at,
    )
    uow.session.add(plan)
    for position, (code, exams, appointment) in enumerate(booked):
        uow.session.add(
            PlanItem(
                id=uuid.uuid4(),
                plan_id=plan.id,
                position=position,
                resource_code=code,
                exams={"codes": [e.code for e in exams]},
                appointment_id=appointment.id,
            )
        )
    try:
        await uow.session.flush()
    except IntegrityError:
        raise fail(InvalidInput.of("slots", "На этот год у вас уже есть план. Перенесите или отмените его.")) from None
    return plan


def _check_sequence(booked: list[tuple[str, list[rules.Exam], Appointment]]) -> None:
    for (_, _, before), (_, exams, after) in itertools.pairwise(booked):
        if after.slot_start < before.slot_end:
            raise fail(InvalidInput.of("slots", f"«{_title(exams)}»: время пересекается с предыдущим обследованием."))


async def book_plan(uow: UnitOfWork, patient_id: uuid.UUID, slots: list[str]) -> Plan:
    """Book every visit of the plan, or none (see the module docstring)."""
    _, stage, mo_id, ordered = await _matched(uow, patient_id, slots)
    live = await uow.session.scalar(
        select(Plan.id).where(
            Plan.patient_id == patient_id, Plan.year == ordered[0][0].day.year, Plan.status == PlanStatus.BOOKED.value
        )
    )
    if live is not None:
        raise fail(InvalidInput.of("slots", "На этот год у вас уже есть план. Перенесите или отмените его."))
    booked: list[tuple[str, list[rules.Exam], Appointment]] = []
    for ref, code, exams in ordered:
        try:
            appointment = await booking.book_now(uow, patient_id, ref)
        except booking.ProblemError as exc:
            raise fail(PlanExamLost.of(_title(exams), exc.problem.message)) from None
        booked.append((code, exams, appointment))
    _check_sequence(booked)
    plan = await _new_plan(uow, patient_id, stage=stage, mo_id=mo_id, day=ordered[0][0].day, booked=booked)
    uow.audit(
        "dispanserization.plan_booked",
        object_type="dispanserization_plan",
        object_id=plan.id,
        subject_id=patient_id,
        details={"day": plan.day.isoformat(), "mo_id": mo_id, "visits": len(booked)},
    )
    return plan


async def _own_live_plan(session: AsyncSession, patient_id: uuid.UUID, plan_id: uuid.UUID) -> Plan:
    plan = await session.get(Plan, plan_id)
    if plan is None or plan.patient_id != patient_id or plan.status != PlanStatus.BOOKED.value:
        raise fail(PlanNotFound.default())
    return plan


async def _items(session: AsyncSession, plan_id: uuid.UUID) -> list[PlanItem]:
    return list(await session.scalars(select(PlanItem).where(PlanItem.plan_id == plan_id).order_by(PlanItem.position)))


async def reschedule_plan(uow: UnitOfWork, patient_id: uuid.UUID, plan_id: uuid.UUID, slots: list[str]) -> Plan:
    """Move the whole plan to the new slots: each visit with booking's reschedule (the new slot booked at the
    hub first), all in one unit of work; if one fails, every visit stays as it was."""
    session = uow.session
    old = await _own_live_plan(session, patient_id, plan_id)
    old_items = {item.resource_code: item for item in await _items(session, plan_id)}
    _, stage, mo_id, ordered = await _matched(uow, patient_id, slots)
    if {code for _, code, _ in ordered} != set(old_items):
        raise fail(InvalidInput.of("slots", "Перенос плана сохраняет тот же перечень обследований."))
    old.status = PlanStatus.REPLACED.value  # leaves the live index before the new plan enters it
    old.updated_at = booking.now(uow.runtime)
    await session.flush()
    booked: list[tuple[str, list[rules.Exam], Appointment]] = []
    for ref, code, exams in ordered:
        try:
            appointment = await booking.reschedule(uow, patient_id, old_items[code].appointment_id, ref)
        except booking.ProblemError as exc:
            raise fail(PlanExamLost.of(_title(exams), exc.problem.message)) from None
        booked.append((code, exams, appointment))
    _check_sequence(booked)
    plan = await _new_plan(uow, patient_id, stage=stage, mo_id=mo_id, day=ordered[0][0].day, booked=booked)
    old.replaced_by_id = plan.id
    uow.audit(
        "dispanserization.plan_rescheduled",
        object_type="dispanserization_plan",
        object_id=old.id,
        subject_id=patient_id,
        details={"new_plan_id": str(plan.id), "day": plan.day.isoformat()},
    )
    return plan


async def cancel_plan(uow: UnitOfWork, patient_id: uuid.UUID, plan_id: uuid.UUID) -> Plan:
    """Cancel every visit of the plan (each through booking's cancel: the hub is told through the outbox)."""
    session = uow.session
    plan = await _own_live_plan(session, patient_id, plan_id)
    for item in await _items(session, plan_id):
        try:
            await booking.cancel(uow, patient_id, item.appointment_id)
        except booking.ProblemError as exc:
            if exc.problem.code != booking.AppointmentNotActive.CODE:  # already past or cancelled: nothing to do
                raise fail(PlanNotFound.default(exc.problem.message)) from None
    plan.status = PlanStatus.CANCELLED.value
    plan.updated_at = booking.now(uow.runtime)
    uow.audit(
        "dispanserization.plan_cancelled",
        object_type="dispanserization_plan",
        object_id=plan.id,
        subject_id=patient_id,
    )
    return plan


async def plan_views(session: AsyncSession, plans: list[Plan]) -> list[PlanView]:
    """Plans with their items and appointments (two statements for any number of plans)."""
    if not plans:
        return []
    items = list(
        await session.scalars(
            select(PlanItem).where(PlanItem.plan_id.in_([p.id for p in plans])).order_by(PlanItem.position)
        )
    )
    appointments = await booking.appointments_by_ids(session, [i.appointment_id for i in items])
    by_plan: dict[uuid.UUID, list[tuple[PlanItem, Appointment | None]]] = {p.id: [] for p in plans}
    for item in items:
        by_plan[item.plan_id].append((item, appointments.get(item.appointment_id)))
    return [PlanView(p, by_plan[p.id]) for p in plans]


async def plans_of(session: AsyncSession, patient_id: uuid.UUID, *, limit: int = 20) -> list[PlanView]:
    plans = list(
        await session.scalars(
            select(Plan).where(Plan.patient_id == patient_id).order_by(Plan.created_at.desc()).limit(limit)
        )
    )
    return await plan_views(session, plans)


async def plan_view(session: AsyncSession, plan: Plan) -> PlanView:
    return (await plan_views(session, [plan]))[0]
