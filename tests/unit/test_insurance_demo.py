"""seed-demo's insurance part names a person the ЕРЗЛ simulator knows, with last year's billed care to dispute."""

from __future__ import annotations

from datetime import date, datetime

from backend.demo.insurance import insurance_demo
from integrations.demo_region import get_region
from integrations.erzl.simulator import create_erzl_simulator, simulator_state


def test_the_demo_person_has_billed_care_last_year_and_a_case_to_dispute() -> None:
    region = get_region()
    demo = insurance_demo(region, date(2025, 11, 14))
    assert demo["billed_last_year"]["cases"] > 0
    state = simulator_state(create_erzl_simulator(region, clock=lambda: datetime(2025, 11, 14)))
    person = region.person_by_oid(demo["esia_oid"])
    assert person.age(date(2025, 11, 14)) >= 40 and person.parent_oid is None
    case = state.case(person.oms_policy, demo["billed_last_year"]["dispute_case_id"])
    assert case is not None and case.service_date.year == 2024
    assert demo["insurer"]["code"] not in {i["code"] for i in demo["other_insurers"]}
