"""A database outage answers 503 with a Russian message and the request id, and the exception is logged."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from backend.runtime import Runtime
from tests.conftest import make_settings
from tests.support.client import app_client

ORGANISATIONS = {"query": "{ organisations(first: 1) { edges { node { id name } } } }"}


def _dead_port() -> int:
    """A port nobody listens on: bound for a moment, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _assert_logged(caplog: pytest.LogCaptureFixture, event_name: str, request_id: str) -> None:
    logged = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == event_name]
    assert logged, f"{event_name} must be logged"
    assert logged[0]["request_id"] == request_id
    assert isinstance(logged[0]["exc_info"], BaseException)  # rendered with its traceback by the formatter


@pytest.fixture
async def dead_database(redis_url: str) -> AsyncIterator[Runtime]:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{_dead_port()}/mz_nowhere"
    runtime = Runtime.build(make_settings(url, redis_url))
    try:
        yield runtime
    finally:
        await runtime.close()


async def test_graphql_answers_503_with_the_request_id_and_logs_it(
    dead_database: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    async with app_client(dead_database) as client:
        response = await client.post("/graphql", json=ORGANISATIONS, headers={"x-request-id": "outage-1"})
    assert response.status_code == 503, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE", "requestId": "outage-1"}
    assert error["message"].startswith("Сервис временно недоступен")
    assert "outage-1" in error["message"]
    _assert_logged(caplog, "graphql.service_unavailable", "outage-1")


async def test_a_rest_route_answers_503_in_the_one_error_body_and_logs_it(
    dead_database: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    async with app_client(dead_database) as client:
        response = await client.post(
            "/api/v1/oauth/revoke",
            data={"token": "some-refresh-token", "client_id": "mz-mobile"},
            headers={"x-request-id": "outage-2"},
        )
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["code"] == "SERVICE_UNAVAILABLE"
    assert body["requestId"] == "outage-2"
    assert body["message"].startswith("Сервис временно недоступен")
    assert response.headers["retry-after"]
    _assert_logged(caplog, "http.service_unavailable", "outage-2")
