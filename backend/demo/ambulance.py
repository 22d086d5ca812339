"""The ambulance demo: who "calls 103/112", and the call itself.

``moe-zdorovye ambulance-call --person N [--for-child M]`` asks the running server (``make run``) to place the
call in its in-process СМП simulator (``POST /dev/ambulance/call``, development only), which then plays the
call in real time: the brigade is assigned within a minute or two, drives from the nearest station at city
speeds, reports positions every 5–30 s, arrives, takes the patient to the nearest hospital and closes. The
person's app follows it (``ambulanceLive``, the ``ambulanceCallUpdated`` subscription); the SMS are at
``GET /dev/sms``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from integrations.demo_region.areas import is_child
from integrations.demo_region.model import Region

DEV_PATH = "/dev/ambulance/call"


def ambulance_demo(region: Region) -> dict[str, Any]:
    """Whom to log in as and which command places their call."""
    today = date.today()
    people = list(region.people)
    adult = next((i for i, p in enumerate(people) if not p.parent_oid and not is_child(p, today)), None)
    child = next((i for i, p in enumerate(people) if p.parent_oid and is_child(p, today)), None)
    parent = None
    if child is not None:
        oid = people[child].parent_oid
        parent = next((i for i, p in enumerate(people) if p.esia_oid == oid), None)

    def who(i: int | None) -> dict[str, Any] | None:
        if i is None:
            return None
        p = people[i]
        return {"index": i, "name": p.full_name, "esia_oid": p.esia_oid, "phone": p.phone, "address": p.address}

    return {
        "caller": who(adult),
        "parent": who(parent),
        "child": who(child),
        "try": (
            "With `make run` serving: log in through the ESIA simulator as the caller, then "
            f"`moe-zdorovye ambulance-call --person {adult}` (a parent for the child: "
            f"`--person {parent} --for-child {child}`, followed with actingFor: the child's id). In GraphiQL: "
            "ambulanceLive, then the subscription ambulanceCallUpdated(callId: …); grantAmbulanceLocationConsent "
            "and shareAmbulanceLocation send your location (and, with setEmergencyProfile on, the emergency "
            "profile) to the crew. The two SMS (departure with the ETA, arrival) are at GET /dev/sms; after "
            "closure myAmbulanceCalls keeps the call and answerAmbulanceSurvey asks one question. Staff: "
            "ambulanceArrivalKpi."
        ),
    }


def call_103(server: str, person: int, for_child: int | None = None) -> dict[str, Any]:
    """Ask the running server's simulator to place the call; its answer (``{"callId": …}``)."""
    body: dict[str, Any] = {"person": person}
    if for_child is not None:
        body["forChild"] = for_child
    response = httpx.post(f"{server.rstrip('/')}{DEV_PATH}", json=body, timeout=10.0)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer
