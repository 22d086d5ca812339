"""The HTTP boundary: malformed GraphQL requests get a typed Russian 400 in the one error body, never a 500."""

from __future__ import annotations

import re

import pytest

from backend.runtime import Runtime
from tests.support.client import app_client

pytestmark = pytest.mark.dialect

_CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def _assert_error_body(response: object, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body: dict[str, str] = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"code", "message", "requestId"}
    assert body["code"] == code
    assert _CYRILLIC.search(body["message"]), body["message"]
    assert body["requestId"] == response.headers["x-request-id"]  # type: ignore[attr-defined]
    return body


@pytest.mark.parametrize("raw", [b"null", b'"q"', b"1", b"true", b"1.5"])
async def test_a_json_body_that_is_not_an_object_is_a_typed_400(runtime: Runtime, raw: bytes) -> None:
    async with app_client(runtime) as client:
        response = await client.post("/graphql", content=raw, headers={"content-type": "application/json"})
    body = _assert_error_body(response, 400, "BAD_REQUEST")
    assert body["message"] == "Тело запроса должно быть JSON-объектом с полем query или extensions."


@pytest.mark.parametrize(
    ("raw", "content_type", "message"),
    [
        (b"{", "application/json", "Тело запроса не является корректным JSON."),
        (b"[]", "application/json", "Пакетные запросы (массив операций) не поддерживаются: отправьте одну операцию."),
        (b"{}", "application/json", "В запросе нет операции GraphQL (поле query)."),
        (b'{"query": 1}', "application/json", "Поле query запроса GraphQL должно быть строкой."),
        (b'{"query": "{ apiInfo { version } }", "variables": []}', "application/json", None),
        (b"{ apiInfo { version } }", "text/plain", "Отправьте запрос GraphQL как application/json."),
    ],
    ids=["unparsable", "batch", "no-query", "query-not-a-string", "variables-not-an-object", "text-plain"],
)
async def test_malformed_requests_are_refused_in_russian(
    runtime: Runtime, raw: bytes, content_type: str, message: str | None
) -> None:
    async with app_client(runtime) as client:
        response = await client.post("/graphql", content=raw, headers={"content-type": content_type})
    body = _assert_error_body(response, 400, "BAD_REQUEST")
    if message is not None:
        assert body["message"] == message


async def test_a_get_query_is_refused_in_russian(runtime: Runtime) -> None:
    async with app_client(runtime) as client:
        response = await client.get("/graphql", params={"query": "{ apiInfo { version } }"})
    body = _assert_error_body(response, 400, "BAD_REQUEST")
    assert body["message"] == "Запросы GraphQL принимаются только методом POST."


async def test_a_body_too_large_is_refused_in_russian(runtime: Runtime) -> None:
    too_large = b"x" * (runtime.settings.max_request_body_bytes + 1)
    async with app_client(runtime) as client:
        response = await client.post("/graphql", content=too_large, headers={"content-type": "application/json"})
    body = _assert_error_body(response, 413, "REQUEST_TOO_LARGE")
    assert body["message"] == "Запрос слишком большой."


async def test_an_unknown_path_and_a_wrong_method_are_refused_in_russian(runtime: Runtime) -> None:
    async with app_client(runtime) as client:
        missing = await client.get("/no-such-page")
        wrong = await client.delete("/graphql")
    _assert_error_body(missing, 404, "NOT_FOUND")
    _assert_error_body(wrong, 405, "METHOD_NOT_ALLOWED")


async def test_a_well_formed_request_still_runs(runtime: Runtime) -> None:
    async with app_client(runtime) as client:
        response = await client.post("/graphql", json={"query": "{ apiInfo { version } }"})
    assert response.status_code == 200
    assert response.json()["data"]["apiInfo"]["version"]
