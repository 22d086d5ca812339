"""Cost and result-size limits hold for ad-hoc queries: a narrow query nesting lists is refused before it runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import strawberry
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from backend.api.cost import estimated_cost
from backend.api.schema import build_schema
from backend.core.private_api import graphql_core_schema
from backend.runtime import Runtime
from backend.settings import Settings
from tests.conftest import make_settings
from tests.support.client import app_client

pytestmark = pytest.mark.dialect

ROOT = Path(__file__).resolve().parents[3]


@strawberry.type
class Query:
    @strawberry.field
    def blob(self, size: int) -> str:
        return "я" * size


def _nested_doctors(levels: int) -> str:
    inner = "fullName"
    for _ in range(levels):
        inner = f"fullName organisation {{ name doctors {{ {inner} }} }}"
    return f"{{ organisations(first: 100) {{ edges {{ node {{ name doctors {{ {inner} }} }} }} }} }}"


async def test_the_deep_organisations_doctors_query_is_refused_before_it_runs(runtime: Runtime) -> None:
    query = _nested_doctors(4)  # depth 12: the depth limit lets it through
    async with app_client(runtime) as client:
        response = await client.post("/graphql", json={"query": query})
    assert response.status_code == 200
    body = response.json()
    assert body.get("data") is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["message"].startswith("Запрос слишком сложный")


async def test_a_modest_ad_hoc_query_is_within_the_limit(runtime: Runtime) -> None:
    query = "{ organisations(first: 20) { edges { node { name district { name } doctors { fullName } } } } }"
    async with app_client(runtime) as client:
        response = await client.post("/graphql", json={"query": query})
    assert response.status_code == 200
    assert "errors" not in response.json(), response.json()


def test_every_client_document_is_within_the_default_limit(settings: Settings) -> None:
    core = graphql_core_schema(build_schema(settings))
    limit = settings.query_max_cost
    for path in sorted((ROOT / "graphql").glob("*/*.graphql")):
        document = parse(path.read_text(encoding="utf-8"))
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        for operation in (d for d in document.definitions if isinstance(d, OperationDefinitionNode)):
            assert estimated_cost(core, operation, fragments, limit) <= limit, path


async def test_an_answer_larger_than_the_limit_is_replaced_by_a_russian_error(
    database_url: str, redis_url: str
) -> None:
    runtime = Runtime.build(make_settings(database_url, redis_url, query_max_result_bytes=65_536))
    try:
        async with app_client(runtime, [sys.modules[__name__]]) as client:
            small = await client.post("/graphql", json={"query": "{ blob(size: 1000) }"})
            large = await client.post("/graphql", json={"query": "{ blob(size: 100000) }"})
    finally:
        await runtime.close()
    assert small.json() == {"data": {"blob": "я" * 1000}}
    assert len(large.content) < 65_536
    body = large.json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "RESULT_TOO_LARGE"
    assert error["extensions"]["requestId"] == large.headers["x-request-id"]
    assert error["message"].startswith("Ответ слишком большой")


def test_the_limits_are_settings_with_defaults() -> None:
    settings = make_settings("sqlite+aiosqlite:///:memory:")
    assert settings.query_max_cost == 200_000
    assert settings.query_max_result_bytes == 8 * 1024 * 1024
    tight = make_settings("sqlite+aiosqlite:///:memory:", query_max_cost=1000)
    assert tight.query_max_cost == 1000
