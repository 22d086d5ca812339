"""Simulator of the immunization register (the FHIR-modelled contract of :mod:`.protocol`) over a demo
:class:`Region`.

``create_immunization_simulator(region)`` returns a Litestar ASGI app under ``/immunization/fhir``. Its
state (:class:`ImmunizationSimulatorState`, ``app.state.simulator``) holds, per person, the history the
register had before the СЭМД 170 documents: for an adult, the childhood vaccinations of the calendar
of their time (DTP at 3, 4.5, 6 and 18 months, measles-mumps-rubella at 1 and 6 years, АДС-М at 14),
drawn deterministically from the region's seed; children's vaccinations are in their СЭМД 170 only.
Scenario hooks: :meth:`~ImmunizationSimulatorState.add_immunization`, :meth:`~ImmunizationSimulatorState.
add_exemption`. Faults as elsewhere: ERROR → HTTP 503 ``OperationOutcome``, MALFORMED → a truncated body,
TIMEOUT → a stall.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.params import FromPath

from integrations.common.faults import Fault, FaultInjector, FaultProfile
from integrations.common.simulator import simulator_app, state_of
from integrations.demo_region.model import Person, Region
from integrations.immunization import wire
from integrations.immunization.client import BASE_PATH, snils_digits
from integrations.immunization.protocol import RegisterExemption, RegisterImmunization

#: (НСИ 1078 code, name, ICD-10 targets, age in days) of an adult's childhood history.
_CHILDHOOD: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    ("103", "АКДС", ("A37", "A36", "A35"), 92),
    ("103", "АКДС", ("A37", "A36", "A35"), 137),
    ("103", "АКДС", ("A37", "A36", "A35"), 183),
    ("104", "Вакцина против кори, краснухи и паротита", ("B05", "B06", "B26"), 366),
    ("103", "АКДС", ("A37", "A36", "A35"), 548),
    ("104", "Вакцина против кори, краснухи и паротита", ("B05", "B06", "B26"), 6 * 365 + 2),
    ("108", "АДС-М", ("A36", "A35"), 14 * 365 + 4),
)
#: The register's electronic history starts here: older vaccinations were never digitised.
DIGITISED_FROM = date(1995, 1, 1)


class ImmunizationSimulatorState:
    def __init__(
        self,
        region: Region,
        *,
        faults: FaultInjector,
        token: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.region = region
        self.faults = faults
        self.token = token
        self._clock = clock or datetime.now
        self.calls: Counter[str] = Counter()
        self._people = {snils_digits(p.snils): p for p in region.people}
        self._immunizations: dict[str, list[RegisterImmunization]] = {}
        self._exemptions: dict[str, list[RegisterExemption]] = {}

    def person(self, snils: str) -> Person | None:
        return self._people.get(snils_digits(snils))

    def _history(self, person: Person) -> list[RegisterImmunization]:
        rng = random.Random(f"immunization:{self.region.seed}:{person.esia_oid}")
        today = self._clock().date()
        clinic = next((mo.name for mo in self.region.organisations if mo.id == person.attached_mo_id), None)
        items = []
        if person.age(today) >= 18:
            for index, (code, name, targets, days) in enumerate(_CHILDHOOD, start=1):
                given = person.birth_date + timedelta(days=days + rng.randint(0, 20))
                if DIGITISED_FROM <= given < today:
                    items.append(
                        RegisterImmunization(
                            id=f"{person.esia_oid}-r{index:02d}",
                            given_on=given,
                            vaccine_code=code,
                            vaccine_name=name,
                            target_diseases=targets,
                            dose_number=None,
                            lot=f"{rng.randint(100, 999)}-{given.year % 100:02d}",
                            clinic=clinic,
                            performer=None,
                        )
                    )
        return items

    def immunizations(self, snils: str) -> list[RegisterImmunization]:
        key = snils_digits(snils)
        person = self._people.get(key)
        if person is None and key not in self._immunizations:
            raise LookupError(snils)
        if key not in self._immunizations:
            assert person is not None
            self._immunizations[key] = self._history(person)
        return sorted(self._immunizations[key], key=lambda i: (i.given_on, i.id))

    def exemptions(self, snils: str) -> list[RegisterExemption]:
        key = snils_digits(snils)
        if key not in self._people and key not in self._exemptions:
            raise LookupError(snils)
        return list(self._exemptions.get(key, []))

    # -- scenario hooks ------------------------------------------------------------------------------

    def add_immunization(self, snils: str, item: RegisterImmunization) -> None:
        key = snils_digits(snils)
        if key in self._people:
            self.immunizations(key)  # the generated history first, so the added record joins it
        self._immunizations.setdefault(key, []).append(item)

    def add_exemption(self, snils: str, item: RegisterExemption) -> None:
        self._exemptions.setdefault(snils_digits(snils), []).append(item)


def _json(content: Any, status_code: int = 200) -> Response[Any]:
    return Response(content=content, status_code=status_code, media_type="application/fhir+json")


def _outcome(status: int, code: str, message: str) -> Response[Any]:
    return _json(
        {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": message}]},
        status,
    )


def create_immunization_simulator(
    region: Region,
    *,
    faults: FaultProfile | None = None,
    token: str | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Litestar:
    """The register as an ASGI app; ``token=None`` accepts any caller."""
    state = ImmunizationSimulatorState(region, faults=FaultInjector(faults or FaultProfile()), token=token, clock=clock)

    async def guard(request: Request[Any, Any, Any], operation: str, snils: str) -> Response[Any] | None:
        fault = await state.faults.before_reply()
        if fault is Fault.ERROR:
            return _outcome(503, "transient", "Регистр временно недоступен")
        if fault is Fault.MALFORMED:
            return Response(content=b'{"resourceType": "Bundle", "entry": [', media_type="application/fhir+json")
        state.calls[operation] += 1
        if state.token is not None and request.headers.get("authorization") != f"Bearer {state.token}":
            return _outcome(401, "security", "Неверный токен доступа")
        if len(snils_digits(snils)) != 11 or snils_digits(snils) != snils:
            return _outcome(400, "invalid", "СНИЛС должен состоять из 11 цифр")
        return None

    @get(f"{BASE_PATH}/persons/{{snils:str}}/immunizations")
    async def immunizations(request: Request[Any, Any, Any], snils: FromPath[str]) -> Response[Any]:
        refused = await guard(request, "immunizations", snils)
        if refused is not None:
            return refused
        try:
            items = state.immunizations(snils)
        except LookupError:
            return _outcome(404, "not-found", "Пациент не найден в регистре")
        return _json(wire.bundle([wire.immunization_json(i) for i in items]))

    @get(f"{BASE_PATH}/persons/{{snils:str}}/exemptions")
    async def exemptions(request: Request[Any, Any, Any], snils: FromPath[str]) -> Response[Any]:
        refused = await guard(request, "exemptions", snils)
        if refused is not None:
            return refused
        try:
            items = state.exemptions(snils)
        except LookupError:
            return _outcome(404, "not-found", "Пациент не найден в регистре")
        return _json(wire.bundle([wire.exemption_json(i) for i in items]))

    return simulator_app([immunizations, exemptions], state)


def simulator_state(app: Litestar) -> ImmunizationSimulatorState:
    return state_of(app, ImmunizationSimulatorState)
