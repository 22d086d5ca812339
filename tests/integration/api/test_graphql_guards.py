"""The GraphQL endpoint refuses abuse clearly, masks internal errors, and never answers 5xx to bad input."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from backend.runtime import Runtime
from tests.support import testschema
from tests.support.client import app_client, gql


def _nested(depth: int) -> str:
    return "{ tree " + "{ child " * (depth - 1) + "{ depth }" + " }" * (depth - 1) + " }"


async def test_deep_query_is_refused(runtime: Runtime) -> None:
    async with app_client(runtime, [testschema]) as client:
        ok = await gql(client, _nested(5))
        refused = await gql(client, _nested(20))
    assert ok["data"]["tree"]["child"]["child"]["child"]["child"] == {"depth": 4}
    assert refused["data"] is None
    assert "exceeds maximum operation depth" in refused["errors"][0]["message"]


async def test_thousand_aliases_are_refused(runtime: Runtime) -> None:
    query = "{ " + " ".join(f"a{i}: apiInfo {{ version }}" for i in range(1000)) + " }"
    async with app_client(runtime) as client:
        body = await gql(client, query)
    assert body["data"] is None
    messages = " ".join(e["message"] for e in body["errors"])
    assert "aliases" in messages.lower() or "token" in messages.lower()


async def test_internal_error_is_masked_with_request_id_and_logged_whole(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="backend.api")
    async with app_client(runtime, [testschema]) as client:
        response = await client.post("/graphql", json={"query": "{ boom }"}, headers={"x-request-id": "req-42"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-42"
    error = response.json()["errors"][0]
    assert "hunter2" not in json.dumps(response.json())
    assert error["extensions"] == {"code": "INTERNAL_ERROR", "requestId": "req-42"}
    assert "req-42" in error["message"]
    logged = [r for r in caplog.records if "graphql.internal_error" in str(r.msg)]
    assert logged, "the internal error must be logged"
    event = logged[0].msg
    assert isinstance(event, dict)
    assert event["request_id"] == "req-42"
    assert isinstance(event["exc_info"], RuntimeError)  # rendered with its traceback by the formatter
    assert "hunter2" in str(event["exc_info"])


async def test_masking_holds_for_concurrent_requests(runtime: Runtime) -> None:
    """An internal error is masked even while another request runs (extensions are per request)."""
    async with app_client(runtime, [testschema]) as client:
        failing = asyncio.create_task(gql(client, "{ slowBoom(ms: 60) }", headers={"x-request-id": "req-a"}))
        await asyncio.sleep(0.02)  # the failing request is executing when the slow one starts
        slow = await gql(client, "{ slow(ms: 200) }", headers={"x-request-id": "req-b"})
        failed = await failing
    assert slow == {"data": {"slow": 200}}
    assert "hunter2" not in json.dumps(failed)
    assert failed["errors"][0]["extensions"] == {"code": "INTERNAL_ERROR", "requestId": "req-a"}


async def test_validation_errors_are_not_masked(runtime: Runtime) -> None:
    async with app_client(runtime) as client:
        body = await gql(client, "{ noSuchField }")
    assert "noSuchField" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("content", "headers", "status", "fragment"),
    [
        (b"{not json", {"content-type": "application/json"}, 400, "JSON"),
        (
            b'{"query": "{ apiInfo { version } }", "operationName": "Nope"}',
            {"content-type": "application/json"},
            400,
            "Nope",
        ),
        (b'{"variables": {}}', {"content-type": "application/json"}, 400, "query"),
        (b"query=1", {"content-type": "text/plain"}, 400, "application/json"),
        (b"{" + b" " * 2_000_000 + b"}", {"content-type": "application/json"}, 413, "слишком большой"),
    ],
    ids=["malformed-json", "unknown-operation", "no-query", "wrong-content-type", "oversized-body"],
)
async def test_bad_requests_get_4xx_with_a_clear_message(
    runtime: Runtime, content: bytes, headers: dict[str, str], status: int, fragment: str
) -> None:
    async with app_client(runtime) as client:
        response = await client.post("/graphql", content=content, headers=headers)
    assert response.status_code == status
    assert fragment.lower() in response.text.lower()


async def test_get_queries_are_not_allowed(runtime: Runtime) -> None:
    async with app_client(runtime) as client:
        response = await client.get(
            "/graphql", params={"query": "{ apiInfo { version } }"}, headers={"accept": "application/json"}
        )
    assert 400 <= response.status_code < 500
