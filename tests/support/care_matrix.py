"""Authorization-matrix rows of referrals, no-shows and dispanserization (issue 24), merged into
tests/integration/identity/test_matrix.py's MATRIX (``care_rows(sys.modules[__name__])``), and the success
worlds of issue 24's rows there (the waitlist's offer and entry, the survey's invitation).

Each allowed principal really succeeds: the rows that need the hub's referral operations, the prevention
rooms or the attachment register run on the care world (``env=start_care``: the region with the rooms, the
hub client with the referral operations, the attachment register), and their ``prepare`` builds what the
action acts on (a referral the hub issued for T, a plan of T's, an offer of T's), through the services.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from types import ModuleType
from typing import Any

from sqlalchemy import select, update

from backend.booking import service as booking
from backend.booking.models import Appointment, AppointmentState, ContestStatus, NoShowContest
from backend.dispanserization import service as dispanserization
from backend.identity import policy
from backend.runtime import Runtime
from backend.surveys import service as surveys
from backend.surveys.models import SurveyInvitation
from backend.waitlist import service as waitlist
from backend.waitlist.models import EntryStatus, OfferStatus, WaitlistEntry, WaitlistOffer
from integrations.fer.referrals import issue_referral
from tests.support.booking import CARDIOLOGIST, HOSPITAL_MO, THERAPIST, TOMORROW, ctx_for
from tests.support.care import start_care
from tests.support.waitlist import request as waitlist_request

#: The id a row's variables name where the principal's world was not prepared (refused by the policy first).
_NONE = str(uuid.uuid4())
YES_NO = ("chest_pain", "tia", "cough", "digestion", "heredity", "smoking", "alcohol", "drugs", "low_activity", "diet")


async def _no_show(runtime: Runtime, world: Any, principal: Any) -> None:
    """T's booked appointment, as the clinic marks it after the visit: a no-show."""
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(Appointment).where(Appointment.id == world.appointment).values(status=AppointmentState.NO_SHOW.value)
        )


async def _contested(runtime: Runtime, world: Any, principal: Any) -> None:
    """T's no-show, contested: the contest's id is kept as the world's ``document_grant`` slot (unused here)."""
    await _no_show(runtime, world, principal)
    contest = NoShowContest(
        id=uuid.uuid4(),
        appointment_id=world.appointment,
        patient_id=world.target,
        mo_id="1001",
        reason="Была на приеме",
        status=ContestStatus.PENDING.value,
        created_at=runtime.now(),
    )
    async with runtime.sessionmaker() as session, session.begin():
        session.add(contest)
    world.document_grant = contest.id


# -- success worlds (each principal's world: ``world.extra["env"]`` is its hub, ``["person"]`` T's person)


def _issue(world: Any) -> str:
    """A referral to the cardiologist the hub issued for T (by the adult clinic's therapist)."""
    env = world.extra["env"]
    return issue_referral(
        env.state, person_oid=world.extra["person"].esia_oid, specialty_code="22", issuer_doctor_id=THERAPIST
    )


async def _referral_issued(runtime: Runtime, world: Any, principal: Any) -> None:
    world.extra["referral_number"] = _issue(world)


async def _referral_added(runtime: Runtime, world: Any, principal: Any) -> None:
    """T's referral, added as the patient adds it, and a free cardiologist's slot to book with it."""
    number = _issue(world)
    async with booking.booking_unit(runtime, ctx_for(world.target)) as uow:
        row = await booking.referrals.add(uow, world.target, number)
    world.extra["referral_id"] = str(row.id)
    world.extra["cardiology_slot"] = (await world.extra["env"].slot_refs(CARDIOLOGIST, HOSPITAL_MO, TOMORROW))[0]


#: T's questionnaire: this year's fluorography and mammography, last year's smear and occult-blood test, so
#: the plan is four visits (blood, the prevention room, the ECG, the therapist): a lighter world to book.
_RECENT = dict.fromkeys(YES_NO, False) | {
    "had_ecg": True, "had_iop": True, "last_fluorography": 2025, "last_mammography": 2025, "last_smear": 2024,
    "last_fobt": 2024,
}  # fmt: skip


async def _visited_therapist(runtime: Runtime, world: Any) -> None:
    """T's therapist appointment of the world, as visited (the plan's therapist visit needs no other), and
    T's questionnaire answered."""
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(Appointment).where(Appointment.id == world.appointment).values(status=AppointmentState.VISITED.value)
        )
    async with booking.booking_unit(runtime, ctx_for(world.target)) as uow:
        await dispanserization.answer(uow, world.target, _RECENT)


async def _plan_days(runtime: Runtime, world: Any, count: int) -> list[list[str]]:
    """The first ``count`` days from next week on which T's first stage fits (the matrix's worlds take this
    week's therapist slots one by one: a plan never takes one of them)."""
    start = TOMORROW + timedelta(days=7)
    async with runtime.sessionmaker() as session:
        days = await dispanserization.find_days(
            runtime, session, world.target, start, start + timedelta(days=2), limit=count
        )
    return [[step.ref for step in day.steps] for day in days]


async def _plan_slots(runtime: Runtime, world: Any, principal: Any) -> None:
    """A day on which T's first stage fits (T attached to the adult clinic with its rooms)."""
    await _visited_therapist(runtime, world)
    [world.extra["plan_slots"]] = await _plan_days(runtime, world, 1)


async def _plan_booked(runtime: Runtime, world: Any, principal: Any) -> None:
    """T's booked plan, and another day's slots to move it to."""
    await _visited_therapist(runtime, world)
    first, second = await _plan_days(runtime, world, 2)
    async with booking.booking_unit(runtime, ctx_for(world.target)) as uow:
        plan = await dispanserization.book_plan(uow, world.target, first)
    world.extra["plan_id"], world.extra["plan_slots"] = str(plan.id), second


async def waitlist_entry(runtime: Runtime, world: Any, principal: Any) -> None:
    """T in the eye doctor's line (joined as the patient joins)."""
    async with booking.booking_unit(runtime, ctx_for(world.target)) as uow:
        entry = await waitlist.join(uow, world.target, waitlist_request())
    world.extra["entry_id"] = str(entry.id)


async def waitlist_offer(runtime: Runtime, world: Any, principal: Any) -> None:
    """T's live offer of a freed eye doctor's slot: T's entry, booking's hold of the slot for T, the offer
    (the rows the waitlist's ``offer_next`` writes)."""
    await waitlist_entry(runtime, world, principal)
    ref = booking.parse_ref(world.free_slot)
    async with booking.booking_unit(runtime, ctx_for(world.target)) as uow:
        hold = await booking.hold_slot(uow, world.target, ref, ttl=waitlist.OFFER_TTL)
        entry = await uow.session.get_one(WaitlistEntry, uuid.UUID(world.extra["entry_id"]))
        entry.status = EntryStatus.OFFERED.value
        offer = WaitlistOffer(
            id=uuid.uuid4(), entry_id=entry.id, patient_id=world.target, mo_id=ref.mo_id, doctor_id=ref.doctor_id,
            specialty_code=entry.specialty_code, slot_id=ref.slot_id, slot_start=hold.slot_start,
            slot_end=hold.slot_end, hold_id=hold.id, status=OfferStatus.OFFERED.value, reason=None,
            expires_at=hold.expires_at, appointment_id=None, created_at=hold.created_at, closed_at=None,
        )  # fmt: skip
        uow.session.add(offer)
    world.extra["offer_id"] = str(offer.id)


async def survey_invitation(runtime: Runtime, world: Any, principal: Any) -> None:
    """T's invitation to rate the visit of the world's appointment (booking's ``on_visited`` hook)."""
    async with booking.booking_unit(runtime, ctx_for(world.target)) as uow:
        appointment = await uow.session.get_one(Appointment, world.appointment)
        await surveys.on_visited(uow, appointment)
    async with runtime.sessionmaker() as session:
        invitation = await session.scalar(
            select(SurveyInvitation.id).where(SurveyInvitation.appointment_id == world.appointment)
        )
    world.extra["invitation_id"] = str(invitation)


def care_rows(m: ModuleType) -> dict[str, Any]:
    """The rows, built with the matrix module's helpers (``standard``, ``sensitive``, ``only``, ...)."""
    problem, keyed, t, is_type = m.PROBLEM, m._keyed, m._t, m.is_type
    booking = policy.SCOPE_BOOKING

    def mutation(field: str, arguments: str, declarations: str, success: str = "") -> str:
        return (
            f"mutation({declarations}$k: String!, $t: UUID) {{ {field}({arguments}idempotencyKey: $k, actingFor: $t)"
            f" {{ {problem} {success} }} }}"
        )

    answers = [{"code": c, "yes": False} for c in YES_NO]
    return {
        # ---------------------------------------------------------------------------- referrals
        "myReferrals": m.standard("query($t: UUID) { myReferrals(actingFor: $t) { id } }", t, booking),
        "addReferral": m.standard(
            mutation("addReferral", "number: $n, ", "$n: String!, ", "... on ReferralAdded { referral { status } }"),
            keyed(n=lambda w: w.extra.get("referral_number", "NAPR-26-000001")),
            booking,
            is_type("ReferralAdded"),
            prepare=_referral_issued,
            env=start_care,
            prepare_allowed_only=True,
        ),
        "bookByReferral": m.standard(
            mutation(
                "bookByReferral",
                "referralId: $r, slot: $s, ",
                "$r: UUID!, $s: String!, ",
                "... on BookedByReferral { referral { status } appointment { specialtyCode } }",
            ),
            keyed(
                r=lambda w: w.extra.get("referral_id", _NONE), s=lambda w: w.extra.get("cardiology_slot", w.free_slot)
            ),
            booking,
            lambda w, d: d.get("__typename") == "BookedByReferral" and d["referral"]["status"] == "booked",
            prepare=_referral_added,
            env=start_care,
            prepare_allowed_only=True,
        ),
        "referralSlots": m.standard(
            "query($r: UUID!, $t: UUID) { referralSlots(referralId: $r, actingFor: $t)"
            " { items { doctorId slots { id } } } }",
            lambda w: {"r": w.extra.get("referral_id", _NONE), "t": str(w.target)},
            booking,
            lambda w, d: bool(d["items"]) and all(i["doctorId"] == CARDIOLOGIST and i["slots"] for i in d["items"]),
            prepare=_referral_added,
            env=start_care,
            prepare_allowed_only=True,
        ),
        # A doctor's staff login only (none of these principals): tests/integration/booking/test_referrals.py.
        "bookSpecialistForPatient": m.only(
            set(),
            'mutation($k: String!) { bookSpecialistForPatient(omsPolicy: "1", birthDate: "1980-01-01",'
            f' referralNumber: "NAPR-1", slot: "x", idempotencyKey: $k) {{ {problem} }} }}',
            lambda w: {"k": uuid.uuid4().hex},
        ),
        # ---------------------------------------------------------------------------- no-shows
        "myNoShowStatus": m.standard(
            "query($t: UUID) { myNoShowStatus(actingFor: $t) { limited noShows { appointmentId } } }", t, booking
        ),
        "contestNoShow": m.standard(
            mutation(
                "contestNoShow",
                'appointmentId: $a, reason: "Была на приеме", ',
                "$a: UUID!, ",
                "... on NoShowContested { contest { status } }",
            ),
            keyed(a=lambda w: str(w.appointment)),
            booking,
            is_type("NoShowContested"),
            prepare=_no_show,
        ),
        "noShowContests": m.only({m.P.OPERATOR}, "{ noShowContests { id } }", lambda w: {}),
        "decideNoShowContest": m.only(
            {m.P.OPERATOR},
            "mutation($c: UUID!, $k: String!) { decideNoShowContest(contestId: $c, upheld: true, idempotencyKey: $k)"
            f" {{ {problem} ... on NoShowContestDecided {{ contest {{ status }} }} }} }}",
            lambda w: {"c": str(w.document_grant), "k": uuid.uuid4().hex},
            check=is_type("NoShowContestDecided"),
            prepare=_contested,
        ),
        # ---------------------------------------------------------------------------- dispanserization
        "dispanserization": m.standard("query($t: UUID) { dispanserization(actingFor: $t) { year kind } }", t, booking),
        "dispanserizationDays": m.standard(
            'query($t: UUID) { dispanserizationDays(dateFrom: "2025-03-04", actingFor: $t) { day slots } }',
            t,
            booking,
            lambda w, d: bool(d) and all(day["slots"] for day in d),
            env=start_care,
            prepare_allowed_only=True,
        ),
        "myDispanserizationPlans": m.standard(
            "query($t: UUID) { myDispanserizationPlans(actingFor: $t) { id } }", t, booking
        ),
        "answerDispanserizationQuestionnaire": m.standard(
            mutation(
                "answerDispanserizationQuestionnaire",
                "answers: $a, ",
                "$a: [AnswerInput!]!, ",
                "... on QuestionnaireAnswered { exams { code } }",
            ),
            keyed(a=lambda w: answers),
            booking,
            is_type("QuestionnaireAnswered"),
        ),
        "bookDispanserizationPlan": m.standard(
            mutation(
                "bookDispanserizationPlan", "slots: $s, ", "$s: [String!]!, ", "... on PlanBooked { plan { status } }"
            ),
            keyed(s=lambda w: w.extra.get("plan_slots", [w.free_slot])),
            booking,
            is_type("PlanBooked"),
            prepare=_plan_slots,
            env=start_care,
            prepare_allowed_only=True,
        ),
        "rescheduleDispanserizationPlan": m.sensitive(
            mutation(
                "rescheduleDispanserizationPlan",
                "planId: $p, slots: $s, ",
                "$p: UUID!, $s: [String!]!, ",
                "... on PlanRescheduled { previousId }",
            ),
            keyed(p=lambda w: w.extra.get("plan_id", _NONE), s=lambda w: w.extra.get("plan_slots", [w.free_slot])),
            booking,
            lambda w, d: d.get("__typename") == "PlanRescheduled" and d["previousId"] == w.extra["plan_id"],
            prepare=_plan_booked,
            env=start_care,
            prepare_allowed_only=True,
        ),
        "cancelDispanserizationPlan": m.sensitive(
            mutation(
                "cancelDispanserizationPlan", "planId: $p, ", "$p: UUID!, ", "... on PlanCancelled { plan { id } }"
            ),
            keyed(p=lambda w: w.extra.get("plan_id", _NONE)),
            booking,
            lambda w, d: d.get("__typename") == "PlanCancelled" and d["plan"]["id"] == w.extra["plan_id"],
            prepare=_plan_booked,
            env=start_care,
            prepare_allowed_only=True,
        ),
    }
