"""Shared set-up for the insurance tests: insured patients the runtime's in-process ЕРЗЛ simulator knows, a
frozen clock, and a billed service of last year to dispute."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from backend.identity.service import PatientView
from backend.runtime import Runtime
from integrations.demo_region.model import Person
from integrations.erzl import BilledService, CareKind, PaymentStatus
from integrations.erzl import enp as enp_rules
from integrations.erzl.simulator import REGION_INSURERS, ErzlSimulatorState, simulator_state
from tests.support.identity import make_patient

PROBLEM = "... on Problem { code message }"


@dataclass
class FrozenClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def freeze(runtime: Runtime, moment: datetime) -> FrozenClock:
    """Set the runtime's one clock (the simulators follow it) to ``moment`` (aware)."""
    clock = FrozenClock(moment.astimezone(UTC))
    runtime.adapters.clock = clock
    return clock


def erzl(runtime: Runtime) -> ErzlSimulatorState:
    app = runtime.adapters.erzl_simulator
    assert app is not None, "the test runtime uses the in-process ЕРЗЛ simulator"
    return simulator_state(app)


def new_enp() -> str:
    return enp_rules.with_control_digit(f"26{uuid.uuid4().int % 10**13:013d}")


def person_of(patient: PatientView, *, insurer: int = 0) -> Person:
    return Person(
        esia_oid=patient.esia_oid or "",
        last_name=patient.last_name,
        first_name=patient.first_name,
        middle_name=patient.middle_name or "",
        birth_date=patient.birth_date,
        sex=patient.sex,
        snils=patient.snils or "",
        oms_policy=patient.oms_policy or "",
        smo_name=REGION_INSURERS[insurer].name,
        phone=patient.phone or "",
        email=patient.email or "",
        address="г. Ставрополь, ул. Тестовая, д. 5",
        district_id="d-1",
        latitude=45.0,
        longitude=41.9,
        attached_mo_id="",
    )


def enrol(
    runtime: Runtime, patient: PatientView, *, insurer: int = 0, enp: str | None = None, history: bool = True
) -> Person:
    """Make the register know ``patient`` (by ESIA oid, SNILS and ``enp``, default the patient's policy);
    ``history=False``: no generated billed care (the register's history is drawn from the random ЕНП)."""
    person = person_of(patient, insurer=insurer)
    if enp is not None:
        person = Person(**{**person.__dict__, "oms_policy": enp})
    erzl(runtime).enrol(person, history=history)
    return person


async def insured(runtime: Runtime, *, insurer: int = 0, history: bool = True, **overrides: Any) -> PatientView:
    """A patient with a valid ЕНП (as ESIA gave it) whom the register knows."""
    patient = await make_patient(runtime, **({"oms_policy": new_enp()} | overrides))
    enrol(runtime, patient, insurer=insurer, history=history)
    return patient


def billed(
    runtime: Runtime, patient: PatientView, *, case_id: str, on: date, cost: str = "2450.00", **more: Any
) -> BilledService:
    """A billed service the register shows for the patient."""
    service = BilledService(
        case_id=case_id,
        service_date=on,
        mo_oid="1.2.643.5.1.13.13.12.2.26.1001",
        mo_name="Городская поликлиника № 1",
        service_code=more.get("code", "B01.047.001"),
        service_name=more.get("name", "Прием (осмотр, консультация) врача-терапевта первичный"),
        diagnosis_code=more.get("icd", "J06.9"),
        diagnosis_name=more.get("diagnosis", "Острая инфекция верхних дыхательных путей"),
        care_kind=more.get("kind", CareKind.AMBULATORY),
        cost=Decimal(cost),
        payment_status=PaymentStatus.PAID,
    )
    erzl(runtime).add_service(patient.oms_policy or "", service)
    return service
