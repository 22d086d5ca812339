"""The drugs domain's rows of the authorization matrix (``tests/integration/identity/test_matrix.py`` passes
its row builders in). Each principal's world gets T on the ЛЛО register (the in-process simulator) with a
metformin prescription the doctor has just written, and its mirror row (as after ``myPrescriptions``), so
every allowed call succeeds: the search finds no stock and offers deferral, the deferral is accepted, the
renewal and the certificate are sent to the clinic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backend.drugs import service
from backend.identity import policy
from backend.identity.service import get_patient
from backend.runtime import Runtime
from integrations.llo.simulator import METFORMIN
from tests.support.drugs import llo_state, preferential_pharmacy

PROBLEM = "__typename ... on Problem { code }"


async def drugs_world(runtime: Runtime, world: Any, principal: Any) -> None:
    async with runtime.sessionmaker() as session:
        patient = await get_patient(session, world.target)
    assert patient is not None and patient.snils
    state = llo_state(runtime)
    state.enrol(patient.snils, "R01", latitude=45.04, longitude=41.97)
    state.issue(patient.snils, METFORMIN, quantity=60, valid_days=90, benefit_code="R01", chronic=True)
    rows = (await service.list_prescriptions(runtime, world.target)).rows
    world.extra["drug_prescription"] = str(next(r.id for r in rows if r.mnn == "Метформин"))
    world.extra["pharmacy"] = preferential_pharmacy(runtime)


def _rx(w: Any) -> str:
    return str(w.extra["drug_prescription"])


def rows(
    *,
    standard: Callable[..., Any],
    only: Callable[..., Any],
    public: Callable[[str], Any],
    is_type: Callable[[str], Any],
    keyed: Callable[..., Any],
    operator: Any,
) -> dict[str, Any]:
    scope = policy.SCOPE_DRUGS

    def t(w: Any) -> dict[str, Any]:
        return {"t": str(w.target)}

    def mutation(field_name: str, arguments: str, declarations: str) -> str:
        return (
            f"mutation({declarations}, $k: String!, $t: UUID) {{ {field_name}({arguments}, idempotencyKey: $k, "
            f"actingFor: $t) {{ {PROBLEM} }} }}"
        )

    return {
        "certificateCatalogue": public("the catalogue of certificates: reference data"),
        "myDrugEntitlement": standard(
            f"query($t: UUID) {{ myDrugEntitlement(actingFor: $t) {{ {PROBLEM} ... on DrugEntitlement "
            "{ beneficiary categories { code } } } }",
            t,
            scope,
            check=lambda w, d: d.get("beneficiary") is True and [c["code"] for c in d["categories"]] == ["R01"],
            prepare=drugs_world,
        ),
        "myPrescriptions": standard(
            f"query($t: UUID) {{ myPrescriptions(actingFor: $t) {{ {PROBLEM} ... on PrescriptionList "
            "{ prescriptions { id } } } }",
            t,
            scope,
            check=lambda w, d: [p["id"] for p in d["prescriptions"]] == [_rx(w)],
            prepare=drugs_world,
        ),
        "pharmacyAvailability": standard(
            f"query($p: UUID!, $t: UUID) {{ pharmacyAvailability(prescriptionId: $p, actingFor: $t) {{ {PROBLEM} "
            "... on PharmacyAvailability { inStock { id } deferralOptions { id } } } }",
            lambda w: {"p": _rx(w), "t": str(w.target)},
            scope,
            check=lambda w, d: d["inStock"] == [] and w.extra["pharmacy"] in [p["id"] for p in d["deferralOptions"]],
            prepare=drugs_world,
        ),
        "myDrugRequests": standard(
            "query($t: UUID) { myDrugRequests(actingFor: $t) { id status } }", t, scope, check=lambda w, d: d == []
        ),
        "drugRequestsKpi": only(
            {operator},
            "query($a: Date!, $b: Date!) { drugRequestsKpi(dateFrom: $a, dateTo: $b) { total } }",
            lambda w: {"a": "2025-03-01", "b": "2025-03-31"},
        ),
        "deferPrescription": standard(
            mutation("deferPrescription", "prescriptionId: $p, pharmacyId: $f", "$p: UUID!, $f: String!"),
            keyed(p=_rx, f=lambda w: w.extra["pharmacy"]),
            scope,
            is_type("PrescriptionDeferred"),
            prepare=drugs_world,
        ),
        "requestPrescriptionRenewal": standard(
            mutation("requestPrescriptionRenewal", "prescriptionId: $p", "$p: UUID!"),
            keyed(p=_rx),
            scope,
            is_type("DrugRequestSubmitted"),
            prepare=drugs_world,
        ),
        "requestCertificate": standard(
            mutation("requestCertificate", "input: $i", "$i: CertificateRequestInput!"),
            keyed(i=lambda w: {"kind": "SPORTS", "purpose": "Секция плавания"}),
            scope,
            is_type("DrugRequestSubmitted"),
            prepare=drugs_world,
        ),
    }
