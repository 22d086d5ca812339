"""Who may read what: the patient and a proxy with the documents scope; not another patient, not a proxy
without the scope, not a 122 operator (who sees only that documents exist), not a kiosk; a doctor only
what a grant in force opens to them (by SNILS or a one-time code), never after it expired or was revoked.
Refusals leak nothing of the patient."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pyotp
import pytest

from backend.core.uow import UnitOfWork
from backend.documents import service as documents
from backend.identity import policy
from tests.integration.documents.conftest import World
from tests.support.booking import ctx_for
from tests.support.client import app_client, gql
from tests.support.documents import DOCTOR_PASSWORD, doctor_token, make_doctor
from tests.support.identity import (
    auth_headers,
    grant_proxy,
    kiosk_session_token,
    make_patient,
    operator_on_behalf_token,
    token_for,
)

pytestmark = pytest.mark.dialect  # SQLite too: the embedded single-user demo reads documents

DOCTOR_SNILS = "112-233-445 95"
OTHER_DOCTOR_SNILS = "123-456-789 64"
DOCUMENT = "query($id: UUID!, $t: UUID) { medicalDocument(id: $id, actingFor: $t) { state patientName } }"
LIST = "query($t: UUID) { myDocuments(actingFor: $t) { edges { node { id title } } } }"
PROFILE = "query($t: UUID) { medicalProfile(actingFor: $t) { allergies { text } } }"
SUMMARY = "{ callerDocumentsSummary { total latestAt kinds { kind title count } } }"
RECORD = "query($g: UUID!) { doctorSharedRecord(grantId: $g) { patientName profile { allergies { text } } } }"
GRANT = (
    "mutation($i: DocumentAccessInput!, $k: String!) { grantDocumentAccess(input: $i, idempotencyKey: $k) "
    "{ __typename ... on DocumentAccessGranted { grant { id oneTimeCode active } } ... on Problem { code } } }"
)
CLAIM = (
    "mutation($c: String!) { claimDocumentAccess(code: $c) { __typename "
    "... on DocumentAccessClaimed { patient { grantId patientName } } ... on Problem { code } } }"
)


def _code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


def _leaks(body: Any, world: World) -> bool:
    text = json.dumps(body, ensure_ascii=False)
    return world.patient.last_name in text or str(world.patient.id) in text


async def _first_document(world: World) -> uuid.UUID:
    return (await documents.list_documents(world.runtime, world.patient.id, first=1))[0].id


async def test_patients_proxies_operators_and_kiosks(world: World) -> None:
    rt = world.runtime
    doc_id = str(await _first_document(world))
    other = await make_patient(rt)
    proxy = await make_patient(rt)
    narrow = await make_patient(rt)
    await grant_proxy(rt, world.patient.id, proxy.id, scopes={policy.SCOPE_DOCUMENTS})
    await grant_proxy(rt, world.patient.id, narrow.id, scopes={policy.SCOPE_BOOKING})
    target = {"id": doc_id, "t": str(world.patient.id)}
    patient = world.patient.id
    async with app_client(rt) as client:
        me = auth_headers(token_for(rt, world.patient.id))
        assert (await gql(client, DOCUMENT, {"id": doc_id}, headers=me))["data"]["medicalDocument"]["state"] == "OK"
        via_proxy = await gql(client, DOCUMENT, target, headers=auth_headers(token_for(rt, proxy.id)))
        assert via_proxy["data"]["medicalDocument"]["state"] == "OK"

        refused = {
            "another patient, actingFor": (DOCUMENT, target, token_for(rt, other.id)),
            "another patient, own id": (DOCUMENT, {"id": doc_id}, token_for(rt, other.id)),
            "a proxy without the documents scope": (DOCUMENT, target, token_for(rt, narrow.id)),
            "an operator for the patient": (DOCUMENT, {"id": doc_id}, await operator_on_behalf_token(rt, patient)),
            "an operator, the list": (LIST, {}, await operator_on_behalf_token(rt, patient)),
            "an operator, the profile": (PROFILE, {}, await operator_on_behalf_token(rt, world.patient.id)),
            "a kiosk for the patient": (DOCUMENT, {"id": doc_id}, await kiosk_session_token(rt, world.patient.id)),
            "a kiosk, the list": (LIST, {}, await kiosk_session_token(rt, world.patient.id)),
            "a kiosk, the existence view": (SUMMARY, {}, await kiosk_session_token(rt, world.patient.id)),
            "a patient, the existence view": (SUMMARY, {}, token_for(rt, world.patient.id)),
        }  # fmt: skip
        for why, (query, variables, token) in refused.items():
            body = await gql(client, query, variables, headers=auth_headers(token))
            assert body["data"] is None, why
            assert _code(body) in {"ACCESS_DENIED", "DOCUMENT_NOT_FOUND"}, (why, body)
            assert not _leaks(body, world), why

        # The 122 operator sees that documents exist: how many, which kinds, when; no content, no names.
        operator = auth_headers(await operator_on_behalf_token(rt, world.patient.id))
        summary = (await gql(client, SUMMARY, headers=operator))["data"]["callerDocumentsSummary"]
        rows = await documents.list_documents(rt, world.patient.id, first=100)
        assert summary["total"] == len(rows)
        assert {k["kind"] for k in summary["kinds"]} == {r.kind for r in rows}
        assert not _leaks(summary, world)

        # The original over REST: the patient yes; another patient, an operator, a kiosk no.
        url = f"/api/v1/documents/{doc_id}/original.zip"
        assert (await client.get(url, headers=me)).status_code == 200
        assert (await client.get(url, headers=auth_headers(token_for(rt, other.id)))).status_code == 404
        for token in (
            await operator_on_behalf_token(rt, world.patient.id),
            await kiosk_session_token(rt, world.patient.id),
        ):
            answer = await client.get(url, headers=auth_headers(token))
            assert answer.status_code == 403 and world.patient.last_name not in answer.text
        assert (await client.get(url)).status_code == 401


async def _grant(client: httpx.AsyncClient, world: World, **input: Any) -> dict[str, Any]:
    body = await gql(
        client,
        GRANT,
        {"i": {"hours": 24, **input}, "k": uuid.uuid4().hex},
        headers=auth_headers(token_for(world.runtime, world.patient.id)),
    )
    result: dict[str, Any] = body["data"]["grantDocumentAccess"]
    assert result["__typename"] == "DocumentAccessGranted", body
    return result["grant"]


async def test_doctor_access_by_snils_expires_and_is_refused_to_others(world: World) -> None:
    rt = world.runtime
    doctor = await make_doctor(rt, snils=DOCTOR_SNILS)
    stranger = await make_doctor(rt, snils=OTHER_DOCTOR_SNILS, full_name="Чужой Врач Иванович")
    async with app_client(rt) as client:
        grant = await _grant(client, world, doctorSnils=DOCTOR_SNILS)
        as_doctor = auth_headers(await doctor_token(rt, doctor.id))
        ok = await gql(client, RECORD, {"g": grant["id"]}, headers=as_doctor)
        assert ok["data"]["doctorSharedRecord"]["patientName"].startswith(world.patient.last_name)

        others = {
            "another doctor": auth_headers(await doctor_token(rt, stranger.id)),
            "an operator": auth_headers(await operator_on_behalf_token(rt, world.patient.id)),
            "a kiosk": auth_headers(await kiosk_session_token(rt, world.patient.id)),
            "the patient": auth_headers(token_for(rt, world.patient.id)),
        }
        for why, headers in others.items():
            body = await gql(client, RECORD, {"g": grant["id"]}, headers=headers)
            assert body["data"] is None and _code(body) in {"ACCESS_DENIED", "ACCESS_GRANT_NOT_FOUND"}, why
            assert not _leaks(body, world), why

        # A doctor is no call-centre operator: no on-behalf sessions.
        on_behalf = await gql(
            client,
            'mutation { openOnBehalfSession(birthDate: "1980-01-01", omsPolicy: "1") { __typename '
            "... on Problem { code } } }",
            headers=as_doctor,
        )
        assert on_behalf["data"]["openOnBehalfSession"]["code"] == "ACCESS_DENIED"

        # 24 hours later the grant has expired: refused, and nothing leaks.
        world.clock.advance(hours=24, seconds=1)
        as_doctor = auth_headers(await doctor_token(rt, doctor.id))
        expired = await gql(client, RECORD, {"g": grant["id"]}, headers=as_doctor)
        assert expired["data"] is None and _code(expired) == "ACCESS_GRANT_NOT_FOUND"
        assert not _leaks(expired, world)
        listed = await gql(client, "{ doctorSharedPatients { grantId } }", headers=as_doctor)
        assert listed["data"]["doctorSharedPatients"] == []


async def test_doctor_access_by_one_time_code(world: World) -> None:
    rt = world.runtime
    first = await make_doctor(rt, snils=DOCTOR_SNILS)
    second = await make_doctor(rt, snils=OTHER_DOCTOR_SNILS)
    async with app_client(rt) as client:
        grant = await _grant(client, world, includeProfile=True)
        code = grant["oneTimeCode"]
        assert code and len(code) == 14
        # The doctor logs in with password and TOTP, as a 122 operator does.
        login = await gql(
            client,
            "mutation($l: String!, $p: String!, $t: String!) { staffLogin(login: $l, password: $p, totpCode: $t) "
            "{ __typename ... on StaffSession { accessToken operator { role } } } }",
            {"l": first.login, "p": DOCTOR_PASSWORD, "t": pyotp.TOTP(first.totp_secret).at(world.clock.now)},
        )
        session = login["data"]["staffLogin"]
        assert session["operator"]["role"] == "doctor"
        as_first = auth_headers(session["accessToken"])
        wrong = await gql(client, CLAIM, {"c": "AAAA-BBBB-CCCC"}, headers=as_first)
        assert wrong["data"]["claimDocumentAccess"]["code"] == "ACCESS_GRANT_NOT_FOUND"
        claimed = await gql(client, CLAIM, {"c": code.lower()}, headers=as_first)
        assert claimed["data"]["claimDocumentAccess"]["patient"]["grantId"] == grant["id"]
        spent = await gql(client, CLAIM, {"c": code}, headers=auth_headers(await doctor_token(rt, second.id)))
        assert spent["data"]["claimDocumentAccess"]["code"] == "ACCESS_GRANT_NOT_FOUND"
        assert not _leaks(spent, world)
        record = await gql(client, RECORD, {"g": grant["id"]}, headers=as_first)
        assert record["data"]["doctorSharedRecord"]["profile"] is not None
        not_second = await gql(
            client, RECORD, {"g": grant["id"]}, headers=auth_headers(await doctor_token(rt, second.id))
        )
        assert _code(not_second) == "ACCESS_GRANT_NOT_FOUND"
        # Patients, operators and kiosks cannot claim codes.
        patient = await gql(client, CLAIM, {"c": code}, headers=auth_headers(token_for(rt, world.patient.id)))
        assert patient["data"]["claimDocumentAccess"]["code"] == "ACCESS_DENIED"


async def test_grant_validation(world: World) -> None:
    rt = world.runtime
    headers = auth_headers(token_for(rt, world.patient.id))
    async with app_client(rt) as client:
        cases = {
            "hours": {"hours": 0},
            "doctorSnils": {"hours": 24, "doctorSnils": "112-233-445 00"},
            "documentIds": {"hours": 24, "includeProfile": False},
        }
        for field, input in cases.items():
            body = await gql(client, GRANT, {"i": input, "k": uuid.uuid4().hex}, headers=headers)
            assert body["data"]["grantDocumentAccess"]["code"] == "INVALID_INPUT", field
        foreign = await gql(
            client, GRANT, {"i": {"hours": 1, "documentIds": [str(uuid.uuid4())]}, "k": "x"}, headers=headers
        )
        assert foreign["data"]["grantDocumentAccess"]["code"] == "DOCUMENT_NOT_FOUND"


async def test_profile_facts_own_words_and_the_emergency_subset(world: World) -> None:
    rt = world.runtime
    profile = await documents.medical_profile(rt, None, world.patient.id)
    assert profile.vaccinations and all(not v.source.patient for v in profile.vaccinations)
    assert profile.vitals
    assert await documents.emergency_profile(rt, world.patient.id) is None  # not shared until the patient chooses

    async with documents_unit(world) as uow:
        await documents.add_entry(
            uow, world.patient.id, kind="allergy", text="Пыльца березы", code=None, idempotency_key="a1"
        )
        again = await documents.add_entry(
            uow, world.patient.id, kind="allergy", text="Пыльца березы", code=None, idempotency_key="a1"
        )
        await documents.add_entry(
            uow, world.patient.id, kind="chronic_condition", text="Бронхиальная астма", code="J45", idempotency_key="c1"
        )
        await documents.set_emergency(
            uow,
            world.patient.id,
            documents.EmergencySettings(True, True, True, False, "Иванова Мария", "+7 928 000-00-01"),
        )
    profile = await documents.medical_profile(rt, None, world.patient.id)
    own = [a for a in profile.allergies if a.source.patient]
    assert [a.text for a in own] == ["Пыльца березы"] and own[0].entry_id == again.id
    emergency = await documents.emergency_profile(rt, world.patient.id, ctx=ctx_for(world.patient.id))
    assert emergency is not None
    assert "Пыльца березы, со слов пациента" in emergency.allergies
    assert "Бронхиальная астма (J45), со слов пациента" in emergency.chronic_conditions
    assert emergency.blood_group is None  # the patient chose not to share it
    assert (emergency.contact_name, emergency.contact_phone) == ("Иванова Мария", "+79280000001")


def documents_unit(world: World) -> UnitOfWork:
    return UnitOfWork(world.runtime, ctx_for(world.patient.id))


async def test_expiry_applies_to_grant_listing(world: World) -> None:
    rt = world.runtime
    async with app_client(rt) as client:
        await _grant(client, world, doctorSnils=DOCTOR_SNILS)
    views = await documents.patient_grants(rt, world.patient.id)
    assert [v.active_at(rt.now()) for v in views] == [True]
    world.clock.advance(hours=25)
    assert [v.active_at(rt.now()) for v in await documents.patient_grants(rt, world.patient.id)] == [False]
    assert timedelta(hours=24) == views[0].grant.expires_at - views[0].grant.created_at
