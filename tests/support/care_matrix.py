"""Authorization-matrix rows of referrals, no-shows and dispanserization (issue 24), merged into
tests/integration/identity/test_matrix.py's MATRIX (``care_rows(sys.modules[__name__])``).

Where a row's success world is not built here (the matrix's hub client has no referral operations; its
region's people are in no attachment register), the refusal past the policy is named in ``policy_only``;
the success of each of these operations is proved in tests/integration/dispanserization/ and
tests/integration/booking/test_referrals.py, test_no_shows.py.
"""

from __future__ import annotations

import uuid
from types import ModuleType
from typing import Any

from sqlalchemy import update

from backend.booking.models import Appointment, AppointmentState, ContestStatus, NoShowContest
from backend.identity import policy
from backend.runtime import Runtime

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
            mutation("addReferral", "number: $n, ", "$n: String!, "),
            keyed(n=lambda w: "NAPR-26-000001"),
            booking,
            policy_only=frozenset({"BOOKING_SERVICE_UNAVAILABLE"}),  # the matrix's hub has no referral operations
        ),
        "bookByReferral": m.standard(
            mutation("bookByReferral", "referralId: $r, slot: $s, ", "$r: UUID!, $s: String!, "),
            keyed(r=lambda w: str(uuid.uuid4()), s=lambda w: w.free_slot),
            booking,
            policy_only=frozenset({"REFERRAL_INVALID"}),  # no referral of T in this world
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
            'query($t: UUID) { dispanserizationDays(dateFrom: "2025-03-04", actingFor: $t) { day } }',
            t,
            booking,
            # The matrix region's people are in no attachment register: the policy let the call through and
            # the query answered the public NOT_ATTACHED error (no data).
            lambda w, d: True,
            policy_only=frozenset({"NOT_ATTACHED"}),
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
            mutation("bookDispanserizationPlan", "slots: $s, ", "$s: [String!]!, "),
            keyed(s=lambda w: [w.free_slot]),
            booking,
            policy_only=frozenset({"NOT_ATTACHED"}),
        ),
        "rescheduleDispanserizationPlan": m.sensitive(
            mutation("rescheduleDispanserizationPlan", "planId: $p, slots: $s, ", "$p: UUID!, $s: [String!]!, "),
            keyed(p=lambda w: str(uuid.uuid4()), s=lambda w: [w.free_slot]),
            booking,
            policy_only=frozenset({"PLAN_NOT_FOUND"}),
        ),
        "cancelDispanserizationPlan": m.sensitive(
            mutation("cancelDispanserizationPlan", "planId: $p, ", "$p: UUID!, "),
            keyed(p=lambda w: str(uuid.uuid4())),
            booking,
            policy_only=frozenset({"PLAN_NOT_FOUND"}),
        ),
    }
