"""No-show rules, visible and contestable: a patient limited for no-shows sees why and until when, can still
book through 122, contests a no-show, and is unblocked when the clinic upholds the contest."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

from backend.booking import service
from backend.core.context import Channel
from notifications.models import NotificationMessage
from tests.support.booking import EYE, HOLD, THERAPIST, TOMORROW, TZ, BookingEnv, call, ctx_for, key
from tests.support.client import app_client
from tests.support.identity import auth_headers, operator_token, token_for

STATUS = (
    "query { myNoShowStatus { limited limitedUntil triggeredBy rule { count windowDays limitDays text }"
    " noShows { appointmentId day counts contest { status decisionNote } } } }"
)
CONTEST = (
    'mutation($a: UUID!, $k: String!) { contestNoShow(appointmentId: $a, reason: "Я была на приеме в кабинете 101",'
    " idempotencyKey: $k) { __typename ... on NoShowContested { contest { id status } } ... on Problem { code } } }"
)
QUEUE = "query { noShowContests { id appointmentId status reason } }"
DECIDE = (
    'mutation($c: UUID!, $k: String!) { decideNoShowContest(contestId: $c, upheld: true, note: "Прием состоялся",'
    " idempotencyKey: $k) { __typename ... on NoShowContestDecided { contest { status } } ... on Problem { code } } }"
)


async def test_a_limited_patient_sees_why_and_until_when_contests_and_is_unblocked(env: BookingEnv) -> None:
    rt = env.runtime
    patient = await env.patient(0)
    # Three visits on three days; the clinic marks each a no-show after the day.
    visits = [
        (THERAPIST, TOMORROW),
        (EYE, TOMORROW + timedelta(days=1)),
        (THERAPIST, TOMORROW + timedelta(days=2)),
    ]
    appointments = []
    for doctor, day in visits:
        async with service.booking_unit(rt, ctx_for(patient.id)) as uow:
            appointment = await service.book_now(
                uow, patient.id, service.parse_ref((await env.slot_refs(doctor, day=day))[0])
            )
        env.state.mark_no_show(appointment.slot_id)
        await service.sync_statuses(rt, min_interval=timedelta(0))
        appointments.append(appointment)
    env.clock.now = datetime.combine(TOMORROW + timedelta(days=3), time(7, 30), tzinfo=TZ)
    days = [d.strftime("%d.%m.%Y") for _, d in visits]
    until = visits[-1][1] + timedelta(days=29)

    headers = auth_headers(token_for(rt, patient.id))
    staff = auth_headers(await operator_token(rt))
    free = (await env.slot_refs(THERAPIST, day=TOMORROW + timedelta(days=3)))[0]
    async with app_client(rt) as client:
        refused = await call(client, HOLD, headers, slot=free, key=key())
        assert refused["code"] == "ONLINE_BOOKING_LIMITED"
        assert all(d in refused["message"] for d in days) and until.strftime("%d.%m.%Y") in refused["message"]
        assert "122" in refused["message"] and "оспорьте" in refused["message"]
        status = await call(client, STATUS, headers)
        assert status["limited"] and status["limitedUntil"] == until.isoformat()
        assert status["triggeredBy"] == [d.isoformat() for _, d in visits]
        assert (status["rule"]["count"], status["rule"]["windowDays"], status["rule"]["limitDays"]) == (3, 90, 30)
        assert "122" in status["rule"]["text"]
        assert {n["appointmentId"] for n in status["noShows"]} == {str(a.id) for a in appointments}

        # The call centre still books for the patient: the limit is on online booking only.
        async with service.booking_unit(rt, ctx_for(patient.id, Channel.CALLCENTRE)) as uow:
            by_phone = await service.book_now(uow, patient.id, service.parse_ref(free))
        assert by_phone.status == "booked"

        contested = await call(client, CONTEST, headers, a=str(appointments[1].id), k=key())
        assert contested["__typename"] == "NoShowContested" and contested["contest"]["status"] == "pending"
        still = await call(client, STATUS, headers)
        assert still["limited"]  # a pending contest still counts
        queue = await call(client, QUEUE, staff)
        assert [(c["appointmentId"], c["status"]) for c in queue] == [(str(appointments[1].id), "pending")]
        decided = await call(client, DECIDE, staff, c=contested["contest"]["id"], k=key())
        assert decided["__typename"] == "NoShowContestDecided" and decided["contest"]["status"] == "upheld"

        lifted = await call(client, STATUS, headers)
        assert not lifted["limited"] and lifted["limitedUntil"] is None and lifted["triggeredBy"] == []
        upheld = next(n for n in lifted["noShows"] if n["appointmentId"] == str(appointments[1].id))
        assert upheld["counts"] is False and upheld["contest"] == {
            "status": "upheld",
            "decisionNote": "Прием состоялся",
        }
        other = (await env.slot_refs(EYE, day=TOMORROW + timedelta(days=3)))[0]
        held = await call(client, HOLD, headers, slot=other, key=key())
        assert held["__typename"] == "SlotHeld"
    await rt.relay.drain()
    async with rt.sessionmaker() as session:
        events = list(
            await session.scalars(select(NotificationMessage.event).where(NotificationMessage.patient_id == patient.id))
        )
    assert "appointment.no_show_contest_decided" in events
