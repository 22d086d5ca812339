"""Vaccination helpers for tests: a demo parent and child as patients (the ИЭМК simulator holds the child's
СЭМД 170, the demo hub a vaccination room at the child's clinic), the grant between them, the client
documents and the register simulator's state.

    family = await demo_family(runtime)   # the directory synced from the demo hub first
    calendar = await call(http, "mobile", "VaccinationCalendar", parent_headers, actingFor=str(family.child.id))
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from backend.identity.models import Patient
from backend.identity.service import PatientView
from backend.runtime import Runtime
from integrations.demo_region import RegionScale, get_region
from integrations.demo_region.model import Person
from integrations.fer.vaccination import room_id, with_vaccination_rooms
from integrations.immunization.simulator import ImmunizationSimulatorState, simulator_state
from tests.support.client import gql
from tests.support.identity import grant_proxy

ROOT = Path(__file__).resolve().parents[2] / "graphql"


def doc(client: str, name: str) -> str:
    return (ROOT / client / f"{name}.graphql").read_text(encoding="utf-8")


async def call(http: httpx.AsyncClient, client: str, name: str, headers: dict[str, str], **variables: Any) -> Any:
    body = await gql(http, doc(client, name), variables, headers=headers)
    assert not body.get("errors"), body
    return body["data"]


async def patient_of(runtime: Runtime, person: Person) -> PatientView:
    """A patient row for a demo person, as after their first ESIA login."""
    async with runtime.sessionmaker() as session, session.begin():
        row = Patient(
            id=uuid.uuid4(), esia_oid=person.esia_oid, last_name=person.last_name, first_name=person.first_name,
            middle_name=person.middle_name or None, birth_date=person.birth_date, sex=person.sex, snils=person.snils,
            oms_policy=person.oms_policy, phone=None, email=None,
        )  # fmt: skip
        session.add(row)
        await session.flush()
        return PatientView.of(row)


@dataclass(frozen=True)
class Family:
    parent: PatientView
    child: PatientView
    child_person: Person
    mo_id: str  # the child's clinic (it has a vaccination room)


def demo_child(runtime: Runtime, today: date) -> tuple[Person, str]:
    """A demo child of 1–6 years with a parent, attached to a clinic with a vaccination room."""
    settings = runtime.settings
    region = with_vaccination_rooms(get_region(settings.demo_seed, RegionScale(settings.demo_scale)))
    rooms = {d.id for d in region.doctors()}
    register = runtime.adapters.attachment_register
    for person in region.people:
        entry = register.current(person.esia_oid)
        if person.parent_oid and 1 <= person.age(today) <= 6 and entry is not None and room_id(entry.mo_id) in rooms:
            return person, entry.mo_id
    raise AssertionError("the demo region has no young child attached to a clinic with a vaccination room")


async def demo_family(runtime: Runtime, today: date) -> Family:
    person, mo_id = demo_child(runtime, today)
    settings = runtime.settings
    parent_person = get_region(settings.demo_seed, RegionScale(settings.demo_scale)).person_by_oid(
        person.parent_oid or ""
    )
    parent = await patient_of(runtime, parent_person)
    child = await patient_of(runtime, person)
    await grant_proxy(runtime, child.id, parent.id, kind="guardian_esia")
    return Family(parent, child, person, mo_id)


def register_state(runtime: Runtime) -> ImmunizationSimulatorState:
    app = runtime.adapters.immunization_simulator
    assert app is not None, "the runtime's immunization register is not the in-process simulator"
    return simulator_state(app)


def pdf_info(pdf: bytes, key: str) -> str:
    """A document-information string of a reportlab PDF (a UTF-16BE literal with octal escapes), decoded."""
    match = re.search(rb"/" + key.encode() + rb" \((.*?)(?<!\\)\)", pdf, re.S)
    assert match is not None, f"no /{key} in the PDF"
    raw = re.sub(
        rb"\\([0-7]{1,3}|.)",
        lambda m: bytes([int(m.group(1), 8)]) if m.group(1)[:1].isdigit() else m.group(1),
        match.group(1),
    )
    return raw.decode("utf-16")
