"""The insurance part of ``seed-demo``: who to log in as to try «Мой полис – моя защита», with their policy,
insurer, last year's billed services (a case to dispute) and what to do, read from the ЕРЗЛ simulator the
embedded run serves (the same region and seed)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from integrations.demo_region.model import Region
from integrations.erzl.simulator import ErzlSimulatorState, create_erzl_simulator, simulator_state


def insurance_demo(region: Region, today: date | None = None) -> dict[str, Any]:
    """An adult of 40 or more (the dispanserization is due every year) with billed services last year."""
    day = today or date.today()
    state: ErzlSimulatorState = simulator_state(
        create_erzl_simulator(region, clock=lambda: datetime.combine(day, time(12)))
    )
    last_year = (date(day.year - 1, 1, 1), date(day.year - 1, 12, 31))
    for person in region.people:
        if person.parent_oid is not None or person.age(day) < 40:
            continue
        rows = state.services(person.oms_policy, *last_year)
        if not rows:
            continue
        record = state.record(person)
        return {
            "name": person.full_name,
            "esia_oid": person.esia_oid,
            "birth_date": person.birth_date.isoformat(),
            "snils": person.snils,
            "oms_policy": person.oms_policy,
            "insurer": {"code": record.insurer.code, "name": record.insurer.name, "hotline": record.insurer.phone},
            "billed_last_year": {
                "cases": len(rows),
                "total_rub": str(sum((r.cost for r in rows), Decimal(0))),
                "dispute_case_id": rows[0].case_id,
                "dispute_service": f"{rows[0].service_date:%d.%m.%Y} {rows[0].service_name} ({rows[0].mo_name})",
            },
            "other_insurers": [
                {"code": i.code, "name": i.name} for i in state.insurers.values() if i.code != record.insurer.code
            ],
            "try": (
                "Log in through the ESIA simulator as this person: myInsurancePolicy (the QR code's text in "
                "machineCode; GET /api/v1/insurance/policy.pdf prints it), myBilledServices(year: last year), "
                "openInsuranceTicket {kind: DISPUTE, category: service_not_received, caseId: dispute_case_id}; the "
                "demo insurer answers in 2 minutes and the insurance.sync task brings it to myInsuranceTickets. "
                "applyForInsurerChange to one of other_insurers (ORDINARY is refused after 1 November with the date "
                "it becomes possible; CHANGE_OF_RESIDENCE with newAddress is accepted, then completed, in 1 and 2 "
                "minutes). The insurance.representative task sends the dispanserization reminder "
                "(myRepresentativeMessages). A kiosk identifies the person by policy and birth date and prints the "
                "policy; the 122 operator sees myInsurancePolicy and opens a complaint for the caller."
            ),
        }
    return {"note": "no adult of 40 or more with billed services last year in this region"}
