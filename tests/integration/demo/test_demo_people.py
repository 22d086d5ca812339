"""Issue 26, item 17: demo people can be found by an operator or a kiosk before their first ESIA login,
and ``seed-demo`` lists what each demo flow asks for."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from backend.core.context import RequestContext
from backend.demo.people import patient_data, seed_demo_people
from backend.identity.identification import IdentificationOutcome, identify
from backend.identity.models import Patient
from backend.identity.service import upsert_patient
from backend.runtime import Runtime
from integrations.demo_region import RegionScale, get_region
from notifications.preferences import get_contacts

pytestmark = pytest.mark.dialect


async def test_demo_people_are_found_by_policy_or_snils_before_any_esia_login(runtime: Runtime) -> None:
    people = list(get_region(runtime.settings.demo_seed, RegionScale.SMALL).people)
    listed = await seed_demo_people(runtime, people)
    again = await seed_demo_people(runtime, people)  # idempotent
    assert again == listed
    async with runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Patient)) == len(people)

    adult = next(p for p in people if p.parent_oid is None)
    shown = next(entry for entry in listed if entry["name"] == adult.full_name)
    assert shown["oms_policy"] == adult.oms_policy
    assert shown["snils"] == adult.snils
    assert shown["birth_date"] == adult.birth_date.isoformat()
    assert any("child_of" in entry for entry in listed)

    ctx = RequestContext.for_system("test")
    outcome, found = await identify(
        runtime, ctx, channel_key="kiosk:test", oms_policy=adult.oms_policy, snils=None, birth_date=adult.birth_date
    )
    assert outcome is IdentificationOutcome.FOUND
    assert found is not None
    assert (found.last_name, found.first_name) == (adult.last_name, adult.first_name)
    outcome, by_snils = await identify(
        runtime, ctx, channel_key="kiosk:test", oms_policy=None, snils=adult.snils, birth_date=adult.birth_date
    )
    assert outcome is IdentificationOutcome.FOUND
    assert by_snils is not None
    assert by_snils.id == found.id

    async with runtime.sessionmaker() as session:
        assert (await get_contacts(session, found.id)).phone == shown["phone"]
    # Their first ESIA login finds the same person (by SNILS) and records the ESIA oid.
    async with runtime.sessionmaker() as session, session.begin():
        row = await upsert_patient(
            session, dataclasses.replace(patient_data(adult), esia_oid=adult.esia_oid), at=runtime.now()
        )
        assert row.id == found.id
        assert row.esia_oid == adult.esia_oid
