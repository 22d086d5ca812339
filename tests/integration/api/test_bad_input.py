"""Bad input is refused where it enters, with a typed Russian error: never INTERNAL_ERROR, never English."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from backend.runtime import Runtime
from tests.support.client import app_client

pytestmark = pytest.mark.dialect

_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
NUL_MESSAGE = "Запрос содержит недопустимый символ (NUL, код 0)."
STAFF_LOGIN = 'mutation($l: String!) { staffLogin(login: $l, password: "x", totpCode: "1") { __typename } }'
SEARCH = "query($c: String!) { searchSlots(specialtyCode: $c) { __typename } }"


def _errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = body.get("errors") or []
    assert errors, body
    for error in errors:
        assert (error.get("extensions") or {}).get("code") != "INTERNAL_ERROR", error
        assert _CYRILLIC.search(error["message"]), error["message"]
    return errors


@pytest.mark.parametrize(
    "payload",
    [
        {"query": STAFF_LOGIN, "variables": {"l": "op\x00"}},
        {"query": 'mutation { staffLogin(login: "op\\u0000", password: "x", totpCode: "1") { __typename } }'},
        {"query": 'mutation { staffLogin(login: "op\\u{0}", password: "x", totpCode: "1") { __typename } }'},
        {"query": SEARCH, "variables": {"c": "\x0076"}},
        {"query": "query($c: String!) { searchSlots(specialtyCode: $c) { __typename } }", "variables": {"c\x00": "1"}},
    ],
    ids=["variable", "literal-escape", "literal-brace-escape", "specialty", "variable-name"],
)
async def test_a_nul_character_anywhere_is_refused_at_the_boundary(
    runtime: Runtime, payload: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    async with app_client(runtime) as client:
        response = await client.post("/graphql", json=payload)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "BAD_REQUEST"
    assert response.json()["message"] == NUL_MESSAGE
    assert "graphql.internal_error" not in caplog.text


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        (
            '{ myInbox(before: "2026-01-01T00:00:00") { id } }',
            None,
            "Укажите часовой пояс у даты и времени, например 2026-03-01T09:00:00+03:00.",
        ),
        (
            "query($b: DateTime) { myInbox(before: $b) { id } }",
            {"b": "2026-01-01T00:00:00"},
            "Укажите часовой пояс у даты и времени, например 2026-03-01T09:00:00+03:00.",
        ),
        (
            '{ searchSlots(specialtyCode: "109", dateFrom: "9999-12-31") { __typename } }',
            None,
            "Дата вне допустимого диапазона (1900–2100 годы).",
        ),
        (
            'query($d: Date) { searchSlots(specialtyCode: "109", dateFrom: $d) { __typename } }',
            {"d": "0000-01-01"},
            "Дата должна быть в формате ГГГГ-ММ-ДД, например 2026-03-01.",
        ),
        (
            'query($d: Date) { searchSlots(specialtyCode: "109", dateFrom: $d) { __typename } }',
            {"d": 20260301},
            "Дата должна быть в формате ГГГГ-ММ-ДД, например 2026-03-01.",
        ),
    ],
    ids=["naive-literal", "naive-variable", "year-9999", "year-0", "not-a-string"],
)
async def test_naive_or_out_of_range_moments_are_typed_russian_errors(
    runtime: Runtime, query: str, variables: dict[str, Any] | None, message: str
) -> None:
    async with app_client(runtime) as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200
    (error,) = _errors(response.json())
    assert error["message"] == message
    assert error["extensions"]["code"] == "INVALID_INPUT"


@pytest.mark.parametrize(
    "node_id",
    ["abc", base64.b64encode(b"ApiInfo:1").decode(), base64.b64encode(b"NoSuchType:1").decode()],
    ids=["malformed", "not-a-node-type", "unknown-type"],
)
async def test_a_bad_global_id_is_a_typed_russian_error(runtime: Runtime, node_id: str) -> None:
    async with app_client(runtime) as client:
        response = await client.post(
            "/graphql", json={"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": node_id}}
        )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] in (None, {"node": None})
    (error,) = _errors(body)
    assert error["extensions"]["code"] == "INVALID_ID"
    assert error["message"] == "Неверный идентификатор объекта: такой id не выдавал этот сервер."


async def test_a_malformed_uuid_is_refused_in_russian(runtime: Runtime) -> None:
    query = "query($p: UUID) { myInbox(actingFor: $p) { id } }"
    async with app_client(runtime) as client:
        response = await client.post("/graphql", json={"query": query, "variables": {"p": "not-a-uuid"}})
    (error,) = _errors(response.json())
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert "not-a-uuid" in error["message"]


@pytest.mark.parametrize(
    "payload",
    [
        {"query": "subscription { heartbeat(count: 1) }"},
        {"query": "query A { apiInfo { version } } subscription B { heartbeat(count: 1) }", "operationName": "B"},
    ],
    ids=["only-operation", "named"],
)
async def test_a_subscription_sent_by_post_is_refused_in_russian(runtime: Runtime, payload: dict[str, Any]) -> None:
    async with app_client(runtime) as client:
        response = await client.post("/graphql", json=payload)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "BAD_REQUEST"
    assert response.json()["message"] == "Подписки работают только через WebSocket (протокол graphql-transport-ws)."
