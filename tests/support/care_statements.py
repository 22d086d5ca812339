"""Statement-count scenarios of referrals, no-shows and dispanserization (issue 24), imported by
tests/integration/api/test_statement_counts.py: one item against four, the same statements."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from backend.booking import service as booking
from backend.booking.models import Appointment, AppointmentState, ContestStatus, NoShowContest, Referral, ReferralState
from backend.core.context import Channel
from backend.dispanserization.models import Plan, PlanItem, PlanStatus
from backend.runtime import Runtime
from tests.support.booking import ADULT_MO, TOMORROW, ctx_for
from tests.support.care import DUE_WOMAN, start_care
from tests.support.identity import auth_headers, make_patient, operator_token, token_for
from tests.support.statements import Scenario, Setup


def _as(runtime: Runtime, patient_id: uuid.UUID) -> dict[str, str]:
    return auth_headers(token_for(runtime, patient_id))


async def _referrals(runtime: Runtime, patient_id: uuid.UUID, count: int) -> None:
    at = runtime.now()
    async with runtime.sessionmaker() as session, session.begin():
        for i in range(count):
            session.add(
                Referral(
                    id=uuid.uuid4(), patient_id=patient_id, number=f"NAPR-26-{uuid.uuid4().int % 10**6:06d}",
                    status=ReferralState.ISSUED.value, target_specialty_code="22", target_specialty_name="Кардиолог",
                    target_mo_id=None, issued_on=at.date(), valid_until=at.date() + timedelta(days=30 + i),
                    issuer_name="Иванова Мария Петровна", issuer_snils="112-233-445 95", issuer_mo_id=ADULT_MO,
                    reason="Консультация", appointment_id=None, added_by="patient", created_at=at, checked_at=at,
                )
            )  # fmt: skip


async def _my_referrals(runtime: Runtime) -> Setup:
    one, four = (await make_patient(runtime)).id, (await make_patient(runtime)).id
    await _referrals(runtime, one, 1)
    await _referrals(runtime, four, 4)
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def _no_shows(runtime: Runtime, patient_id: uuid.UUID, count: int, *, contested: bool) -> list[uuid.UUID]:
    at = runtime.now()
    ids: list[uuid.UUID] = []
    async with runtime.sessionmaker() as session, session.begin():
        for i in range(count):
            start = at - timedelta(days=3 + 7 * i)
            appointment = Appointment(
                id=uuid.uuid4(), patient_id=patient_id, mo_id=ADULT_MO, mo_name="ГП № 1", doctor_id="doc-1",
                doctor_name="Иванова Мария Петровна", specialty_code=f"s{i}", specialty_name="Терапевт",
                slot_id=f"slot-{uuid.uuid4().hex}", slot_start=start, slot_end=start + timedelta(minutes=15),
                room="101", address="ул. Тестовая, 1", hub_patient_id="hub-1", status=AppointmentState.NO_SHOW.value,
                channel=Channel.MOBILE.value, source_type=5, actor_kind="patient", actor_id=str(patient_id),
                on_behalf=False, created_at=start - timedelta(days=5), updated_at=start,
            )  # fmt: skip
            session.add(appointment)
            ids.append(appointment.id)
            if contested:
                session.add(
                    NoShowContest(
                        id=uuid.uuid4(), appointment_id=appointment.id, patient_id=patient_id, mo_id=ADULT_MO,
                        reason="Была на приеме", status=ContestStatus.PENDING.value, created_at=at,
                    )
                )  # fmt: skip
    return ids


async def _my_no_show_status(runtime: Runtime) -> Setup:
    one, four = (await make_patient(runtime)).id, (await make_patient(runtime)).id
    await _no_shows(runtime, one, 1, contested=True)
    await _no_shows(runtime, four, 4, contested=True)
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def _no_show_contests(runtime: Runtime) -> Setup:
    """The clinic's queue: one pending contest in one clinic, four in another."""
    await _no_shows(runtime, (await make_patient(runtime)).id, 1, contested=True)
    many = await _no_shows(runtime, (await make_patient(runtime)).id, 4, contested=True)
    # The second patient's contests are another clinic's.
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            NoShowContest.__table__.update().where(NoShowContest.appointment_id.in_(many)).values(mo_id="1002")
        )
    return {"moId": ADULT_MO}, {"moId": "1002"}, auth_headers(await operator_token(runtime))


async def _dispanserization(runtime: Runtime) -> Setup:
    """What is due: a patient with no answers and no plan; one with both."""
    care = await start_care(runtime)
    fresh = await care.patient(DUE_WOMAN + 3)
    planned = await care.patient(DUE_WOMAN)
    await _plans(runtime, planned.id, 1, year=care.clock().year)
    return {}, {}, _as(runtime, fresh.id), _as(runtime, planned.id)


async def _dispanserization_days(runtime: Runtime) -> Setup:
    """One day against five working days at the attached clinic (every room's schedule read per range)."""
    care = await start_care(runtime)
    patient = await care.patient(DUE_WOMAN)
    few = {"dateFrom": TOMORROW.isoformat(), "dateTo": TOMORROW.isoformat()}
    more = {"dateFrom": TOMORROW.isoformat(), "dateTo": (TOMORROW + timedelta(days=4)).isoformat()}
    return few, more, _as(runtime, patient.id)


async def _referral_slots(runtime: Runtime) -> Setup:
    """A referral's booking options over one day against five (more of the hub's slots, the same statements)."""
    care = await start_care(runtime)
    patient = await care.patient(3)
    number = care.issue(3, "22", valid_days=30)
    async with booking.booking_unit(runtime, ctx_for(patient.id)) as uow:
        referral = await booking.referrals.add(uow, patient.id, number)
    few = {"referralId": str(referral.id), "dateFrom": TOMORROW.isoformat(), "dateTo": TOMORROW.isoformat()}
    more = few | {"dateTo": (TOMORROW + timedelta(days=4)).isoformat()}
    return few, more, _as(runtime, patient.id)


async def _plans(runtime: Runtime, patient_id: uuid.UUID, count: int, *, year: int) -> None:
    at = runtime.now()
    async with runtime.sessionmaker() as session, session.begin():
        for i in range(count):
            status = PlanStatus.BOOKED if i == 0 else PlanStatus.REPLACED
            plan = Plan(
                id=uuid.uuid4(), patient_id=patient_id, year=year, kind="dispanserization", rules_version="404н-2023",
                mo_id=ADULT_MO, day=date(year, 12, 20) - timedelta(days=i), status=status.value,
                channel="mobile", actor_kind="patient", replaced_by_id=None, created_at=at, updated_at=at,
            )  # fmt: skip
            session.add(plan)
            for position, code in enumerate(("9005", "9001", "9002", "76")):
                session.add(
                    PlanItem(
                        id=uuid.uuid4(), plan_id=plan.id, position=position, resource_code=code,
                        exams={"codes": ["cbc"] if code == "9005" else ["therapist"]}, appointment_id=uuid.uuid4(),
                    )
                )  # fmt: skip


async def _my_dispanserization_plans(runtime: Runtime) -> Setup:
    one, four = (await make_patient(runtime)).id, (await make_patient(runtime)).id
    await _plans(runtime, one, 1, year=2025)
    await _plans(runtime, four, 4, year=2025)
    return {}, {}, _as(runtime, one), _as(runtime, four)


CARE_SCENARIOS = (
    Scenario("MyReferrals", _my_referrals),
    Scenario("ReferralSlots", _referral_slots),
    Scenario("MyNoShowStatus", _my_no_show_status),
    Scenario("NoShowContests", _no_show_contests),
    Scenario("Dispanserization", _dispanserization),
    Scenario("DispanserizationDays", _dispanserization_days),
    Scenario("MyDispanserizationPlans", _my_dispanserization_plans),
)

#: Statements per operation (filled from the counts; see the comments for what they are).
CARE_STATEMENTS: dict[str, int] = {
    "MyReferrals": 2,  # the referrals; the audit row
    "ReferralSlots": 3,  # the referral; the patient's own clinic (attachment); the slots held or booked here
    "MyNoShowStatus": 2,  # the no-shows with their contests (one join); the audit row
    "NoShowContests": 2,  # the staff session; the queue
    "Dispanserization": 4,  # the patient, the answers, the live plan; the audit row
    "DispanserizationDays": 4,  # the patient, the answers, the patient again (attachment), holds and bookings
    "MyDispanserizationPlans": 4,  # the plans, their items, the items' appointments; the audit row
}
