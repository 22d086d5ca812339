"""Booking over GraphQL: holds that expire, confirm, rules, idempotency, cancel through the outbox,
reschedule that never loses the old appointment, hub failures that leave nothing half-written, and
statuses kept in step with the hub."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from backend.booking import schema, service
from backend.booking.models import Appointment, IdempotencyRecord, SlotHold
from backend.booking.service import appointments
from backend.outbox import service as outbox
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from integrations.common.faults import Fault, FaultProfile
from integrations.fer import AppointmentStatus, BookingChannel
from tests.support.booking import (
    ADULT_MO,
    BOOK,
    CANCEL,
    CHILD,
    CHILDREN_MO,
    CONFIRM,
    EYE,
    HOLD,
    MINE,
    PEDIATRICIAN,
    RESCHEDULE,
    THERAPIST,
    TOMORROW,
    BookingEnv,
    call,
    ctx_for,
    key,
    start_env,
)
from tests.support.client import app_client, gql
from tests.support.identity import auth_headers, grant_proxy, token_for

pytestmark = pytest.mark.dialect


async def count(runtime: Runtime, model: Any, *where: Any) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _appointment(runtime: Runtime, appointment_id: str) -> Appointment:
    async with runtime.sessionmaker() as session:
        row = await session.get(Appointment, uuid.UUID(appointment_id))
    assert row is not None
    return row


async def _deliver_all(runtime: Runtime) -> None:
    """Run every undelivered outbox message now (what the sweep does once their back-off is due)."""
    await runtime.relay.drain()
    async with runtime.sessionmaker() as session:
        ids = list(await session.scalars(select(OutboxMessage.id).where(OutboxMessage.dispatched_at.is_(None))))
    for message_id in ids:
        await outbox.dispatch(runtime, message_id)


# ---------------------------------------------------------------------------------------------- holds


async def test_hold_then_confirm_and_idempotent_repeats(env: BookingEnv) -> None:
    rt = env.runtime
    patient = await env.patient(0)
    headers = auth_headers(token_for(rt, patient.id))
    slot = (await env.slot_refs())[2]
    async with app_client(rt, [schema]) as client:
        held = await call(client, HOLD, headers, slot=slot, key="k-hold")
        assert held["__typename"] == "SlotHeld"
        assert held["hold"]["remainingSeconds"] == 300 and held["hold"]["status"] == "held"
        hold_id = held["hold"]["id"]
        # A repeat of the hold returns the same hold; nothing new is written.
        again = await call(client, HOLD, headers, slot=slot, key="k-hold")
        assert again["hold"]["id"] == hold_id
        assert await count(rt, SlotHold) == 1

        env.clock.advance(minutes=2)
        booked = await call(client, CONFIRM, headers, hold=hold_id, key="k-confirm")
        assert booked["__typename"] == "AppointmentBooked"
        appointment = booked["appointment"]
        assert appointment["status"] == "BOOKED"
        assert (appointment["moId"], appointment["doctorId"], appointment["room"]) == (ADULT_MO, THERAPIST, "101")
        assert (appointment["channel"], appointment["actorKind"], appointment["onBehalf"]) == (
            "mobile",
            "patient",
            False,
        )

        repeat = await call(client, CONFIRM, headers, hold=hold_id, key="k-confirm")
        assert repeat == booked
        reused = await call(client, CONFIRM, headers, hold=str(uuid.uuid4()), key="k-confirm")
        assert reused["code"] == "IDEMPOTENCY_KEY_REUSED" and "ключ" in reused["message"]
    assert env.state.calls["SetAppointment"] == 1
    assert await count(rt, Appointment) == 1
    upstream = env.state.active_booking(service.SlotRef.decode(slot).slot_id)
    assert upstream is not None and int(upstream.source) == 5  # INTERNET


async def test_hold_expires_and_the_slot_goes_to_the_next_patient(env: BookingEnv) -> None:
    rt = env.runtime
    first, second = await env.patient(0), await env.patient(1)
    slot = (await env.slot_refs())[0]
    async with app_client(rt, [schema]) as client:
        h1 = auth_headers(token_for(rt, first.id))
        h2 = auth_headers(token_for(rt, second.id))
        held = await call(client, HOLD, h1, slot=slot, key=key())
        taken = await call(client, HOLD, h2, slot=slot, key=key())
        assert taken["code"] == "SLOT_TAKEN" and "занят" in taken["message"]

        env.clock.advance(minutes=5, seconds=1)
        expired = await call(client, CONFIRM, h1, hold=held["hold"]["id"], key=key())
        assert expired["code"] == "HOLD_EXPIRED"
        mine = await call(client, HOLD, h2, slot=slot, key=key())
        assert mine["__typename"] == "SlotHeld"
        confirmed = await call(client, CONFIRM, h2, hold=mine["hold"]["id"], key=key())
        assert confirmed["__typename"] == "AppointmentBooked"
    assert env.state.calls["SetAppointment"] == 1
    async with rt.sessionmaker() as session:
        statuses = sorted((await session.scalars(select(SlotHold.status))).all())
    assert statuses == ["confirmed", "expired"]


async def test_expired_holds_are_swept(env: BookingEnv) -> None:
    rt = env.runtime
    patient = await env.patient(0)
    async with service.booking_unit(rt, _ctx(patient.id)) as uow:
        await service.hold_slot(uow, patient.id, service.parse_ref((await env.slot_refs())[0]))
    assert await service.expire_holds(rt) == 0
    env.clock.advance(minutes=6)
    assert await service.expire_holds(rt) == 1


async def test_a_one_step_booking_waits_out_another_patients_hold_but_not_an_expired_one(env: BookingEnv) -> None:
    rt = env.runtime
    holder, booker = await env.patient(0), await env.patient(1)
    ref = service.parse_ref((await env.slot_refs())[0])
    async with service.booking_unit(rt, _ctx(holder.id)) as uow:
        await service.hold_slot(uow, holder.id, ref)
    with pytest.raises(service.ProblemError) as refused:
        async with service.booking_unit(rt, _ctx(booker.id)) as uow:
            await service.book_now(uow, booker.id, ref, use_marker=False)  # the database decides, not Redis
    assert refused.value.problem.code == "SLOT_TAKEN"
    assert env.state.calls["SetAppointment"] == 0 and await count(rt, Appointment) == 0
    env.clock.advance(minutes=5, seconds=1)  # the hold ran out (not yet swept): it no longer stands in the way
    async with service.booking_unit(rt, _ctx(booker.id)) as uow:
        booked = await service.book_now(uow, booker.id, ref, use_marker=False)
    assert booked.patient_id == booker.id and booked.hold_id is None
    assert env.state.calls["SetAppointment"] == 1 and await count(rt, Appointment) == 1


async def test_a_known_patient_is_booked_without_checkpatient_and_a_refused_claim_asks_the_hub_nothing(
    env: BookingEnv,
) -> None:
    rt = env.runtime
    patient = await env.patient(0)
    refs = [service.parse_ref(r) for r in await env.slot_refs()]
    async with service.booking_unit(rt, _ctx(patient.id)) as uow:
        await service.book_now(uow, patient.id, refs[0])
    calls = dict(env.state.calls)
    assert calls["CheckPatient"] == 1 and calls["SetAppointment"] == 1
    # The IdPat is remembered: a second booking (another doctor) asks the hub only to book.
    eye = [service.parse_ref(r) for r in await env.slot_refs(EYE)]
    async with service.booking_unit(rt, _ctx(patient.id)) as uow:
        await service.book_now(uow, patient.id, eye[0])
    assert env.state.calls["CheckPatient"] == 1 and env.state.calls["SetAppointment"] == 2
    # Same specialty again: the claim itself refuses, before any hub call.
    with pytest.raises(service.ProblemError) as refused:
        async with service.booking_unit(rt, _ctx(patient.id)) as uow:
            await service.book_now(uow, patient.id, refs[1])
    assert refused.value.problem.code == "SAME_SPECIALTY_ACTIVE"
    assert env.state.calls["SetAppointment"] == 2 and await count(rt, Appointment) == 2


async def test_the_slot_marker_stays_after_a_booking_and_goes_after_a_refusal(env: BookingEnv) -> None:
    rt = env.runtime
    first, second, third = await env.patient(0), await env.patient(1), await env.patient(2)
    refs = [service.parse_ref(r) for r in await env.slot_refs()]
    async with service.booking_unit(rt, _ctx(first.id)) as uow:
        await service.book_now(uow, first.id, refs[0])
    with pytest.raises(service.ProblemError):  # turned away by the marker the booking keeps
        async with service.booking_unit(rt, _ctx(second.id)) as uow:
            await service.book_now(uow, second.id, refs[0])
    assert env.state.calls["CheckPatient"] == 1  # the second attempt never reached the hub
    # A refused attempt (same specialty as their own booking) lets its marker go at once.
    with pytest.raises(service.ProblemError):
        async with service.booking_unit(rt, _ctx(first.id)) as uow:
            await service.book_now(uow, first.id, refs[1])
    async with service.booking_unit(rt, _ctx(third.id)) as uow:
        booked = await service.book_now(uow, third.id, refs[1])
    assert booked.slot_id == refs[1].slot_id


def _ctx(patient_id: uuid.UUID) -> Any:
    return ctx_for(patient_id)


# ---------------------------------------------------------------------------------------------- rules


async def test_rules_same_specialty_and_age(env: BookingEnv) -> None:
    rt = env.runtime
    adult = await env.patient(0)
    headers = auth_headers(token_for(rt, adult.id))
    slots = await env.slot_refs()
    async with app_client(rt, [schema]) as client:
        first = await call(client, BOOK, headers, slot=slots[0], key=key())
        assert first["__typename"] == "AppointmentBooked"
        second = await call(client, BOOK, headers, slot=slots[1], key=key())
        assert second["__typename"] == "SameSpecialtyActive"
        assert "уже есть активная запись" in second["message"] and "Терапевт" in second["message"]
        # Another specialty is fine.
        eye = await call(client, BOOK, headers, slot=(await env.slot_refs(EYE))[0], key=key())
        assert eye["__typename"] == "AppointmentBooked"
        # An adult at the children's polyclinic.
        kids = await call(client, BOOK, headers, slot=(await env.slot_refs(PEDIATRICIAN, CHILDREN_MO))[0], key=key())
        assert kids["__typename"] == "AgeRestricted" and "до 18 лет" in kids["message"]
    assert await count(rt, Appointment) == 2


async def test_a_parent_books_for_a_child_through_a_proxy_grant(env: BookingEnv) -> None:
    rt = env.runtime
    parent, child = await env.patient(0), await env.patient(CHILD)
    headers = auth_headers(token_for(rt, parent.id))
    slot = (await env.slot_refs(PEDIATRICIAN, CHILDREN_MO))[0]
    async with app_client(rt, [schema]) as client:
        refused = await call(client, BOOK, headers, slot=slot, key=key(), **{"for": str(child.id)})
        assert refused["__typename"] == "AccessDenied"
        await grant_proxy(rt, child.id, parent.id, kind="guardian_esia")
        booked = await call(client, BOOK, headers, slot=slot, key=key(), **{"for": str(child.id)})
        assert booked["__typename"] == "AppointmentBooked"
        assert booked["appointment"]["onBehalf"] is True
        therapist = await call(
            client, BOOK, headers, slot=(await env.slot_refs())[0], key=key(), **{"for": str(child.id)}
        )
        assert therapist["__typename"] == "AgeRestricted"
    row = await _appointment(rt, booked["appointment"]["id"])
    assert row.patient_id == child.id and row.actor_id == str(parent.id)


# ---------------------------------------------------------------------------------------------- cancel


async def test_cancel_goes_through_the_outbox_and_waits_out_a_hub_outage(env: BookingEnv) -> None:
    rt = env.runtime
    patient = await env.patient(0)
    headers = auth_headers(token_for(rt, patient.id))
    slot = (await env.slot_refs())[0]
    slot_id = service.SlotRef.decode(slot).slot_id
    async with app_client(rt, [schema]) as client:
        booked = await call(client, BOOK, headers, slot=slot, key=key())
        appointment_id = booked["appointment"]["id"]
        env.faults.force(Fault.ERROR, Fault.ERROR)  # the hub is down for the next two calls
        cancelled = await call(client, CANCEL, headers, id=appointment_id, key=key())
        assert cancelled["appointment"]["status"] == "CANCEL_PENDING"
        await rt.relay.drain()
        assert (await _appointment(rt, appointment_id)).status == "cancel_pending"
        assert env.state.active_booking(slot_id) is not None
        # The slot stays ours while the refusal is on its way.
        other = auth_headers(token_for(rt, (await env.patient(1)).id))
        assert (await call(client, BOOK, other, slot=slot, key=key()))["code"] == "SLOT_TAKEN"
        await _deliver_all(rt)  # second failure
        await _deliver_all(rt)  # the hub is back
        assert (await _appointment(rt, appointment_id)).status == "cancelled_by_patient"
        assert env.state.active_booking(slot_id) is None
        history = env.state.bookings[0]
        assert history.status is AppointmentStatus.CANCELLED_BY_PATIENT
        twice = await call(client, CANCEL, headers, id=appointment_id, key=key())
        assert twice["code"] == "APPOINTMENT_NOT_ACTIVE"


# ---------------------------------------------------------------------------------------------- reschedule


async def _booked(env: BookingEnv, client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    booked = await call(client, BOOK, headers, slot=(await env.slot_refs())[0], key=key())
    assert booked["__typename"] == "AppointmentBooked"
    return dict(booked["appointment"])


async def _old_is_untouched(env: BookingEnv, old: dict[str, Any]) -> None:
    row = await _appointment(env.runtime, old["id"])
    assert row.status == "booked" and row.replaced_by_id is None
    upstream = env.state.active_booking(row.slot_id)
    assert upstream is not None and upstream.status is None
    assert await count(env.runtime, Appointment) == 1


async def test_reschedule_moves_the_appointment_and_cancels_the_old_one_upstream(env: BookingEnv) -> None:
    rt = env.runtime
    patient = await env.patient(0)
    headers = auth_headers(token_for(rt, patient.id))
    async with app_client(rt, [schema]) as client:
        old = await _booked(env, client, headers)
        new_slot = (await env.slot_refs())[5]
        env.faults.force(Fault.NONE, Fault.ERROR)  # SetAppointment ok; the first refusal of the old one fails
        moved = await call(client, RESCHEDULE, headers, id=old["id"], slot=new_slot, key=key())
        assert moved["__typename"] == "AppointmentRescheduled"
        assert moved["previous"]["status"] == "RESCHEDULED"
        assert moved["appointment"]["rescheduledFromId"] == old["id"]
        await _deliver_all(rt)
    old_row = await _appointment(rt, old["id"])
    assert old_row.status == "rescheduled" and old_row.cancelled_at is not None
    assert env.state.active_booking(old_row.slot_id) is None
    assert env.state.active_booking(service.SlotRef.decode(new_slot).slot_id) is not None


@pytest.mark.parametrize("fault", [Fault.ERROR, Fault.MALFORMED])
async def test_reschedule_with_the_hub_failing_leaves_the_old_appointment(env: BookingEnv, fault: Fault) -> None:
    rt = env.runtime
    patient = await env.patient(0)
    headers = auth_headers(token_for(rt, patient.id))
    async with app_client(rt, [schema]) as client:
        old = await _booked(env, client, headers)
        target = (await env.slot_refs())[5]
        env.faults.force(fault)
        failed = await call(client, RESCHEDULE, headers, id=old["id"], slot=target, key=key())
        assert failed["code"] == "BOOKING_SERVICE_UNAVAILABLE"
        assert "временно недоступен" in failed["message"]
        await _deliver_all(rt)
    await _old_is_untouched(env, old)


async def test_reschedule_to_a_slot_taken_upstream_leaves_the_old_appointment(env: BookingEnv) -> None:
    rt = env.runtime
    patient = await env.patient(0)
    headers = auth_headers(token_for(rt, patient.id))
    async with app_client(rt, [schema]) as client:
        old = await _booked(env, client, headers)
        target = (await env.slot_refs())[5]
        # Someone books it at the registry desk, behind our back (our cache still lists it free).
        stranger = env.region.people[3]
        pid = (
            await env.client.check_patient(ADULT_MO, oms_policy=stranger.oms_policy, birth_date=stranger.birth_date)
        ).patient_id
        await env.client.book(ADULT_MO, pid, service.SlotRef.decode(target).slot_id, channel=BookingChannel.REGISTRY)
        failed = await call(client, RESCHEDULE, headers, id=old["id"], slot=target, key=key())
        assert failed["code"] == "SLOT_TAKEN"
    await _old_is_untouched(env, old)


async def test_reschedule_whose_commit_fails_cancels_the_new_booking_upstream(
    env: BookingEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = env.runtime
    patient = await env.patient(0)
    headers = auth_headers(token_for(rt, patient.id))
    async with app_client(rt, [schema]) as client:
        old = await _booked(env, client, headers)
        target = (await env.slot_refs())[5]

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("database went away after the hub said yes")

        monkeypatch.setattr(appointments, "_claim_appointment", broken)
        body = await gql(client, RESCHEDULE, {"id": old["id"], "slot": target, "key": key()}, headers=headers)
        assert body["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
        monkeypatch.undo()
        await _deliver_all(rt)
    await _old_is_untouched(env, old)
    new_upstream = [b for b in env.state.bookings if b.appointment_id == service.SlotRef.decode(target).slot_id]
    assert len(new_upstream) == 1 and new_upstream[0].status is AppointmentStatus.CANCELLED_BY_PATIENT


# ---------------------------------------------------------------------------------------------- hub failures


@pytest.mark.parametrize("fault", [Fault.MALFORMED, Fault.ERROR])
async def test_confirm_with_a_broken_hub_writes_nothing_and_releases_the_hold(env: BookingEnv, fault: Fault) -> None:
    rt = env.runtime
    patient = await env.patient(0)
    headers = auth_headers(token_for(rt, patient.id))
    async with app_client(rt, [schema]) as client:
        held = await call(client, HOLD, headers, slot=(await env.slot_refs())[0], key=key())
        env.faults.force(fault)
        failed = await call(client, CONFIRM, headers, hold=held["hold"]["id"], key="same-key")
        assert failed["code"] == "BOOKING_SERVICE_UNAVAILABLE"
        assert await count(rt, Appointment) == 0
        async with rt.sessionmaker() as session:
            assert (await session.get(SlotHold, uuid.UUID(held["hold"]["id"]))).status == "released"  # type: ignore[union-attr]
        # A transient refusal is not the key's result: nothing stored under it.
        assert await count(rt, IdempotencyRecord, IdempotencyRecord.key == "same-key") == 0


async def test_a_hub_timeout_is_typed_and_a_late_booking_is_cancelled_upstream(runtime: Runtime) -> None:
    env = await start_env(runtime, faults=FaultProfile(timeout_stall_s=0.3), timeout_s=0.1)
    patient = await env.patient(0)
    await service.identify(runtime, patient, ADULT_MO)  # CheckPatient done: the next call is SetAppointment
    headers = auth_headers(token_for(runtime, patient.id))
    slot = (await env.slot_refs())[0]
    slot_id = service.SlotRef.decode(slot).slot_id
    await service.doctor_slots(runtime, ADULT_MO, THERAPIST, TOMORROW, TOMORROW)  # availability cached
    async with app_client(runtime, [schema]) as client:
        env.faults.force(Fault.TIMEOUT)
        failed = await call(client, BOOK, headers, slot=slot, key=key())
    assert failed["code"] == "BOOKING_SERVICE_UNAVAILABLE"
    assert await count(runtime, Appointment) == 0
    assert await count(runtime, SlotHold) == 0  # the one-step hold rolled back with the rest
    # The reply was lost, maybe not the booking: a compensation looks for it a few times, then gives up.
    async with runtime.sessionmaker() as session:
        payloads = list(
            await session.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic == service.TOPIC_COMPENSATE))
        )
    assert payloads == [
        {"mo_id": ADULT_MO, "hub_patient_id": payloads[0]["hub_patient_id"], "slot_id": slot_id, "uncertain": True}
    ]
    for _ in range(service.COMPENSATION_NOT_FOUND_RETRIES):
        await _deliver_all(runtime)
    assert await count(runtime, OutboxMessage, OutboxMessage.dispatched_at.is_(None)) == 0
    assert env.state.active_booking(slot_id) is None


# ---------------------------------------------------------------------------------------------- status sync


async def test_statuses_follow_the_hub_and_a_clinic_cancellation_reaches_the_patient(env: BookingEnv) -> None:
    rt = env.runtime
    patients = [await env.patient(i) for i in range(3)]
    ids = []
    for i, p in enumerate(patients):
        async with service.booking_unit(rt, _ctx(p.id)) as uow:
            ids.append((await service.book_now(uow, p.id, service.parse_ref((await env.slot_refs())[i]))).slot_id)
        await rt.relay.drain()  # SQLite: one writer at a time
    env.state.cancel_by_mo(ids[0])
    env.state.mark_no_show(ids[2])
    report = await service.sync_statuses(rt)
    assert (report.patients, report.changed) == (3, 2)
    assert len(report.cancelled_by_mo) == 1
    again = await service.sync_statuses(rt)  # nothing is due again before the interval
    assert again.patients == 0
    async with app_client(rt, [schema]) as client:
        mine = await call(client, MINE, auth_headers(token_for(rt, patients[0].id)))
    assert [a["status"] for a in mine] == ["CANCELLED_BY_MO"]
    async with rt.sessionmaker() as session:
        topics = list(
            await session.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic != "booking.cancel_upstream"))
        )
    cancelled = [p for p in topics if p.get("event") == "appointment.cancelled"]
    assert len(cancelled) == 1 and cancelled[0]["patient_id"] == str(patients[0].id)
    assert cancelled[0]["data"]["by_clinic"] is True if "data" in cancelled[0] else cancelled[0]["by_clinic"] is True
