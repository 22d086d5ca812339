"""The ЭГДС of the cancer screening at 45 (Приказ № 404н, Прил. № 2, п. 4: part of the first stage) is booked
with the plan, in the endoscopy room, all-or-nothing like every other visit of the day."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from backend.booking import service
from backend.booking.models import Appointment
from backend.core.context import Channel
from backend.dispanserization.models import Plan
from tests.support.booking import TOMORROW, call, ctx_for, key
from tests.support.care import ROOM_IDS, CareEnv
from tests.support.client import app_client
from tests.support.identity import auth_headers, token_for

#: Born 1980 (index 20 of the booking region's people): 45 in 2025.
AT_45 = 20
PROBLEM = "... on Problem { code message }"
ANSWER = (
    "mutation($a: [AnswerInput!]!, $k: String!) { answerDispanserizationQuestionnaire(answers: $a, idempotencyKey: $k)"
    f" {{ __typename ... on QuestionnaireAnswered {{ exams {{ code name booked }} }} {PROBLEM} }} }}"
)
DAYS = (
    "query($from: Date!) { dispanserizationDays(dateFrom: $from) { day slots steps { resourceName exams { code } } } }"
)
BOOK = (
    "mutation($s: [String!]!, $k: String!) { bookDispanserizationPlan(slots: $s, idempotencyKey: $k)"
    " { __typename ... on PlanBooked { plan { items { position exams { code name } appointment { specialtyCode } } } }"
    f" {PROBLEM} }} }}"
)
# Fluorography and mammography this year, the smear and the occult-blood test last year: blood, the ЭГДС, the
# prevention room, the ECG, the therapist.
ANSWERS: list[dict[str, Any]] = [
    *(
        {"code": c, "yes": False}
        for c in ("chest_pain", "tia", "digestion", "heredity", "alcohol", "drugs", "diet", "cough", "smoking")
    ),
    {"code": "low_activity", "yes": False},
    {"code": "had_ecg", "yes": True},
    {"code": "had_iop", "yes": True},
    {"code": "last_fluorography", "year": 2025},
    {"code": "last_mammography", "year": 2025},
    {"code": "last_smear", "year": 2024},
    {"code": "last_fobt", "year": 2024},
]


async def _plan_day(care: CareEnv, headers: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    async with app_client(care.runtime) as client:
        answered = await call(client, ANSWER, headers, a=ANSWERS, k=key())
        days = await call(client, DAYS, headers, **{"from": TOMORROW.isoformat()})
    return answered, days


async def test_the_egds_at_45_is_booked_with_the_plan(care: CareEnv) -> None:
    patient = await care.patient(AT_45)
    headers = auth_headers(token_for(care.runtime, patient.id))
    answered, days = await _plan_day(care, headers)
    egds = next(e for e in answered["exams"] if e["code"] == "egds")
    assert egds["booked"] is True and "ЭГДС" in egds["name"]
    first = days[0]
    assert [s["resourceName"] for s in first["steps"]][:2] == ["Процедурный кабинет", "Эндоскопический кабинет"]
    assert service.SlotRef.decode(first["slots"][1]).doctor_id == ROOM_IDS["9006"]
    async with app_client(care.runtime) as client:
        booked = await call(client, BOOK, headers, s=first["slots"], k=key())
    assert booked["__typename"] == "PlanBooked"
    items = booked["plan"]["items"]
    assert [i["appointment"]["specialtyCode"] for i in items] == ["9005", "9006", "9001", "9002", "76"]
    assert [e["code"] for e in items[1]["exams"]] == ["egds"]


async def test_a_lost_egds_slot_keeps_nothing_of_the_plan_and_is_named(care: CareEnv) -> None:
    rt = care.runtime
    patient, rival = await care.patient(AT_45), await care.patient(AT_45 + 1)
    headers = auth_headers(token_for(rt, patient.id))
    _, days = await _plan_day(care, headers)
    slots = days[0]["slots"]
    egds_ref = service.SlotRef.decode(slots[1])
    async with service.booking_unit(rt, ctx_for(rival.id, Channel.CALLCENTRE)) as uow:
        await service.book_now(uow, rival.id, egds_ref)  # someone takes the ЭГДС time meanwhile
    async with app_client(rt) as client:
        lost = await call(client, BOOK, headers, s=slots, k=key())
    assert lost["code"] == "PLAN_EXAM_LOST"
    assert "Эзофагогастродуоденоскопия" in lost["message"]
    async with rt.sessionmaker() as session:
        mine = await session.scalar(
            select(func.count()).select_from(Appointment).where(Appointment.patient_id == patient.id)
        )
        plans = await session.scalar(select(func.count()).select_from(Plan))
    assert (mine, plans) == (0, 0)
