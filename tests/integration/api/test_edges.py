"""The API's edges: a useful landing page, REST docs without a CDN, and /metrics and /api/docs closed in production."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from litestar import Litestar

from backend.api.boundary import EXCEPTION_HANDLERS
from backend.api.pages import metrics_controller, openapi_config
from backend.runtime import Runtime
from backend.settings import Settings, load_settings
from tests.conftest import make_settings
from tests.support.client import app_client
from tests.unit.test_settings import PRODUCTION

pytestmark = pytest.mark.dialect

_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_EXTERNAL = re.compile(r"""(?:src|href)=["']https?://""")


@asynccontextmanager
async def _edges_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Only the edges, built from ``settings`` (a production app needs real upstreams to start)."""
    app = Litestar(
        route_handlers=[metrics_controller(settings)],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=openapi_config(settings, title="API", version="1", description="Описание."),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


async def test_the_landing_page_links_graphiql_the_docs_and_the_contracts(runtime: Runtime) -> None:
    async with app_client(runtime) as client:
        page = await client.get("/")
        contract = await client.get("/contracts/schema.graphql")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert _CYRILLIC.search(page.text)
    for link in ('href="/graphql"', 'href="/api/docs"', 'href="/contracts/schema.graphql"'):
        assert link in page.text
    assert not _EXTERNAL.search(page.text)
    assert contract.status_code == 200
    assert "type Query" in contract.text


async def test_the_rest_docs_load_nothing_from_a_cdn(runtime: Runtime) -> None:
    async with app_client(runtime) as client:
        page = await client.get("/api/docs")
        document = await client.get("/api/docs/openapi.json")
    assert page.status_code == 200
    assert "<script" not in page.text
    assert not _EXTERNAL.search(page.text)
    assert "/api/v1/oauth/token" in page.text  # the operations are listed on the page itself
    assert 'href="/api/docs/openapi.json"' in page.text
    assert document.status_code == 200
    assert "/api/v1/oauth/token" in document.json()["paths"]


def test_production_defaults_close_the_docs() -> None:
    assert load_settings(**PRODUCTION).api_docs is False
    assert load_settings().api_docs is True


async def test_in_production_docs_and_metrics_are_closed_without_a_token() -> None:
    async with _edges_app(load_settings(**PRODUCTION)) as client:
        docs = await client.get("/api/docs")
        document = await client.get("/api/docs/openapi.json")
        metrics = await client.get("/metrics")
    assert docs.status_code == 404
    assert document.status_code == 404
    assert metrics.status_code == 401
    assert metrics.json()["code"] == "NOT_AUTHENTICATED"
    assert _CYRILLIC.search(metrics.json()["message"])


async def test_metrics_answer_only_the_bearer_of_the_token() -> None:
    async with _edges_app(load_settings(**PRODUCTION, metrics_token="s3cret-metrics")) as client:
        anonymous = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer guess"})
        right = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
    assert anonymous.status_code == 401
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert "# HELP" in right.text


async def test_docs_can_be_switched_off_outside_production(database_url: str, redis_url: str) -> None:
    runtime = Runtime.build(make_settings(database_url, redis_url, api_docs=False, metrics_token="t"))
    try:
        async with app_client(runtime) as client:
            docs = await client.get("/api/docs")
            metrics = await client.get("/metrics")
            landing = await client.get("/")
    finally:
        await runtime.close()
    assert docs.status_code == 404
    assert metrics.status_code == 401
    assert 'href="/api/docs"' not in landing.text
