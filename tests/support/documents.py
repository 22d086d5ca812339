"""Documents helpers for tests: demo people as patients (the ИЭМК simulator knows their documents), the
register simulator's state, doctors (staff with ``role = doctor``) and their tokens, a movable clock.

    clock = use_clock(runtime)
    patient = await demo_patient(runtime)
    register = iemk_state(runtime)
    register.register_document(snils=patient.snils, kind="119", delay=timedelta(minutes=5))
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.core.context import Channel
from backend.identity import policy, sessions, tokens
from backend.identity.models import Patient
from backend.identity.service import PatientView
from backend.identity.staff import create_staff
from backend.runtime import Runtime
from integrations.demo_region import get_region
from integrations.demo_region.model import Person
from integrations.iemk.simulator import IemkSimulatorState, simulator_state

DOCTOR_PASSWORD = "doctor-test-password"


@dataclass
class Clock:
    """An aware UTC clock for the runtime and the register simulator (it follows ``runtime.now``)."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def use_clock(runtime: Runtime) -> Clock:
    clock = Clock()
    tokens.set_clock(runtime, clock)
    return clock


def demo_person(index: int = 0, *, with_rights: bool = False) -> Person:
    people = [p for p in get_region().people if p.drug_rights] if with_rights else list(get_region().people)
    adults = [p for p in people if p.parent_oid is None]
    return adults[index]


async def demo_patient(runtime: Runtime, index: int = 0, *, with_rights: bool = False) -> PatientView:
    """A patient row for a demo person (the register simulator holds their documents)."""
    person = demo_person(index, with_rights=with_rights)
    async with runtime.sessionmaker() as session, session.begin():
        row = Patient(
            id=uuid.uuid4(),
            esia_oid=person.esia_oid,
            last_name=person.last_name,
            first_name=person.first_name,
            middle_name=person.middle_name,
            birth_date=person.birth_date,
            sex=person.sex,
            snils=person.snils,
            oms_policy=person.oms_policy,
            phone=None,
            email=None,
        )
        session.add(row)
        await session.flush()
        return PatientView.of(row)


def iemk_state(runtime: Runtime) -> IemkSimulatorState:
    app = runtime.adapters.iemk_simulator
    assert app is not None, "the runtime's register is not the in-process simulator"
    return simulator_state(app)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Doctor:
    id: str
    full_name: str
    snils: str
    login: str
    totp_secret: str


async def make_doctor(runtime: Runtime, *, snils: str, full_name: str = "Врачева Ольга Петровна", **kw: Any) -> Doctor:
    login = f"doctor-{uuid.uuid4().hex[:8]}"
    async with runtime.sessionmaker() as session, session.begin():
        row, secret = await create_staff(
            session, login=login, full_name=full_name, password=DOCTOR_PASSWORD, role="doctor", snils=snils,
            at=tokens.now(runtime), **kw,
        )  # fmt: skip
    return Doctor(str(row.id), full_name, snils, login, secret)


async def doctor_token(runtime: Runtime, doctor_id: str) -> str:
    """A doctor's staff session token (as ``staffLogin`` issues for ``role = doctor``)."""
    at = tokens.now(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        row = await sessions.open_session(
            session,
            kind=sessions.SessionKind.STAFF,
            channel=Channel.CALLCENTRE,
            at=at,
            ttl_s=runtime.settings.operator_session_ttl_s,
            scopes={policy.SCOPE_DOCTOR},
            actor_id=doctor_id,
        )
        token, _ = sessions.access_token(runtime, row)
    return token
