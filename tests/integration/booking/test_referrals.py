"""Booking on referral: a narrow specialist refused without a referral is booked with one (its number sent
to the hub); the patient's referrals with specialty, issuing doctor, validity and state; the attending doctor
books the specialist for the patient during the visit, on a referral they issued themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from backend.booking import service
from backend.runtime import Runtime
from integrations.fer import BookingChannel
from tests.support.booking import BOOK, CARDIOLOGIST, HOSPITAL_MO, TOMORROW, call, ctx_for, key
from tests.support.care import ROOM_IDS, CareEnv, start_care
from tests.support.client import app_client, gql
from tests.support.documents import doctor_token, make_doctor
from tests.support.identity import auth_headers, token_for

PROBLEM = "... on Problem { code message }"
REFERRAL = "id number status targetSpecialtyCode targetSpecialtyName validUntil issuerName reason appointmentId"
ADD = (
    "mutation($n: String!, $k: String!) { addReferral(number: $n, idempotencyKey: $k) {"
    f" __typename ... on ReferralAdded {{ referral {{ {REFERRAL} }} }} {PROBLEM} }} }}"
)
BOOK_BY = (
    "mutation($r: UUID!, $s: String!, $k: String!) { bookByReferral(referralId: $r, slot: $s, idempotencyKey: $k) {"
    f" __typename ... on BookedByReferral {{ referral {{ status appointmentId }} appointment {{ id specialtyCode }} }}"
    f" {PROBLEM} }} }}"
)
MINE = f"query {{ myReferrals {{ {REFERRAL} }} }}"
DOCTOR_BOOKS = (
    "mutation($p: String!, $b: Date!, $n: String!, $s: String!, $k: String!) { bookSpecialistForPatient("
    "omsPolicy: $p, birthDate: $b, referralNumber: $n, slot: $s, idempotencyKey: $k) {"
    f" __typename ... on BookedByReferral {{ referral {{ number status }} appointment {{ id actorKind }} }}"
    f" {PROBLEM} }} }}"
)


@pytest.fixture
async def care(runtime: Runtime) -> AsyncIterator[CareEnv]:
    yield await start_care(runtime)
    await runtime.relay.drain()


async def test_a_narrow_specialist_is_booked_with_the_patients_referral(care: CareEnv) -> None:
    rt = care.runtime
    patient = await care.patient(3)
    headers = auth_headers(token_for(rt, patient.id))
    slots = await care.slot_refs(CARDIOLOGIST, HOSPITAL_MO, TOMORROW)
    number = care.issue(3, "22", valid_days=30, reason="Боли в сердце при нагрузке")
    strangers = care.issue(4, "22")
    async with app_client(rt) as client:
        refused = await call(client, BOOK, headers, slot=slots[0], key=key())
        assert refused["code"] == "REFERRAL_REQUIRED"

        added = await call(client, ADD, headers, n=number.lower(), k=key())
        assert added["__typename"] == "ReferralAdded", added
        referral = added["referral"]
        assert (referral["number"], referral["status"]) == (number, "issued")
        assert (referral["targetSpecialtyCode"], referral["targetSpecialtyName"]) == ("22", "Кардиолог")
        assert referral["issuerName"] == "Иванова Мария Петровна" and referral["reason"] == "Боли в сердце при нагрузке"
        assert referral["validUntil"] == (TOMORROW - timedelta(days=1) + timedelta(days=30)).isoformat()

        others = await call(client, ADD, headers, n=strangers, k=key())
        assert others["code"] == "REFERRAL_INVALID" and "другому пациенту" in others["message"]
        unknown = await call(client, ADD, headers, n="NAPR-26-999999", k=key())
        assert unknown["code"] == "REFERRAL_INVALID" and "не найдено" in unknown["message"]

        wrong = await call(client, BOOK_BY, headers, r=referral["id"], s=(await care.slot_refs())[0], k=key())
        assert wrong["code"] == "REFERRAL_INVALID" and "Кардиолог" in wrong["message"]  # a therapist's slot

        booked = await call(client, BOOK_BY, headers, r=referral["id"], s=slots[0], k=(k := key()))
        assert booked["__typename"] == "BookedByReferral", booked
        assert booked["referral"]["status"] == "booked" and booked["appointment"]["specialtyCode"] == "22"
        assert await call(client, BOOK_BY, headers, r=referral["id"], s=slots[0], k=k) == booked  # idempotent
        again = await call(client, BOOK_BY, headers, r=referral["id"], s=slots[1], k=key())
        assert again["code"] == "REFERRAL_INVALID"  # used
        mine = await call(client, MINE, headers)
    assert [(r["number"], r["status"], r["appointmentId"]) for r in mine] == [
        (number, "booked", booked["appointment"]["id"])
    ]
    upstream = care.state.active_booking(service.SlotRef.decode(slots[0]).slot_id)
    assert upstream is not None and upstream.referral_id == number and upstream.source is BookingChannel.INTERNET
    assert care.state.calls["InspectDoctorsReferal"] == 1 and care.state.calls["CheckReferral"] == 3


async def test_the_attending_doctor_books_the_specialist_during_the_visit(care: CareEnv) -> None:
    rt = care.runtime
    patient = await care.patient(5)
    doctor = await make_doctor(rt, snils="112-233-445 95", full_name="Иванова Мария Петровна")
    headers = auth_headers(await doctor_token(rt, doctor.id))
    slots = await care.slot_refs(CARDIOLOGIST, HOSPITAL_MO, TOMORROW)
    mine = care.issue(5, "22")
    # A referral of the same patient issued by someone else (the ECG room's nurse has another SNILS).
    someone_elses = care.issue(5, "22", issuer=ROOM_IDS["9002"])
    person = care.region.people[5]
    variables = {"p": person.oms_policy, "b": person.birth_date.isoformat()}
    async with app_client(rt) as client:
        refused = await call(client, DOCTOR_BOOKS, headers, **variables, n=someone_elses, s=slots[0], k=key())
        assert refused["code"] == "REFERRAL_INVALID" and "выдал сам" in refused["message"]
        booked = await call(client, DOCTOR_BOOKS, headers, **variables, n=mine, s=slots[0], k=key())
        assert booked["__typename"] == "BookedByReferral", booked
        assert booked["referral"] == {"number": mine, "status": "booked"}
        assert booked["appointment"]["actorKind"] == "operator"
        patient_view = await call(client, MINE, auth_headers(token_for(rt, patient.id)))
    assert [r["number"] for r in patient_view] == [mine]
    upstream = care.state.active_booking(service.SlotRef.decode(slots[0]).slot_id)
    assert upstream is not None and upstream.source is BookingChannel.DOCTOR and upstream.referral_id == mine


OPTIONS = (
    "query($r: UUID!, $a: Date, $b: Date) { referralSlots(referralId: $r, dateFrom: $a, dateTo: $b) { partial"
    " items { moId doctorId specialtyCode ownClinic slots { id start } } } }"
)


async def test_the_referrals_booking_options_come_from_the_hubs_referral_slots(care: CareEnv) -> None:
    """The free slots of the referral's target (GetAppointmentsDemandDoctorsReferal after InspectDoctorsReferal),
    without those held here; one of them booked by the referral; a used referral has no options."""
    rt = care.runtime
    patient, other = await care.patient(3), await care.patient(5)
    headers = auth_headers(token_for(rt, patient.id))
    number = care.issue(3, "22", valid_days=30)
    held = service.SlotRef.decode((await care.slot_refs(CARDIOLOGIST, HOSPITAL_MO, TOMORROW))[1])
    async with service.booking_unit(rt, ctx_for(other.id)) as uow:
        await service.hold_slot(uow, other.id, held)  # someone holds the second slot of tomorrow
    async with app_client(rt) as client:
        referral = (await call(client, ADD, headers, n=number, k=key()))["referral"]
        before = care.state.calls["GetAppointmentsDemandDoctorsReferal"]
        options = await call(client, OPTIONS, headers, r=referral["id"], a=TOMORROW.isoformat())
        assert care.state.calls["GetAppointmentsDemandDoctorsReferal"] > before
        assert options["partial"] is False and options["items"]
        assert {(i["moId"], i["doctorId"], i["specialtyCode"]) for i in options["items"]} == {
            (HOSPITAL_MO, CARDIOLOGIST, "22")
        }
        slots = [s["id"] for i in options["items"] for s in i["slots"]]
        decoded = [service.SlotRef.decode(s) for s in slots]
        assert held.slot_id not in {r.slot_id for r in decoded}  # held here: not offered
        assert all(r.day >= TOMORROW for r in decoded) and [s["start"] for s in options["items"][0]["slots"]] == sorted(
            s["start"] for s in options["items"][0]["slots"]
        )
        booked = await call(client, BOOK_BY, headers, r=referral["id"], s=slots[0], k=key())
        assert booked["__typename"] == "BookedByReferral", booked
        used = await gql(client, OPTIONS, {"r": referral["id"]}, headers=headers)
        assert used["errors"][0]["extensions"]["code"] == "REFERRAL_INVALID"
        # Someone else's referral is not theirs to look into.
        foreign = await gql(client, OPTIONS, {"r": referral["id"]}, headers=auth_headers(token_for(rt, other.id)))
        assert foreign["errors"][0]["extensions"]["code"] == "REFERRAL_INVALID"
