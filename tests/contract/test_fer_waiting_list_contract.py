"""Contract of the hub's waiting list: ``SetWaitingList`` → ``GuidClaim``, the real client against the simulator
(the fixtures of test_fer_contract: the same region, clock, guid and wire)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from lxml import etree

from integrations.fer import HubError, HubErrorCode, PatientNotFound, soap
from integrations.fer.waiting_list import (
    ClaimType,
    FerWaitingListClient,
    WaitingListClaim,
    WaitingListHub,
    claims_of,
    waiting_list_hub,
)
from tests.contract.test_fer_contract import DAY_AFTER, EYE_DOCTOR, MO, OTHER_MO, TODAY, Hub, hub, region

__all__ = ["hub", "region"]


def _claim(patient: str, **changes: object) -> WaitingListClaim:
    values: dict[str, object] = {
        "mo_id": MO,
        "patient_id": patient,
        "specialty_id": "65",
        "doctor_id": EYE_DOCTOR,
        "start": DAY_AFTER,
        "end": DAY_AFTER + timedelta(days=10),
        "claim_type": ClaimType.NO_TICKETS,
        "phone": "+79001234567",
        "info": "Удобно после 10:00",
    }
    values.update(changes)
    return WaitingListClaim(**values)  # type: ignore[arg-type]


async def test_set_waiting_list_answers_a_guid_claim_and_the_hub_keeps_it(hub: Hub) -> None:
    waiting = waiting_list_hub(hub.client)
    assert isinstance(waiting, FerWaitingListClient) and isinstance(waiting, WaitingListHub)
    assert waiting_list_hub(hub.client) is waiting  # one per hub
    patient = await hub.patient(0)
    guid = await waiting.set_waiting_list(_claim(patient))
    assert uuid.UUID(guid)
    [kept] = claims_of(hub.state)
    assert (kept.guid, kept.mo_id, kept.patient_id, kept.specialty_id, kept.doctor_id) == (
        guid,
        MO,
        patient,
        "65",
        EYE_DOCTOR,
    )
    assert (kept.start.date(), kept.end.date(), kept.claim_type, kept.phone) == (
        DAY_AFTER,
        DAY_AFTER + timedelta(days=10),
        ClaimType.NO_TICKETS,
        "+79001234567",
    )
    # On the wire: SOAPAction, the parameters in order, the range as RulesOfWaitingList{End, Start}.
    request = hub.wire.requests[-1]
    assert request.headers["SOAPAction"] == soap.soap_action("SetWaitingList")
    op = etree.fromstring(request.content)[0][0]
    names = [etree.QName(el).localname for el in op]
    assert names == ["idLpu", "idPat", "idSpesiality", "idDoc", "rule", "claimType", "info", "phone", "guid"]
    rule = op[4]
    assert [etree.QName(el).localname for el in rule] == ["End", "Start"]
    assert rule[1].text == f"{DAY_AFTER.isoformat()}T00:00:00"


async def test_any_doctor_of_the_specialty(hub: Hub) -> None:
    patient = await hub.patient(1)
    await waiting_list_hub(hub.client).set_waiting_list(_claim(patient, doctor_id=None))
    assert claims_of(hub.state)[-1].doctor_id is None


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"specialty_id": "999"}, HubErrorCode.SPECIALTY_NOT_FOUND),
        ({"doctor_id": "doc-nobody"}, HubErrorCode.DOCTOR_NOT_FOUND),
        ({"start": DAY_AFTER, "end": TODAY - timedelta(days=1)}, HubErrorCode.BAD_REQUEST),
        ({"phone": ""}, HubErrorCode.BAD_REQUEST),
    ],
)
async def test_refusals(hub: Hub, changes: dict[str, object], code: HubErrorCode) -> None:
    patient = await hub.patient(2)
    with pytest.raises(HubError) as refused:
        await waiting_list_hub(hub.client).set_waiting_list(_claim(patient, **changes))
    assert refused.value.code == code
    assert claims_of(hub.state) == []


async def test_patient_unknown_in_the_clinic(hub: Hub) -> None:
    patient = await hub.patient(3, mo_id=OTHER_MO)  # known in another clinic only
    with pytest.raises(PatientNotFound):
        await waiting_list_hub(hub.client).set_waiting_list(_claim(patient))
