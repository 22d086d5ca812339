"""Dispanserization's multi-booking: a plan of several appointments on one day at the attached clinic, found
together, booked all-or-nothing (a lost slot keeps nothing, the hub's bookings compensated), shown as one
itinerary, rescheduled as a whole; the questionnaire's answers decide the visits."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from sqlalchemy import func, select

from backend.booking import service
from backend.booking.models import LIVE_STATES, Appointment
from backend.core.context import Channel
from backend.dispanserization.models import Plan
from backend.outbox import service as outbox
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from integrations.fer import AppointmentStatus, HubTimeout
from tests.support.booking import TOMORROW, call, ctx_for, key
from tests.support.care import DUE_WOMAN, ROOM_IDS, CareEnv
from tests.support.client import app_client
from tests.support.identity import auth_headers, kiosk_session_token, token_for

PROBLEM = "... on Problem { code message }"
ANSWER = (
    "mutation($a: [AnswerInput!]!, $k: String!) { answerDispanserizationQuestionnaire(answers: $a, idempotencyKey: $k)"
    f" {{ __typename ... on QuestionnaireAnswered {{ exams {{ code booked }} flags }} {PROBLEM} }} }}"
)
DAYS = (
    "query($from: Date!) { dispanserizationDays(dateFrom: $from) { day moId slots"
    " steps { resourceName exams { code name } slot { start end } } } }"
)
PLAN = "id day status replacedById items { position exams { code } appointment { id status specialtyCode start } }"
BOOK = (
    "mutation($s: [String!]!, $k: String!) { bookDispanserizationPlan(slots: $s, idempotencyKey: $k)"
    f" {{ __typename ... on PlanBooked {{ plan {{ {PLAN} }} }} {PROBLEM} }} }}"
)
MOVE = (
    "mutation($p: UUID!, $s: [String!]!, $k: String!) {"
    " rescheduleDispanserizationPlan(planId: $p, slots: $s, idempotencyKey: $k)"
    f" {{ __typename ... on PlanRescheduled {{ previousId plan {{ {PLAN} }} }} {PROBLEM} }} }}"
)
MINE = f"query {{ myDispanserizationPlans {{ {PLAN} }} }}"
OVERVIEW = "query { dispanserization { year age kind order exams { code citation } questions { code } planId } }"

# A woman of 41 who had her fluorography and mammography this year, her smear and occult-blood test last year:
# four visits (blood, the prevention room with intraocular pressure, the ECG, the therapist).
ANSWERS: list[dict[str, Any]] = [
    *({"code": c, "yes": False} for c in ("chest_pain", "tia", "digestion", "heredity", "alcohol", "drugs", "diet")),
    {"code": "cough", "yes": True},
    {"code": "smoking", "yes": True},
    {"code": "low_activity", "yes": False},
    {"code": "had_ecg", "yes": True},
    {"code": "had_iop", "yes": True},
    {"code": "last_fluorography", "year": 2025},
    {"code": "last_mammography", "year": 2025},
    {"code": "last_smear", "year": 2024},
    {"code": "last_fobt", "year": 2024},
]


async def _deliver_all(runtime: Runtime) -> None:
    await runtime.relay.drain()
    async with runtime.sessionmaker() as session:
        ids = list(await session.scalars(select(OutboxMessage.id).where(OutboxMessage.dispatched_at.is_(None))))
    for message_id in ids:
        await outbox.dispatch(runtime, message_id)


async def _count(runtime: Runtime, *where: Any) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Appointment).where(*where)) or 0)


async def test_answers_decide_the_four_visits_and_the_order_is_cited(care: CareEnv) -> None:
    patient = await care.patient(DUE_WOMAN)
    headers = auth_headers(token_for(care.runtime, patient.id))
    async with app_client(care.runtime) as client:
        before = await call(client, OVERVIEW, headers)
        assert (before["year"], before["age"], before["kind"]) == (2025, 41, "dispanserization")
        assert "№ 404н" in before["order"]
        assert {"mammography", "fluorography", "cervical_smear", "fobt", "cbc"} <= {e["code"] for e in before["exams"]}
        assert all(e["citation"].startswith("Порядок") for e in before["exams"])
        answered = await call(client, ANSWER, headers, a=ANSWERS, k=key())
        assert answered["__typename"] == "QuestionnaireAnswered"
        assert [e["code"] for e in answered["exams"]] == [
            "questionnaire", "prevention", "ecg", "iop", "cbc", "therapist",
        ]  # fmt: skip
        assert answered["flags"] == ["Жалобы, характерные для ХОБЛ", "Курение"]
        days = await call(client, DAYS, headers, **{"from": TOMORROW.isoformat()})
    first = days[0]
    assert first["day"] == TOMORROW.isoformat()
    assert [s["resourceName"] for s in first["steps"]] == [
        "Процедурный кабинет", "Кабинет медицинской профилактики", "Кабинет ЭКГ", "Иванова Мария Петровна",
    ]  # fmt: skip
    starts = [(s["slot"]["start"], s["slot"]["end"]) for s in first["steps"]]
    assert all(prev[1] <= nxt[0] for prev, nxt in itertools.pairwise(starts))


async def test_a_plan_of_four_whose_third_slot_is_taken_meanwhile_keeps_nothing(care: CareEnv) -> None:
    rt = care.runtime
    patient = await care.patient(DUE_WOMAN)
    rival = await care.patient(DUE_WOMAN + 1)
    headers = auth_headers(token_for(rt, patient.id))
    async with app_client(rt) as client:
        await call(client, ANSWER, headers, a=ANSWERS, k=key())
        slots = (await call(client, DAYS, headers, **{"from": TOMORROW.isoformat()}))[0]["slots"]
        assert len(slots) == 4
        refs = [service.SlotRef.decode(s) for s in slots]
        assert refs[2].doctor_id == ROOM_IDS["9002"]  # the third visit: the ECG

        # While the plan is being booked (right after the hub accepted its second visit), another patient
        # books the ECG slot through the call centre.
        hub_book = care.referrals.book
        raced: list[str] = []

        async def racing_book(mo_id: str, hub_patient: str, slot_id: str, **kwargs: Any) -> Any:
            result = await hub_book(mo_id, hub_patient, slot_id, **kwargs)
            if slot_id == refs[1].slot_id and not raced:
                raced.append(slot_id)
                async with service.booking_unit(rt, ctx_for(rival.id, Channel.CALLCENTRE)) as uow:
                    await service.book_now(uow, rival.id, refs[2])
            return result

        care.referrals.book = racing_book  # type: ignore[method-assign]
        lost = await call(client, BOOK, headers, s=slots, k=key())
        care.referrals.book = hub_book  # type: ignore[method-assign]

    assert raced and lost["__typename"] == "PlanExamLost"
    assert lost["code"] == "PLAN_EXAM_LOST"
    assert "«Электрокардиография в покое»" in lost["message"] and "Ни одна запись плана не сохранена" in lost["message"]
    # Nothing of the plan is ours: no appointment, no plan.
    assert await _count(rt, Appointment.patient_id == patient.id) == 0
    async with rt.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Plan)) == 0
    # The hub had accepted the first two visits: compensation cancels them there.
    mine = [b for b in care.state.bookings if b.person_oid == care.region.people[DUE_WOMAN].esia_oid]
    assert [b.appointment_id for b in mine] == [refs[0].slot_id, refs[1].slot_id]
    await _deliver_all(rt)
    assert [b.status for b in mine] == [AppointmentStatus.CANCELLED_BY_PATIENT] * 2
    # The rival's ECG stands, here and at the hub; the two freed slots can be booked again.
    assert await _count(rt, Appointment.patient_id == rival.id, Appointment.status.in_(LIVE_STATES)) == 1
    ecg = care.state.active_booking(refs[2].slot_id)
    assert ecg is not None and ecg.status is None and ecg.person_oid != mine[0].person_oid
    assert care.state.active_booking(refs[0].slot_id) is None and care.state.active_booking(refs[1].slot_id) is None


async def test_the_kiosk_books_the_plan_shown_as_one_itinerary_and_moved_as_a_whole(care: CareEnv) -> None:
    rt = care.runtime
    patient = await care.patient(DUE_WOMAN)
    mobile = auth_headers(token_for(rt, patient.id))
    kiosk = auth_headers(await kiosk_session_token(rt, patient.id))
    async with app_client(rt) as client:
        await call(client, ANSWER, mobile, a=ANSWERS, k=key())
        days = await call(client, DAYS, kiosk, **{"from": TOMORROW.isoformat()})
        booked = await call(client, BOOK, kiosk, s=days[0]["slots"], k=(k := key()))
        assert booked["__typename"] == "PlanBooked", booked
        plan = booked["plan"]
        assert plan["day"] == TOMORROW.isoformat() and plan["status"] == "booked"
        assert [i["appointment"]["specialtyCode"] for i in plan["items"]] == ["9005", "9001", "9002", "76"]
        assert all(i["appointment"]["status"] == "BOOKED" for i in plan["items"])
        assert await call(client, BOOK, kiosk, s=days[0]["slots"], k=k) == booked  # idempotent
        shown = await call(client, MINE, mobile)
        assert [p["id"] for p in shown] == [plan["id"]] and shown[0]["items"] == plan["items"]

        # The whole plan moves to the next day that fits (the old slots are still ours until then).
        later = next(d for d in days if d["day"] != plan["day"])
        moved = await call(client, MOVE, mobile, p=plan["id"], s=later["slots"], k=key())
        assert moved["__typename"] == "PlanRescheduled", moved
        assert moved["previousId"] == plan["id"] and moved["plan"]["day"] == later["day"]
        shown = await call(client, MINE, mobile)
    by_id = {p["id"]: p for p in shown}
    old = by_id[plan["id"]]
    assert old["status"] == "replaced" and old["replacedById"] == moved["plan"]["id"]
    assert all(i["appointment"]["status"] == "RESCHEDULED" for i in old["items"])
    assert all(i["appointment"]["status"] == "BOOKED" for i in by_id[moved["plan"]["id"]]["items"])
    await _deliver_all(rt)
    for item in old["items"]:
        slot_id = service.SlotRef.decode(days[0]["slots"][item["position"]]).slot_id
        assert care.state.active_booking(slot_id) is None  # let go at the hub
    assert await _count(rt, Appointment.patient_id == patient.id, Appointment.status.in_(LIVE_STATES)) == 4
    kiosk_plan = await _plan_channel(rt, uuid.UUID(plan["id"]))
    assert kiosk_plan == "kiosk"


async def _plan_channel(runtime: Runtime, plan_id: uuid.UUID) -> str:
    async with runtime.sessionmaker() as session:
        plan = await session.get(Plan, plan_id)
        assert plan is not None
        return plan.channel


async def test_the_hub_failing_in_the_middle_of_a_plan_leaves_nothing_half_written(care: CareEnv) -> None:
    """The hub books the third visit but its answer is lost (a timeout): the plan is refused naming that visit,
    and all three bookings the hub may hold are cancelled there; nothing is kept here."""
    rt = care.runtime
    patient = await care.patient(DUE_WOMAN)
    headers = auth_headers(token_for(rt, patient.id))
    async with app_client(rt) as client:
        await call(client, ANSWER, headers, a=ANSWERS, k=key())
        slots = (await call(client, DAYS, headers, **{"from": TOMORROW.isoformat()}))[0]["slots"]
        refs = [service.SlotRef.decode(s) for s in slots]
        hub_book = care.referrals.book

        async def lost_answer(mo_id: str, hub_patient: str, slot_id: str, **kwargs: Any) -> Any:
            result = await hub_book(mo_id, hub_patient, slot_id, **kwargs)
            if slot_id == refs[2].slot_id:
                raise HubTimeout("Хаб записи не ответил")
            return result

        care.referrals.book = lost_answer  # type: ignore[method-assign]
        failed = await call(client, BOOK, headers, s=slots, k=key())
        care.referrals.book = hub_book  # type: ignore[method-assign]
    assert failed["code"] == "PLAN_EXAM_LOST" and "«Электрокардиография в покое»" in failed["message"]
    assert "временно недоступен" in failed["message"]
    assert await _count(rt, Appointment.patient_id == patient.id) == 0
    await _deliver_all(rt)
    mine = [b for b in care.state.bookings if b.person_oid == care.region.people[DUE_WOMAN].esia_oid]
    assert [b.appointment_id for b in mine] == [r.slot_id for r in refs[:3]]
    assert all(b.status is AppointmentStatus.CANCELLED_BY_PATIENT for b in mine)


async def test_a_move_that_loses_a_slot_leaves_the_plan_as_it_was(care: CareEnv) -> None:
    rt = care.runtime
    patient = await care.patient(DUE_WOMAN)
    rival = await care.patient(DUE_WOMAN + 1)
    headers = auth_headers(token_for(rt, patient.id))
    async with app_client(rt) as client:
        await call(client, ANSWER, headers, a=ANSWERS, k=key())
        days = await call(client, DAYS, headers, **{"from": TOMORROW.isoformat()})
        plan = (await call(client, BOOK, headers, s=days[0]["slots"], k=key()))["plan"]
        later = days[1]["slots"]
        # The new day's ECG slot goes to someone else before the move.
        async with service.booking_unit(rt, ctx_for(rival.id, Channel.CALLCENTRE)) as uow:
            await service.book_now(uow, rival.id, service.SlotRef.decode(later[2]))
        moved = await call(client, MOVE, headers, p=plan["id"], s=later, k=key())
        assert moved["code"] == "PLAN_EXAM_LOST" and "Электрокардиография" in moved["message"]
        shown = await call(client, MINE, headers)
    assert [(p["id"], p["status"]) for p in shown] == [(plan["id"], "booked")]
    assert shown[0]["items"] == plan["items"]  # every visit as it was
    await _deliver_all(rt)
    for ref in days[0]["slots"]:
        kept = care.state.active_booking(service.SlotRef.decode(ref).slot_id)
        assert kept is not None and kept.status is None  # the old visits stand at the hub
    for ref in later[:2]:  # the two new visits the hub had accepted are cancelled there
        assert care.state.active_booking(service.SlotRef.decode(ref).slot_id) is None
