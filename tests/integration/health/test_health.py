"""Readiness names the dependency that is down, and recovers when it is back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from backend.runtime import Runtime
from tests.conftest import make_settings
from tests.support.client import app_client
from tests.support.proxy import TcpProxy

pytestmark = pytest.mark.postgres_only


@pytest.fixture
async def proxies(database_url: str, redis_url: str) -> AsyncIterator[tuple[TcpProxy, TcpProxy, Runtime]]:
    db, rd = make_url(database_url), make_url(redis_url)
    pg_proxy = TcpProxy(db.host or "127.0.0.1", db.port or 5432)
    redis_proxy = TcpProxy(rd.host or "127.0.0.1", rd.port or 6379)
    await pg_proxy.start()
    await redis_proxy.start()
    settings = make_settings(
        db.set(port=pg_proxy.port).render_as_string(hide_password=False),
        rd.set(port=redis_proxy.port).render_as_string(hide_password=False),
    )
    runtime = Runtime.build(settings)
    try:
        yield pg_proxy, redis_proxy, runtime
    finally:
        await runtime.close()
        await pg_proxy.stop()
        await redis_proxy.stop()


async def test_live_answers(runtime: Runtime) -> None:
    async with app_client(runtime) as client:
        response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "live"}


async def test_ready_turns_false_naming_what_is_down_and_true_again(
    proxies: tuple[TcpProxy, TcpProxy, Runtime],
) -> None:
    pg_proxy, redis_proxy, runtime = proxies
    async with app_client(runtime) as client:
        up = await client.get("/health/ready")
        assert up.status_code == 200
        assert up.json()["checks"] == {"database": "ok", "redis": "ok"}

        await pg_proxy.stop()
        down = await client.get("/health/ready")
        assert down.status_code == 503
        body = down.json()
        assert body["status"] == "not ready"
        assert body["checks"]["database"].startswith("down")
        assert body["checks"]["redis"] == "ok"
        assert body["reason"].startswith("database down")

        await pg_proxy.start()
        await redis_proxy.stop()
        down = await client.get("/health/ready")
        assert down.status_code == 503
        assert down.json()["checks"]["database"] == "ok"
        assert down.json()["checks"]["redis"].startswith("down")

        await redis_proxy.start()
        again = await client.get("/health/ready")
        assert again.status_code == 200, again.text
        assert again.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_metrics_are_exposed(runtime: Runtime) -> None:
    async with app_client(runtime) as client:
        await client.post("/graphql", json={"query": "{ apiInfo { version } }"})
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert "moe_zdorovye_requests_total" in response.text
