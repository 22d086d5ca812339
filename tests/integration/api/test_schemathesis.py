"""schemathesis on both committed contracts: no server error, no undocumented status or content type.

Cases are generated with a fixed seed (Hypothesis ``derandomize``) and a bounded number per operation, then
sent to the app in this event loop (the runtime's database pool lives in it) and checked by schemathesis.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    status_code_conformance,
)

from backend.runtime import Runtime
from tests.support.client import app_client

ROOT = Path(__file__).resolve().parents[3]
OPENAPI_EXAMPLES = 50  # per operation
GRAPHQL_EXAMPLES = 25  # per field


def _cases(strategy: Any, examples: int) -> list[Any]:
    """``examples`` cases of ``strategy``, the same on every run."""
    found: list[Any] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(strategy)
    def collect(case: Any) -> None:
        found.append(case)

    collect()
    return found


def _internal_errors(response: httpx.Response) -> list[str]:
    """The masked internal errors of a GraphQL answer: a server error, whatever the HTTP status says."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return []
    try:
        body = response.json()
    except ValueError:
        return []  # not JSON after all: content_type_conformance and the status checks judge it
    errors = body.get("errors") if isinstance(body, dict) else None
    return [
        e.get("message", "")
        for e in errors or []
        if (e.get("extensions") or {}).get("code") in ("INTERNAL_ERROR", "SERVICE_UNAVAILABLE")
    ]


async def _run(client: httpx.AsyncClient, schema: Any, examples: int, checks: list[Callable[..., Any]]) -> list[str]:
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for case in _cases(operation.as_strategy(), examples):
            kwargs = case.as_transport_kwargs(base_url=str(client.base_url))
            kwargs.pop("cookies", None)
            response = await client.request(**kwargs)
            if _internal_errors(response):
                sent = json.dumps(case.body, ensure_ascii=False)[:200]
                failures.append(f"{operation.label}: INTERNAL_ERROR for {sent}")
            # A multipart body (the vault's upload) is a stream: read it so the checks can look at the request.
            # Generated form values that are not text (numbers) cannot be re-read: judge the status alone.
            try:
                await response.request.aread()
            except (httpx.StreamError, AttributeError, TypeError):
                if response.status_code >= 500:
                    failures.append(f"{operation.label}: {response.status_code}")
                continue
            try:
                case.validate_response(response, checks=checks)
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup: one line per kind
                kinds = sorted({type(e).__name__ for e in getattr(exc, "exceptions", [exc])})
                content_type = response.headers.get("content-type")
                failures.append(f"{operation.label}: {response.status_code} {content_type} {kinds}")
    return failures


async def test_the_openapi_contract_holds(runtime: Runtime) -> None:
    schema = schemathesis.openapi.from_dict(json.loads((ROOT / "openapi" / "openapi.json").read_text()))
    async with app_client(runtime) as client:
        failures = await _run(
            client, schema, OPENAPI_EXAMPLES, [not_a_server_error, status_code_conformance, content_type_conformance]
        )
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(sorted(set(failures)))


async def test_the_graphql_contract_holds(runtime: Runtime) -> None:
    schema = schemathesis.graphql.from_path(ROOT / "graphql" / "schema.graphql")
    async with app_client(runtime) as client:
        failures = await _run(client, schema, GRAPHQL_EXAMPLES, [not_a_server_error])
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(sorted(set(failures)))
