"""Contract of the hub's referral operations: FerReferralsClient against the HubService simulator
(CheckReferral, InspectDoctorsReferal, GetAppointmentsDemandDoctorsReferal, SetAppointment's doctorsReferral)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from integrations.common.http import build_http_client
from integrations.fer import (
    BookingChannel,
    BookingHub,
    HubErrorCode,
    ReferralInvalid,
    ReferralNotFound,
    ReferralRequired,
    SpecialistType,
)
from integrations.fer.referrals import (
    AppointmentKind,
    FerReferralsClient,
    ReferralsHub,
    ReferralStatus,
    cancel_referral,
    issue_referral,
)
from integrations.fer.simulator import create_fer_simulator, simulator_state
from tests.contract.test_fer_contract import (
    DAY_AFTER,
    EYE_DOCTOR,
    GUID,
    MO,
    OTHER_MO,
    THERAPIST,
    TODAY,
    Clock,
    Hub,
    Wire,
    _region,
)


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    region = _region()
    clock = Clock()
    app = create_fer_simulator(region, clock=clock, guid=GUID)
    http = build_http_client("inprocess://fer", simulator_app=lambda: app)
    async with http:
        yield Hub(
            app=app,
            state=simulator_state(app),
            client=FerReferralsClient(http, guid=GUID, timeout_s=2.0),
            http=http,
            clock=clock,
            wire=Wire(),
            region=region,
        )


def _client(hub: Hub) -> FerReferralsClient:
    assert isinstance(hub.client, FerReferralsClient)
    return hub.client


def _issue(hub: Hub, i: int = 0, **kwargs: object) -> str:
    return issue_referral(
        hub.state,
        person_oid=hub.person(i).esia_oid,
        specialty_code=str(kwargs.pop("specialty_code", "65")),
        issuer_doctor_id=THERAPIST,
        reason="Снижение остроты зрения",
        **kwargs,  # type: ignore[arg-type]
    )


async def test_client_implements_both_ports(hub: Hub) -> None:
    assert isinstance(hub.client, BookingHub)
    assert isinstance(hub.client, ReferralsHub)


async def test_check_referral_reads_the_whole_referral(hub: Hub) -> None:
    number = _issue(hub, valid_days=30)
    referral = await _client(hub).check_referral(number)
    person = hub.person()
    assert referral.number == number
    assert referral.issued_on == TODAY and referral.valid_until == TODAY + timedelta(days=30)
    assert referral.status is ReferralStatus.ISSUED
    assert referral.target_specialty_id == "65"
    assert referral.issuer_mo_id == MO
    assert referral.issuer_name == "Иванова Мария Петровна" and referral.issuer_snils == "112-233-445 95"
    assert referral.reason == "Снижение остроты зрения"
    assert (referral.patient_last_name, referral.patient_birth_date) == (person.last_name, person.birth_date)
    assert referral.target_mo_id is None


async def test_unknown_referral_is_not_found(hub: Hub) -> None:
    with pytest.raises(ReferralNotFound) as exc:
        await _client(hub).check_referral("NAPR-26-999999")
    assert exc.value.code == HubErrorCode.REFERRAL_NOT_FOUND
    with pytest.raises(ReferralNotFound):
        await _client(hub).inspect_referral(MO, "NAPR-26-999999")


async def test_inspect_gives_the_patient_id_and_the_slots_book_with_the_referral(hub: Hub) -> None:
    number = _issue(hub)
    client = _client(hub)
    inspection = await client.inspect_referral(MO, number)
    assert inspection.mo_id == MO and inspection.kind is AppointmentKind.CONSULTATION
    assert inspection.patient_id is not None
    slots = await client.get_referral_slots(MO, EYE_DOCTOR, inspection.patient_id, TODAY, TODAY + timedelta(days=6))
    assert slots and slots[0].start.date() == DAY_AFTER
    with pytest.raises(ReferralRequired):  # the narrow specialist without the referral
        await client.book(MO, inspection.patient_id, slots[0].id, channel=BookingChannel.INTERNET)
    result = await client.book(
        MO, inspection.patient_id, slots[0].id, channel=BookingChannel.DOCTOR, referral_id=number
    )
    assert result.specialist_type is SpecialistType.NARROW
    assert (await client.check_referral(number)).status is ReferralStatus.BOOKED
    # the booked slot is gone from the referral's slots; a second booking on the same referral is refused
    again = await client.get_referral_slots(MO, EYE_DOCTOR, inspection.patient_id, TODAY, TODAY + timedelta(days=6))
    assert slots[0].id not in {s.id for s in again}
    with pytest.raises(ReferralInvalid):
        await client.book(MO, inspection.patient_id, again[0].id, channel=BookingChannel.INTERNET, referral_id=number)
    # cancelled by the patient: the referral is usable again
    await client.cancel(MO, inspection.patient_id, slots[0].id)
    assert (await client.check_referral(number)).status is ReferralStatus.ISSUED


async def test_referral_of_another_patient_or_specialty_or_expired_or_cancelled_is_invalid(hub: Hub) -> None:
    client = _client(hub)
    patient = await hub.patient(0)
    slot = (await client.get_referral_slots(MO, EYE_DOCTOR, patient, TODAY, TODAY + timedelta(days=6)))[0]
    cases = {
        "другому пациенту": _issue(hub, 1),
        "другому специалисту": _issue(hub, specialty_code="27"),
        "другую медицинскую организацию": _issue(hub, target_mo_id=OTHER_MO),
        "срок действия": _issue(hub, valid_days=0, issued_on=TODAY - timedelta(days=1)),
    }
    cancelled = _issue(hub)
    cancel_referral(hub.state, cancelled)
    for reason, number in cases.items():
        with pytest.raises(ReferralInvalid) as exc:
            await client.book(MO, patient, slot.id, channel=BookingChannel.INTERNET, referral_id=number)
        assert exc.value.code == HubErrorCode.REFERRAL_INVALID and reason in exc.value.message
    with pytest.raises(ReferralInvalid):
        await client.book(MO, patient, slot.id, channel=BookingChannel.INTERNET, referral_id=cancelled)
    assert (await client.check_referral(cancelled)).status is ReferralStatus.CANCELLED
    with pytest.raises(ReferralInvalid):
        await client.inspect_referral(OTHER_MO, cases["срок действия"])
    assert hub.state.active_booking(slot.id) is None  # nothing was booked


async def test_requests_follow_the_wcf_shape(hub: Hub) -> None:
    number = _issue(hub)
    seen: list[bytes] = []

    async def on_request(request: object) -> None:
        seen.append(request.content)  # type: ignore[attr-defined]

    hub.http.event_hooks = {"request": [on_request]}
    await _client(hub).inspect_referral(MO, number)
    body = seen[-1].decode()
    assert "<tem:InspectDoctorsReferal>" in body
    assert body.index("<tem:idLpu>") < body.index("<tem:doctorsReferal>") < body.index("<tem:guid>")
