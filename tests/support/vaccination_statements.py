"""The vaccination domain's statement-count scenarios (tests/integration/api/test_statement_counts.py): the
same number of statements for a patient with one vaccination and with four (and one certificate or three)."""

from __future__ import annotations

import uuid
from datetime import date

from backend.core.uow import UnitOfWork
from backend.identity import tokens
from backend.runtime import Runtime
from backend.vaccination import service
from backend.vaccination.models import VaccinationRecordRow, VaccinationRegisterState
from tests.support.booking import ctx_for
from tests.support.identity import auth_headers, make_patient, operator_token, token_for
from tests.support.statements import Scenario, Setup

VACCINES = (("dtp", "103", ["diphtheria", "pertussis", "tetanus"]), ("mmr", "104", ["measles", "rubella", "mumps"]))


async def _vaccinated(runtime: Runtime, records: int, *, born: date = date(2020, 3, 1)) -> uuid.UUID:
    """A patient with ``records`` vaccinations from the register (imported just now)."""
    patient = await make_patient(runtime, birth_date=born)
    at = tokens.now(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        session.add(VaccinationRegisterState(patient_id=patient.id, imported_at=at, attempted_at=at))
        for n in range(records):
            vaccine, nsi, infections = VACCINES[n % 2]
            session.add(
                VaccinationRecordRow(
                    id=uuid.uuid4(), patient_id=patient.id, source="register", source_id=f"r{n}",
                    given_on=date(2020 + n, 6, 1), vaccine=vaccine, nsi_code=nsi, trade_name=None,
                    infections=infections, dose_number=None, lot=f"{n}-20", clinic="ГП № 1", performer=None,
                    imported_at=at,
                )
            )  # fmt: skip
    return patient.id


async def _records(runtime: Runtime) -> Setup:
    one, four = await _vaccinated(runtime, 1), await _vaccinated(runtime, 4)
    return {}, {}, auth_headers(token_for(runtime, one)), auth_headers(token_for(runtime, four))


async def _certificates(runtime: Runtime) -> Setup:
    one, four = await _vaccinated(runtime, 2), await _vaccinated(runtime, 2)
    for patient, count in ((one, 1), (four, 3)):
        for _ in range(count):
            async with UnitOfWork(runtime, ctx_for(patient)) as uow:
                await service.issue_certificate(uow, patient, None)
    return {}, {}, auth_headers(token_for(runtime, one)), auth_headers(token_for(runtime, four))


async def _coverage(runtime: Runtime) -> Setup:
    await _vaccinated(runtime, 1)
    staff = auth_headers(await operator_token(runtime))
    few = {"on": "2026-01-01"}
    for born in (date(1990, 1, 1), date(2015, 5, 5), date(2024, 2, 2)):
        await _vaccinated(runtime, 4, born=born)
    return few, few, staff


def vaccination_scenarios() -> tuple[Scenario, ...]:
    return (
        Scenario("MyVaccinations", _records),
        Scenario("VaccinationCalendar", _records),
        Scenario("VaccinationCertificates", _certificates),
        Scenario("VaccinationCoverage", _coverage),
    )


#: Statements per operation (the audit row of a medical read is written alone and counted).
VACCINATION_STATEMENTS: dict[str, int] = {
    # the import state, then the patient, register records, exemptions, import state, documents; the audit row
    "MyVaccinations": 7,
    "VaccinationCalendar": 9,  # and the vaccination bookings with the booking core's appointments
    "VaccinationCertificates": 2,  # the certificates; the audit row
    "VaccinationCoverage": 7,  # the staff session, the people known, then the same five reads for all of them
}
