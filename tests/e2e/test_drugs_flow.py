"""Issue 23 end to end, over HTTP with the clients' own documents: a beneficiary with diabetes logs in through
ESIA and sees their right (categories, the НСУ deadline) and a metformin prescription; no pharmacy has it,
so they put it on deferred service at a pharmacy the search offers; when the simulator restocks that
pharmacy they are told it arrived, and after the pharmacy dispenses (partly, then fully) they see it
dispensed. They ask their doctor to renew it and receive the new prescription; a Schedule II prescription
is refused renewal with a typed problem; they order a certificate and find it in their documents and
vault; a kiosk prints the new prescription's code with the pharmacy list."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from backend.drugs import service
from backend.runtime import Runtime
from integrations.llo.simulator import MORPHINE
from tests.e2e.test_login_flow import _exchange, _login
from tests.support.client import gql
from tests.support.documents import demo_person, use_clock
from tests.support.drugs import DIABETIC_SNILS, llo_state, notified
from tests.support.identity import auth_headers, identity_client, kiosk_session_token

ROOT = Path(__file__).resolve().parents[2] / "graphql"


def doc(client: str, name: str) -> str:
    return (ROOT / client / f"{name}.graphql").read_text(encoding="utf-8")


async def call(http: httpx.AsyncClient, client: str, name: str, headers: dict[str, str], **variables: Any) -> Any:
    body = await gql(http, doc(client, name), variables, headers=headers)
    assert not body.get("errors"), body
    return body["data"]


def key() -> str:
    return uuid.uuid4().hex


async def test_preferential_drugs_end_to_end(runtime: Runtime) -> None:
    use_clock(runtime)
    person = demo_person(1, with_rights=True)
    assert person.snils == DIABETIC_SNILS
    state = llo_state(runtime)
    async with identity_client(runtime) as http:
        login = await _login(http, person.esia_oid)
        tokens = (await _exchange(http, login["query"]["code"], login["verifier"])).json()
        me = auth_headers(tokens["access_token"])
        await runtime.relay.drain()

        right = (await call(http, "mobile", "MyDrugEntitlement", me))["myDrugEntitlement"]
        assert right["beneficiary"] and {c["code"] for c in right["categories"]} == {"083", "R01"}
        assert right["nsu"]["deadline"].endswith("-10-01") and "178-ФЗ" in right["nsu"]["law"]

        listed = (await call(http, "mobile", "MyPrescriptions", me))["myPrescriptions"]
        metformin = next(p for p in listed["prescriptions"] if p["mnn"] == "Метформин")
        assert metformin["status"] == "ISSUED" and metformin["preferential"] and metformin["renewable"]
        assert metformin["daysLeft"] == 83  # written 7 days ago, valid 90 days
        assert metformin["qrPayload"].endswith(metformin["barcode"])
        report = await service.sync_events(runtime)  # the feed announces the prescriptions written
        assert report.notified == 3

        found = await call(http, "mobile", "PharmacyAvailability", me, prescriptionId=metformin["id"])
        found = found["pharmacyAvailability"]
        assert found["inStock"] == [] and found["deferralOptions"]
        distances = [p["distanceKm"] for p in found["deferralOptions"]]
        assert distances == sorted(distances)
        chosen = found["deferralOptions"][0]["id"]

        deferred = await call(
            http, "mobile", "DeferPrescription", me, prescriptionId=metformin["id"], pharmacyId=chosen,
            idempotencyKey=key(),
        )  # fmt: skip
        deferral = deferred["deferPrescription"]["prescription"]["deferral"]
        assert deferral["pharmacyId"] == chosen and deferral["dueOn"] and deferral["arrivedOn"] is None

        # The regional warehouse delivers: the deferred queue at that pharmacy is served first.
        upstream = next(p for p in state.prescriptions.values() if p.drug.mnn == "Метформин")
        assert [p.id for p in state.restock(chosen, upstream.drug, 60)] == [upstream.id]
        await service.sync_events(runtime)
        patient_id = await _patient_id(http, me)
        events = [e for e, _ in await notified(runtime, patient_id)]
        assert events.count("prescription.drug_arrived") == 1
        state.dispense(upstream.id, chosen, 20)
        await service.sync_events(runtime)
        partly = await _prescription(http, me, metformin["id"])
        assert partly["status"] == "PARTIALLY_DISPENSED" and partly["dispensedQuantity"] == 20
        state.dispense(upstream.id, chosen, 40)
        await service.sync_events(runtime)
        assert (await _prescription(http, me, metformin["id"]))["status"] == "DISPENSED"

        # A renewal without a visit: the doctor issues a new prescription.
        renewal = await call(
            http, "mobile", "RequestPrescriptionRenewal", me, prescriptionId=metformin["id"], idempotencyKey=key()
        )
        request_id = renewal["requestPrescriptionRenewal"]["request"]["id"]
        state.decide(renewal["requestPrescriptionRenewal"]["request"]["number"])
        assert (await service.sync_requests(runtime)).changed == 1
        requests = (await call(http, "mobile", "MyDrugRequests", me))["myDrugRequests"]
        done = next(r for r in requests if r["id"] == request_id)
        assert done["status"] == "ISSUED" and [s["status"] for s in done["history"]][-1] == "ISSUED"
        fresh = [
            p for p in (await call(http, "mobile", "MyPrescriptions", me))["myPrescriptions"]["prescriptions"]
            if p["mnn"] == "Метформин" and p["status"] == "ISSUED"
        ]  # fmt: skip
        assert len(fresh) == 1 and fresh[0]["id"] != metformin["id"] and fresh[0]["daysLeft"] == 90

        # Schedule II drugs are never renewed without a visit.
        state.issue(DIABETIC_SNILS, MORPHINE, quantity=10, valid_days=15, benefit_code="083", chronic=True)
        morphine = next(
            p for p in (await call(http, "mobile", "MyPrescriptions", me))["myPrescriptions"]["prescriptions"]
            if p["mnn"] == "Морфин"
        )  # fmt: skip
        assert morphine["renewable"] is False
        refused = await call(
            http, "mobile", "RequestPrescriptionRenewal", me, prescriptionId=morphine["id"], idempotencyKey=key()
        )
        assert refused["requestPrescriptionRenewal"]["code"] == "RENEWAL_NOT_ALLOWED"

        # A certificate from the catalogue ends in the person's documents and vault.
        catalogue = (await call(http, "mobile", "CertificateCatalogue", {}))["certificateCatalogue"]
        assert {"DRIVING", "SPORTS", "SCHOOL", "OUTPATIENT_EXTRACT", "TAX_DEDUCTION"} <= {c["kind"] for c in catalogue}
        ordered = await call(
            http, "mobile", "RequestCertificate", me, input={"kind": "TAX_DEDUCTION", "taxYear": 2025},
            idempotencyKey=key(),
        )  # fmt: skip
        submitted = ordered["requestCertificate"]["request"]
        state.decide(submitted["number"])
        await service.sync_requests(runtime)
        requests = (await call(http, "mobile", "MyDrugRequests", me))["myDrugRequests"]
        certificate = next(r for r in requests if r["id"] == submitted["id"])
        assert certificate["status"] == "ISSUED" and certificate["resultDocumentId"]
        opened = await call(http, "mobile", "MedicalDocument", me, id=certificate["resultDocumentId"])
        assert "налоговый орган" in str(opened)
        vault = (await call(http, "mobile", "MyVault", me))["myVault"]
        assert certificate["resultDocumentId"] in {d["id"] for d in vault["registerDocuments"]}
        events = [e for e, _ in await notified(runtime, patient_id)]
        assert events.count("drug_request.status_changed") == 2

        # A kiosk prints the new prescription's code and the pharmacies.
        kiosk = auth_headers(await kiosk_session_token(runtime, patient_id))
        printed = await http.get(f"/api/v1/drugs/prescriptions/{fresh[0]['id']}.pdf", headers=kiosk)
        assert printed.status_code == 200 and printed.content.startswith(b"%PDF")
        other = await http.get(f"/api/v1/drugs/prescriptions/{uuid.uuid4()}.pdf", headers=kiosk)
        assert other.status_code == 404


async def _prescription(http: httpx.AsyncClient, me: dict[str, str], prescription_id: str) -> dict[str, Any]:
    listed = (await call(http, "mobile", "MyPrescriptions", me))["myPrescriptions"]["prescriptions"]
    return next(p for p in listed if p["id"] == prescription_id)


async def _patient_id(http: httpx.AsyncClient, me: dict[str, str]) -> uuid.UUID:
    body = await gql(http, "{ me { id } }", {}, headers=me)
    return uuid.UUID(body["data"]["me"]["id"])
