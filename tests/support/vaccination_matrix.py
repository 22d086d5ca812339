"""The vaccination domain's rows of the authorization matrix (tests/integration/identity/test_matrix.py).

The matrix module passes itself in (its ``Row`` helpers, principals and outcomes), so these rows are built
with the same helpers without a circular import.
"""

from __future__ import annotations

import uuid
from datetime import date
from types import ModuleType
from typing import Any

from backend.identity import policy, tokens
from backend.runtime import Runtime
from backend.vaccination.models import VaccinationRecordRow, VaccinationRegisterState


async def _a_recorded_vaccination(runtime: Runtime, world: Any, principal: Any) -> None:
    """T has one vaccination on record (imported from the register), so a certificate can list it."""
    at = tokens.now(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            VaccinationRecordRow(
                id=uuid.uuid4(), patient_id=world.target, source="register", source_id=uuid.uuid4().hex,
                given_on=date(2020, 10, 1), vaccine="influenza", nsi_code="106", trade_name="Ультрикс Квадри",
                infections=["influenza"], dose_number=None, lot="123-20", clinic=None, performer=None, imported_at=at,
            )
        )  # fmt: skip
        if await session.get(VaccinationRegisterState, world.target) is None:
            session.add(VaccinationRegisterState(patient_id=world.target, imported_at=at, attempted_at=at))


def vaccination_rows(m: ModuleType) -> dict[str, Any]:
    P, O = m.P, m.O  # noqa: E741 - the matrix's own names
    certificate = {
        **dict.fromkeys(P, O.DENY),
        P.PATIENT: O.ALLOW,
        P.PROXY: O.ALLOW,
        P.KIOSK: O.ALLOW,  # the patient in person prints it
        P.ANONYMOUS: O.UNAUTH,
    }  # operators never issue one (not even with the caller's SMS code)
    return {
        # The vaccination scope: patients and proxies with it, the 122 operator for a caller (the calendar and
        # booking); a kiosk session only prints the certificate.
        "myVaccinations": m.standard(
            "query($t: UUID) { myVaccinations(actingFor: $t) { records { id } exemptions { id } } }",
            m._t,
            policy.SCOPE_VACCINATION,
        ),
        "vaccinationCalendar": m.standard(
            "query($t: UUID) { vaccinationCalendar(actingFor: $t) { on items { status } } }",
            m._t,
            policy.SCOPE_VACCINATION,
            lambda w, d: bool(d["items"]),
        ),
        "vaccinationCertificates": m.standard(
            "query($t: UUID) { vaccinationCertificates(actingFor: $t) { id } }", m._t, policy.SCOPE_VACCINATION
        ),
        # The matrix hub's region has no vaccination room: an allowed call ends at the room check, past the
        # policy (the whole booking is proven by tests/e2e/test_vaccination.py).
        "bookVaccination": m.standard(
            'mutation($s: String, $k: String!, $t: UUID) { bookVaccination(infection: "diphtheria", slot: $s, '
            f"idempotencyKey: $k, actingFor: $t) {{ {m.PROBLEM} }} }}",
            m._keyed(s=lambda w: w.free_slot),
            policy.SCOPE_VACCINATION,
            policy_only=frozenset({"VACCINATION_NOT_A_VACCINATION_ROOM"}),
        ),
        "issueVaccinationCertificate": m.Row(
            "mutation($k: String!, $t: UUID) { issueVaccinationCertificate(idempotencyKey: $k, actingFor: $t) { "
            f"{m.PROBLEM} ... on VaccinationCertificateIssued {{ certificate {{ id vaccinations }} }} }} }}",
            m._keyed(),
            certificate,
            check=lambda w, d: (
                d["__typename"] == "VaccinationCertificateIssued" and d["certificate"]["vaccinations"] == 1
            ),
            prepare=_a_recorded_vaccination,
        ),
        # Staff only: a staff login, not an operator's session for a caller, not a patient.
        "vaccinationCoverage": m.only(
            {P.OPERATOR},
            'query { vaccinationCoverage(on: "2025-03-03") { ageGroup people coverage } }',
            lambda w: {},
        ),
    }
