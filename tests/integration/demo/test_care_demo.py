"""seed-demo for referrals, dispanserization and no-shows: the referral numbers it prints are the demo hub's,
the person due for dispanserization is due this year, and the limited person is limited (written once)."""

from __future__ import annotations

from datetime import date

from backend.adapter_builders import demo_fer_simulator
from backend.booking.service import no_shows
from backend.demo.care import seed_demo_care
from backend.demo.people import seed_demo_people
from backend.dispanserization import rules
from backend.identity.service import find_patient_by_policy
from backend.runtime import Runtime
from integrations.demo_region import RegionScale, get_region
from integrations.fer.referrals import referral_book
from integrations.fer.simulator import FerSimulatorState, simulator_state


async def test_the_demo_lists_what_the_demo_hub_and_database_hold(runtime: Runtime) -> None:
    region = get_region(runtime.settings.demo_seed, RegionScale(runtime.settings.demo_scale))
    await seed_demo_people(runtime, list(region.people))
    shown = await seed_demo_care(runtime, region)
    again = await seed_demo_care(runtime, region)
    assert again["no_show_limited"]["no_shows_written"] == 0  # written once
    hub: FerSimulatorState = simulator_state(demo_fer_simulator(runtime.settings))  # type: ignore[arg-type]
    numbers = [r["number"] for r in shown["referrals"]]
    assert numbers and all(n in referral_book(hub).referrals for n in numbers)
    due = shown["dispanserization"]
    assert (
        rules.eligibility(date.fromisoformat(due["birth_date"]), date.today().year) is rules.ExamKind.DISPANSERIZATION
    )
    limited = shown["no_show_limited"]
    async with runtime.sessionmaker() as session:
        patient = await find_patient_by_policy(
            session, limited["oms_policy"], date.fromisoformat(limited["birth_date"])
        )
        assert patient is not None
        status = await no_shows.no_show_status(runtime, session, patient.id)
    assert status.limited and len(status.triggering) == 3
