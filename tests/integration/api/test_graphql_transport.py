"""The thin path for registered documents answers as Strawberry's full path does, masks, and keeps the guards."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.api.schema import Schema, build_schema
from backend.api.trusted import NOT_FOUND, NOT_TRUSTED, TrustedDocumentError, document_hash
from backend.directory.service import sync_directory
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from backend.settings import Settings
from tests.conftest import make_settings
from tests.support import testschema
from tests.support.client import app_client, gql

ROOT = Path(__file__).resolve().parents[3]
BOOM = "query Boom { boom }"
WRITE_OK = "mutation WriteOk($note: String!) { writeOk(note: $note) { outboxId } }"
WRITE_THEN_RAISE = "mutation WriteThenRaise($note: String!) { writeThenRaise(note: $note) { outboxId } }"
PAIR = "query First { apiInfo { version } }\nquery Second { apiInfo { channels } }"


@pytest.fixture
def full_path_calls(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Every call of Strawberry's Schema.execute (the full path), by query text."""
    calls: list[str | None] = []
    original = Schema.execute

    async def counting(self: Schema, query: str | None, *args: object, **kwargs: object) -> object:
        calls.append(query)
        return await original(self, query, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Schema, "execute", counting)
    return calls


def _documents(tmp_path: Path) -> Path:
    """A trusted-documents folder with a document of the test schema that fails inside."""
    for client in ("mobile", "callcentre", "kiosk"):
        (tmp_path / client).mkdir()
    (tmp_path / "mobile" / "Boom.graphql").write_text(BOOM, encoding="utf-8")
    (tmp_path / "mobile" / "Pair.graphql").write_text(PAIR, encoding="utf-8")
    (tmp_path / "mobile" / "WriteOk.graphql").write_text(WRITE_OK, encoding="utf-8")
    (tmp_path / "mobile" / "WriteThenRaise.graphql").write_text(WRITE_THEN_RAISE, encoding="utf-8")
    return tmp_path


def _by_hash(text: str, **variables: object) -> dict[str, object]:
    return {"variables": variables, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_hash(text)}}}


@pytest.mark.parametrize(
    ("document", "variables"), [("ApiInfo", {}), ("Organisations", {"first": 5}), ("Reference", {})]
)
async def test_registered_documents_skip_the_full_path_and_answer_the_same(
    runtime: Runtime, full_path_calls: list[str | None], document: str, variables: dict[str, object]
) -> None:
    await sync_directory(runtime)
    text = (ROOT / "graphql" / "mobile" / f"{document}.graphql").read_text(encoding="utf-8")
    async with app_client(runtime) as client:
        by_hash = await client.post("/graphql", json=_by_hash(text, **variables))
        by_text = await gql(client, text, variables)
        assert full_path_calls == []
        adhoc = await gql(client, text + "\n# not registered: the full path", variables)  # development accepts it
    assert full_path_calls == [text + "\n# not registered: the full path"]
    assert by_hash.status_code == 200
    assert by_hash.headers["content-type"].startswith("application/json")
    assert "errors" not in adhoc, adhoc
    answers = [by_hash.json(), by_text, adhoc]
    for answer in answers:
        answer["data"].get("apiInfo", {}).pop("serverTime", None)  # the one field that differs by the moment
    assert answers[0] == answers[1] == answers[2]


async def test_an_internal_error_on_the_thin_path_is_masked_with_the_request_id_and_logged(
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    full_path_calls: list[str | None],
) -> None:
    caplog.set_level(logging.ERROR, logger="backend.api")
    settings = make_settings(database_url, redis_url, trusted_documents_dir=_documents(tmp_path))
    runtime = Runtime.build(settings)
    try:
        async with app_client(runtime, [testschema]) as client:
            response = await client.post("/graphql", json=_by_hash(BOOM), headers={"x-request-id": "req-7"})
    finally:
        await runtime.close()
    assert full_path_calls == []
    assert response.status_code == 200
    body = response.json()
    assert "hunter2" not in json.dumps(body)
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL_ERROR", "requestId": "req-7"}
    assert body["errors"][0]["path"] == ["boom"]
    assert "req-7" in body["errors"][0]["message"]
    logged = [r.msg for r in caplog.records if "graphql.internal_error" in str(r.msg)]
    assert logged and isinstance(logged[0], dict)
    assert logged[0]["request_id"] == "req-7"
    assert logged[0]["operation"] == "Boom"
    assert "hunter2" in str(logged[0]["exc_info"])


async def test_a_registered_mutation_commits_or_rolls_back_whole_on_the_thin_path(
    database_url: str, redis_url: str, tmp_path: Path, full_path_calls: list[str | None]
) -> None:
    settings = make_settings(database_url, redis_url, trusted_documents_dir=_documents(tmp_path))
    runtime = Runtime.build(settings)
    try:
        async with app_client(runtime, [testschema]) as client:
            failed = (await client.post("/graphql", json=_by_hash(WRITE_THEN_RAISE, note="x"))).json()
            written = (await client.post("/graphql", json=_by_hash(WRITE_OK, note="y"))).json()
            await runtime.relay.drain()
        async with runtime.sessionmaker() as session:
            rows = await session.scalar(select(func.count()).select_from(OutboxMessage))
    finally:
        await runtime.close()
    assert full_path_calls == []
    assert failed["data"] is None and failed["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    assert written["data"]["writeOk"]["outboxId"]
    assert rows == 1  # the failed mutation's write rolled back


async def test_production_refuses_unregistered_hashes_and_texts_clearly(database_url: str, redis_url: str) -> None:
    runtime = Runtime.build(make_settings(database_url, redis_url, trusted_documents_only=True))
    text = (ROOT / "graphql" / "mobile" / "ApiInfo.graphql").read_text(encoding="utf-8")
    try:
        async with app_client(runtime) as client:
            unknown = (await client.post("/graphql", json=_by_hash(text + " "))).json()
            adhoc = await gql(client, "{ apiInfo { version } }")
            mismatch = await gql(client, "{ apiInfo { version } }", extensions=_by_hash(text)["extensions"])
            registered = (await client.post("/graphql", json=_by_hash(text))).json()
    finally:
        await runtime.close()
    assert unknown == {
        "data": None,
        "errors": [
            {
                "message": "Операция не зарегистрирована на сервере. Обновите приложение.",
                "extensions": {"code": NOT_FOUND},
            }
        ],
    }
    assert adhoc["data"] is None and adhoc["errors"][0]["extensions"]["code"] == NOT_TRUSTED
    assert mismatch["data"] is None and mismatch["errors"][0]["extensions"]["code"] == NOT_TRUSTED
    assert registered["data"]["apiInfo"]["region"]["code"] == "26"


async def test_bad_variables_of_a_registered_document_get_a_clear_error(runtime: Runtime) -> None:
    text = (ROOT / "graphql" / "mobile" / "Organisations.graphql").read_text(encoding="utf-8")
    async with app_client(runtime) as client:
        body = (await client.post("/graphql", json=_by_hash(text, first="many"))).json()
    assert body["data"] is None
    assert "$first" in body["errors"][0]["message"]
    assert "INTERNAL_ERROR" not in json.dumps(body)


def _same_but_id(text: str) -> str:
    """A response body without its request id (each request has its own; a refusal's body carries it)."""
    return re.sub(r'"requestId":"[^"]*"', '"requestId":"…"', text)


async def test_operation_names_of_a_registered_document_are_answered_as_on_the_full_path(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, redis_url, trusted_documents_dir=_documents(tmp_path))
    runtime = Runtime.build(settings)
    answers: dict[str | None, list[tuple[int, str]]] = {}
    try:
        async with app_client(runtime, [testschema]) as client:
            for name in ("Second", None, "Third"):
                named = {"operationName": name} if name else {}
                thin = await client.post("/graphql", json={**_by_hash(PAIR), **named})
                full = await client.post("/graphql", json={"query": PAIR + "\n# ad hoc", **named})
                answers[name] = [(r.status_code, _same_but_id(r.text)) for r in (thin, full)]
    finally:
        await runtime.close()
    assert all(thin == full for thin, full in answers.values()), answers
    assert json.loads(answers["Second"][0][1])["data"]["apiInfo"]["channels"] == [
        "mobile",
        "epgu",
        "callcentre",
        "kiosk",
    ]
    assert answers["Third"][0][0] == 400
    assert "Third" in answers["Third"][0][1]


def test_a_registered_document_beyond_the_guards_stops_the_start(settings: Settings, tmp_path: Path) -> None:
    """Registered documents run without per-request guards, so they pass the same guards at start."""
    for client in ("mobile", "callcentre", "kiosk"):
        (tmp_path / client).mkdir()
    deep = "query Deep { tree " + "{ child " * 15 + "{ depth }" + " }" * 15 + " }"
    (tmp_path / "kiosk" / "Deep.graphql").write_text(deep, encoding="utf-8")
    with pytest.raises(TrustedDocumentError, match=r"kiosk/Deep.graphql: .*depth"):
        build_schema(settings.model_copy(update={"trusted_documents_dir": tmp_path}), [testschema])
    (tmp_path / "kiosk" / "Deep.graphql").unlink()
    aliases = "query Many { " + " ".join(f"a{i}: apiInfo {{ version }}" for i in range(40)) + " }"
    (tmp_path / "kiosk" / "Many.graphql").write_text(aliases, encoding="utf-8")
    with pytest.raises(TrustedDocumentError, match=r"kiosk/Many.graphql: .*aliases"):
        build_schema(settings.model_copy(update={"trusted_documents_dir": tmp_path}))
    introspective = "query Types { __schema { types { name } } }"
    (tmp_path / "kiosk" / "Many.graphql").write_text(introspective, encoding="utf-8")
    closed = settings.model_copy(update={"trusted_documents_dir": tmp_path, "introspection": False})
    with pytest.raises(TrustedDocumentError, match=r"kiosk/Many.graphql: .*introspection"):
        build_schema(closed)
