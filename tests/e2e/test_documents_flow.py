"""Issue 17 end to end, over HTTP with the clients' own documents: a patient logs in through ESIA (the
login syncs their documents), sees a new consultation protocol appear once the register has registered it
(the periodic job), opens it, verifies its signatures and downloads the original, adds an allergy, opens
the profile to a doctor for 24 hours; the doctor (a staff login with TOTP) reads it; the patient sees the
read in myAccessLog with the doctor's name, revokes, and the doctor's next read is refused."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp

from backend.documents import service as documents
from backend.runtime import Runtime
from integrations.iemk import RegistrationStatus, verify_detached
from tests.e2e.test_login_flow import _exchange, _login, _refresh
from tests.support.client import gql
from tests.support.documents import DOCTOR_PASSWORD, demo_person, iemk_state, make_doctor, use_clock
from tests.support.identity import auth_headers, identity_client

ROOT = Path(__file__).resolve().parents[2] / "graphql"
DOCTOR_SNILS = "112-233-445 95"


def doc(client: str, name: str) -> str:
    return (ROOT / client / f"{name}.graphql").read_text(encoding="utf-8")


async def call(http: httpx.AsyncClient, client: str, name: str, headers: dict[str, str], **variables: Any) -> Any:
    body = await gql(http, doc(client, name), variables, headers=headers)
    assert not body.get("errors"), body
    return body["data"]


async def test_documents_profile_and_doctor_access_end_to_end(runtime: Runtime) -> None:
    clock = use_clock(runtime)
    person = demo_person(0)
    async with identity_client(runtime) as http:
        # Login: ESIA, our code, our tokens; the login syncs the documents already registered (quietly).
        login = await _login(http, person.esia_oid)
        tokens = (await _exchange(http, login["query"]["code"], login["verifier"])).json()
        me = auth_headers(tokens["access_token"])
        await runtime.relay.drain()
        first = await call(http, "mobile", "MyDocuments", me, first=50)
        before = [e["node"] for e in first["myDocuments"]["edges"]]
        assert len(before) >= 4 and all(d["contentStatus"] == "OK" for d in before)
        assert [d["createdAt"] for d in before] == sorted((d["createdAt"] for d in before), reverse=True)

        # The clinic's MIS submits a consultation protocol; the register takes 10 minutes to register it.
        register = iemk_state(runtime)
        accepted = register.register_document(snils=person.snils, kind="119", delay=timedelta(minutes=10))
        assert accepted.status is RegistrationStatus.ACCEPTED
        clock.advance(minutes=5)
        synced = await call(http, "mobile", "SyncMyDocuments", me)
        assert synced["syncMyDocuments"] == {"__typename": "DocumentsSynced", "added": 0}

        # Past the registration and the sync interval, the periodic job finds it and announces it.
        clock.advance(minutes=31)
        tokens = (await _refresh(http, tokens["refresh_token"])).json()  # the app refreshes its access token
        me = auth_headers(tokens["access_token"])
        reports = await documents.sync_due(runtime)
        assert [(r.ok, r.added, r.announced) for r in reports] == [(True, 1, 1)]
        await runtime.relay.drain()
        listed = await call(http, "mobile", "MyDocuments", me, first=2)
        newest = listed["myDocuments"]["edges"][0]["node"]
        assert newest["kind"] == "119" and newest["title"] == "Протокол консультации"
        assert newest["registryNumber"] not in {d["registryNumber"] for d in before}
        assert listed["myDocuments"]["pageInfo"]["hasNextPage"] is True
        inbox = await call(http, "mobile", "MyInbox", me)
        assert [i["event"] for i in inbox["myInbox"]].count("document.ready") == 1

        # Open it: our reading of the CDA, each signature verified with its signer and time.
        opened = (await call(http, "mobile", "MedicalDocument", me, id=newest["id"]))["medicalDocument"]
        assert opened["state"] == "OK" and opened["message"] is None
        assert opened["patientName"].startswith(person.last_name)
        assert any(s["fields"] for s in opened["sections"])
        assert {s["role"] for s in opened["signatures"]} == {"doctor", "organization"}
        assert opened["signaturesValid"] is True
        assert all(s["valid"] and s["signer"] and s["signedAt"] for s in opened["signatures"])
        assert opened["signatures"][0]["signer"] == newest["authorName"]

        # The original with its signatures, over REST: the signatures verify over the bytes we got.
        original = await http.get(newest["downloadUrl"], headers=me)
        assert original.status_code == 200, original.text
        with zipfile.ZipFile(io.BytesIO(original.content)) as archive:
            cda = archive.read("document.xml")
            signatures = [archive.read(n) for n in archive.namelist() if n.endswith(".sig")]
        assert len(signatures) == 2 and all(verify_detached(cda, s).ok for s in signatures)

        # The patient adds an allergy in their own words.
        added = await call(
            http, "mobile", "AddProfileEntry", me,
            input={"kind": "ALLERGY", "text": "Пенициллин: крапивница", "code": "Z88.0"},
            idempotencyKey=uuid.uuid4().hex,
        )  # fmt: skip
        assert added["addProfileEntry"]["__typename"] == "ProfileEntryAdded"
        profile = (await call(http, "mobile", "MedicalProfile", me))["medicalProfile"]
        own = [a for a in profile["allergies"] if a["fromPatient"]]
        assert [(a["text"], a["source"]) for a in own] == [("Пенициллин: крапивница", "Со слов пациента")]
        assert profile["chronicConditions"] or profile["vitals"]  # the documents' facts are there too

        # Shared with a doctor, by SNILS, for 24 hours: the profile and the new protocol.
        doctor = await make_doctor(runtime, snils=DOCTOR_SNILS, full_name="Айболитова Мария Ивановна")
        granted = await call(
            http, "mobile", "GrantDocumentAccess", me,
            input={"hours": 24, "doctorSnils": DOCTOR_SNILS, "includeProfile": True, "documentIds": [newest["id"]]},
            idempotencyKey=uuid.uuid4().hex,
        )  # fmt: skip
        grant = granted["grantDocumentAccess"]["grant"]
        assert grant["active"] is True and grant["oneTimeCode"] is None

        # The doctor logs in like a 122 operator (password + TOTP) and reads what was shared.
        login_doctor = await call(
            http, "callcentre", "StaffLogin", {},
            login=doctor.login, password=DOCTOR_PASSWORD, totpCode=pyotp.TOTP(doctor.totp_secret).at(clock.now),
        )  # fmt: skip
        session = login_doctor["staffLogin"]
        assert session["__typename"] == "StaffSession" and session["operator"]["role"] == "doctor"
        as_doctor = auth_headers(session["accessToken"])
        shared = (await call(http, "callcentre", "DoctorSharedPatients", as_doctor))["doctorSharedPatients"]
        assert [s["grantId"] for s in shared] == [grant["id"]]
        record = (await call(http, "callcentre", "DoctorSharedRecord", as_doctor, grantId=grant["id"]))[
            "doctorSharedRecord"
        ]
        assert "Пенициллин: крапивница" in [a["text"] for a in record["profile"]["allergies"]]
        assert [d["id"] for d in record["documents"]] == [newest["id"]]
        read = await call(
            http, "callcentre", "DoctorSharedDocument", as_doctor, grantId=grant["id"], documentId=newest["id"]
        )
        assert read["doctorSharedDocument"]["signaturesValid"] is True
        not_shared = await gql(
            http, doc("callcentre", "DoctorSharedDocument"), {"grantId": grant["id"], "documentId": before[0]["id"]},
            headers=as_doctor,
        )  # fmt: skip
        assert not_shared["errors"][0]["extensions"]["code"] == "DOCUMENT_NOT_FOUND"

        # The patient sees the doctor's reads, with the doctor's name.
        log = (await call(http, "mobile", "MyAccessLog", me))["myAccessLog"]
        doctor_lines = [line for line in log if line["actor"] == "Врач: Айболитова Мария Ивановна"]
        assert {line["action"] for line in doctor_lines} >= {
            "Врач просмотрел медицинский профиль",
            "Врач просмотрел медицинский документ",
        }

        # Revoked: the doctor's next read is refused, and nothing of the patient is in the answer.
        revoked = await call(http, "mobile", "RevokeDocumentAccess", me, grantId=grant["id"])
        assert revoked["revokeDocumentAccess"]["grant"]["active"] is False
        refused = await gql(http, doc("callcentre", "DoctorSharedRecord"), {"grantId": grant["id"]}, headers=as_doctor)
        assert refused["data"] is None
        assert refused["errors"][0]["extensions"]["code"] == "ACCESS_GRANT_NOT_FOUND"
        assert person.last_name not in str(refused)
        assert (await call(http, "callcentre", "DoctorSharedPatients", as_doctor))["doctorSharedPatients"] == []
        log = (await call(http, "mobile", "MyAccessLog", me))["myAccessLog"]
        assert "Врачу отказано в доступе" in [line["action"] for line in log]
