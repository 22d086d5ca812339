"""Trusted documents: every client's operations validate at start; production runs only those."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.api.schema import build_schema
from backend.api.trusted import CLIENTS, NOT_FOUND, NOT_TRUSTED, TrustedDocumentError, document_hash
from backend.runtime import Runtime
from backend.settings import Settings
from tests.conftest import make_settings
from tests.support.client import app_client, gql

ROOT = Path(__file__).resolve().parents[3]


def _registered(settings: Settings) -> str:
    return (ROOT / "graphql" / "mobile" / "ApiInfo.graphql").read_text(encoding="utf-8")


def test_every_client_has_documents_and_all_validate(settings: Settings) -> None:
    registry = build_schema(settings).trusted_documents
    for client in CLIENTS:
        assert registry.for_client(client), f"graphql/{client}/ has no operations"


def test_the_clients_cover_every_operation_of_the_schema(settings: Settings) -> None:
    schema = build_schema(settings)
    covered = {f for d in schema.trusted_documents.by_hash.values() for f in d.root_fields}
    graphql_schema = schema._schema
    roots = [graphql_schema.query_type, graphql_schema.mutation_type, graphql_schema.subscription_type]
    operations = {name for root in roots if root is not None for name in root.fields}
    missing = operations - covered
    assert not missing, f"operations no client document uses (add them to graphql/<client>/): {sorted(missing)}"


def test_a_broken_document_stops_the_start(settings: Settings, tmp_path: Path) -> None:
    for client in CLIENTS:
        (tmp_path / client).mkdir()
    (tmp_path / "kiosk" / "Broken.graphql").write_text("query Broken { noSuchField }", encoding="utf-8")
    broken = settings.model_copy(update={"trusted_documents_dir": tmp_path})
    with pytest.raises(TrustedDocumentError, match=r"kiosk/Broken.graphql: .*noSuchField"):
        build_schema(broken)


@pytest.fixture
async def production_like(database_url: str, redis_url: str) -> Runtime:
    return Runtime.build(make_settings(database_url, redis_url, trusted_documents_only=True))


async def test_enforcing_mode_runs_registered_documents_by_hash_or_text(
    production_like: Runtime, settings: Settings
) -> None:
    text = _registered(settings)
    try:
        async with app_client(production_like) as client:
            by_hash = await client.post(
                "/graphql",
                json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_hash(text)}}},
            )
            by_text = await gql(client, text)
    finally:
        await production_like.close()
    assert by_hash.status_code == 200, by_hash.text
    assert by_hash.json()["data"]["apiInfo"]["region"]["code"] == "26"
    assert by_text["data"]["apiInfo"]["region"]["name"] == "Ставропольский край"


async def test_enforcing_mode_refuses_other_queries_clearly(production_like: Runtime) -> None:
    try:
        async with app_client(production_like) as client:
            adhoc = await gql(client, "{ apiInfo { version } }")
            unknown = await client.post(
                "/graphql", json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}
            )
    finally:
        await production_like.close()
    assert adhoc["data"] is None
    assert adhoc["errors"][0]["extensions"]["code"] == NOT_TRUSTED
    assert "зарегистрированные" in adhoc["errors"][0]["message"]
    assert unknown.json()["errors"][0]["extensions"]["code"] == NOT_FOUND


async def test_development_mode_accepts_any_query_and_hashes(runtime: Runtime, settings: Settings) -> None:
    text = _registered(settings)
    async with app_client(runtime) as client:
        adhoc = await gql(client, "{ apiInfo { version } }")
        by_hash = await client.post(
            "/graphql", json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_hash(text)}}}
        )
    assert adhoc["data"]["apiInfo"]["version"]
    assert by_hash.json()["data"]["apiInfo"]["channels"] == ["mobile", "epgu", "callcentre", "kiosk"]


async def test_hash_and_different_text_are_refused(runtime: Runtime, settings: Settings) -> None:
    text = _registered(settings)
    async with app_client(runtime) as client:
        body = await gql(
            client,
            "{ apiInfo { version } }",
            extensions={"persistedQuery": {"version": 1, "sha256Hash": document_hash(text)}},
        )
    assert body["errors"][0]["extensions"]["code"] == NOT_TRUSTED
