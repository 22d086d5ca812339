"""The call record's rows of the authorization matrix (tests/integration/identity/test_matrix.py).

Every operation is for a staff login only (the operator without an on-behalf session): a patient, a proxy,
an operator's on-behalf session, a kiosk are refused. An allowed row succeeds in its world: ``closeCall``
closes a call its operator opened first (through the API, in ``prepare``); ``callerCandidates`` finds the world's
target among the people of the number a call came from.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.support.client import gql
from tests.support.identity import identity_client

_OPEN = (
    "mutation($k: String!, $p: String) { openCall(idempotencyKey: $k, callerPhone: $p) { __typename "
    "... on CallOpened { call { id } } ... on Problem { code } } }"
)
_CLOSE = (
    "mutation($c: UUID!, $k: String!) { closeCall(callId: $c, outcome: INFORMATION, idempotencyKey: $k) "
    "{ __typename ... on CallClosed { call { outcome closedAt } } ... on Problem { code } } }"
)
#: The call each world's operator opened (by the world's target, unique per world).
_OPENED: dict[uuid.UUID, str] = {}


def call_record_rows(only: Callable[..., Any], public: Callable[[str], Any], operator: Any) -> dict[str, Any]:
    """The rows, built with the matrix's own ``only`` and ``public`` for its ``operator`` principal."""

    async def open_a_call(runtime: Any, world: Any, principal: Any, phone: str | None = None) -> None:
        if principal is not operator:
            return
        async with identity_client(runtime) as client:
            body = await gql(client, _OPEN, {"k": uuid.uuid4().hex, "p": phone}, headers=world.headers[principal])
        _OPENED[world.target] = body["data"]["openCall"]["call"]["id"]

    async def a_call_from_the_target(runtime: Any, world: Any, principal: Any) -> None:
        await open_a_call(runtime, world, principal, world.target_phone)

    return {
        "callOutcomes": public("the outcomes a call may be closed with: reference data"),
        "currentCall": only(
            {operator},
            "{ currentCall { id actions { action } } callOutcomes { outcome } }",
            lambda w: {},
            check=lambda w, d: d["id"] == _OPENED[w.target] and d["actions"] == [],
            prepare=open_a_call,
        ),
        "callerCandidates": only(
            {operator},
            "{ callerCandidates { __typename ... on CallerCandidates { candidates { patientId } } "
            "... on Problem { code } } }",
            lambda w: {},
            check=lambda w, d: {"patientId": str(w.target)} in d["candidates"],
            prepare=a_call_from_the_target,
        ),
        "recentCalls": only(
            {operator},
            "{ recentCalls(first: 5) { id closedAt } }",
            lambda w: {},
            check=lambda w, d: d == [{"id": _OPENED[w.target], "closedAt": None}],
            prepare=open_a_call,
        ),
        "callsKpi": only(
            {operator},
            "query($a: Date!, $b: Date!) { callsKpi(dateFrom: $a, dateTo: $b) { total byOutcome { count } } }",
            lambda w: {"a": "2025-03-01", "b": "2025-03-07"},
            check=lambda w, d: d["total"] == 0 and len(d["byOutcome"]) == 9,
        ),
        "openCall": only(
            {operator},
            _OPEN,
            lambda w: {"k": uuid.uuid4().hex},
            check=lambda w, d: d["__typename"] == "CallOpened",
        ),
        "closeCall": only(
            {operator},
            _CLOSE,
            lambda w: {"c": _OPENED.get(w.target, str(uuid.uuid4())), "k": uuid.uuid4().hex},
            check=lambda w, d: d["__typename"] == "CallClosed" and d["call"]["outcome"] == "INFORMATION",
            prepare=open_a_call,
        ),
    }
