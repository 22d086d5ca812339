"""The HTTP boundary: one error body for every refusal, in Russian, with the request id.

Whatever the API refuses before (or instead of) running an operation answers with the same JSON shape,
whether it is GraphQL, a REST route or a Litestar refusal (unknown path, wrong method, a body too large)::

    {"code": "BAD_REQUEST", "message": "…по-русски…", "requestId": "…"}

``code`` is stable for clients; ``message`` is for the person; ``requestId`` is also in the
``x-request-id`` header. The app's exception handlers (:data:`EXCEPTION_HANDLERS`) give every
unexpected exception that shape too: an outage of the database or Redis answers 503 ``SERVICE_UNAVAILABLE``,
anything else 500 ``INTERNAL_ERROR``, and both are logged whole.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
import redis.exceptions
import sqlalchemy.exc
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from backend.middleware import request_id_of

log = structlog.get_logger("backend.api")

BAD_REQUEST = "BAD_REQUEST"
INTERNAL_ERROR = "INTERNAL_ERROR"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"

INTERNAL_MESSAGE = "Внутренняя ошибка сервера. Если она повторится, сообщите код запроса: {request_id}"
UNAVAILABLE_MESSAGE = (
    "Сервис временно недоступен, попробуйте через несколько минут. Если это повторится, сообщите код запроса: "
    "{request_id}"
)

# A Litestar (or Strawberry) refusal by status: its stable code and the Russian text shown instead.
_BY_STATUS: dict[int, tuple[str, str]] = {
    400: (BAD_REQUEST, "Неверный запрос."),
    401: ("NOT_AUTHENTICATED", "Войдите через Госуслуги, чтобы продолжить."),
    403: ("ACCESS_DENIED", "Недостаточно прав для этого действия."),
    404: ("NOT_FOUND", "Такого адреса нет."),
    405: ("METHOD_NOT_ALLOWED", "Этот адрес не принимает такой метод запроса."),
    406: ("NOT_ACCEPTABLE", "Сервер не может ответить в запрошенном формате."),
    413: ("REQUEST_TOO_LARGE", "Запрос слишком большой."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Неподдерживаемый тип содержимого запроса."),
    429: ("TOO_MANY_REQUESTS", "Слишком много запросов. Попробуйте позже."),
}

SUBSCRIPTION_OVER_HTTP = "Подписки работают только через WebSocket (протокол graphql-transport-ws)."

# Strawberry's own 400 texts (English) for malformed GraphQL requests, and what a person reads instead.
GRAPHQL_REQUEST_ERRORS: dict[str, str] = {
    "Unable to parse request body as JSON": "Тело запроса не является корректным JSON.",
    "Unsupported content type": "Отправьте запрос GraphQL как application/json.",
    "No GraphQL query found in the request": "В запросе нет операции GraphQL (поле query).",
    "Batching is not enabled": "Пакетные запросы (массив операций) не поддерживаются: отправьте одну операцию.",
    "queries are not allowed when using GET": "Запросы GraphQL принимаются только методом POST.",
    "mutations are not allowed when using GET": "Запросы GraphQL принимаются только методом POST.",
    "subscriptions are not allowed when using POST": SUBSCRIPTION_OVER_HTTP,
    "Can't get GraphQL operation type": "Не удалось определить операцию: укажите operationName.",
    "Not Found": "Такого адреса нет.",
    "GraphQL only supports GET and POST requests.": "Этот адрес не принимает такой метод запроса.",
}
NOT_AN_OBJECT = "Тело запроса должно быть JSON-объектом с полем query или extensions."
BAD_FIELD = "Поле {field} запроса GraphQL должно быть {kind}."
NUL_CHARACTER = "Запрос содержит недопустимый символ (NUL, код 0)."


def error_body(code: str, message: str, request_id: str) -> dict[str, str]:
    return {"code": code, "message": message, "requestId": request_id}


def error_response(
    status: int, code: str, message: str, request_id: str, headers: Mapping[str, str] | None = None
) -> Response[Any]:
    return Response(
        error_body(code, message, request_id),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


def russian_graphql_request_error(reason: str, status: int = HTTP_400_BAD_REQUEST) -> str:
    """Strawberry's English refusal (``reason``) as a person reads it."""
    unknown = re.fullmatch(r'Unknown operation named "(.*)"\.', reason, flags=re.DOTALL)
    if unknown:
        return f"В запросе нет операции с именем «{unknown.group(1)}» (operationName)."
    known = GRAPHQL_REQUEST_ERRORS.get(reason)
    if known is not None:
        return known
    return _BY_STATUS.get(status, _BY_STATUS[HTTP_400_BAD_REQUEST])[1]


def status_code_name(status: int) -> str:
    """The stable code of a refusal by HTTP status (``BAD_REQUEST`` for one without its own)."""
    return _BY_STATUS.get(status, (BAD_REQUEST, ""))[0]


# ------------------------------------------------------------------------------------------ request bodies

_FIELDS: tuple[tuple[str, type, str], ...] = (
    ("query", str, "строкой"),
    ("operationName", str, "строкой"),
    ("variables", dict, "объектом"),
    ("extensions", dict, "объектом"),
)
# A GraphQL string escape naming U+0000 in the query text itself (``\u0000`` or ``\u{0}``).
_NUL_ESCAPE = re.compile(r"\\u(?:0000|\{0+\})")


def graphql_body_problem(data: Any) -> str | None:
    """Why a decoded GraphQL POST body is refused (a Russian message), or None when it is well formed.

    Refused: anything but one JSON object (``null``, a string, a number, a boolean, an array: no
    batching), its fields of the wrong kind, and a NUL character in any string, whether sent in JSON
    (variables, the query) or as an escape in the query's own string literals: PostgreSQL cannot store
    it, and no input needs it."""
    if isinstance(data, list):
        return GRAPHQL_REQUEST_ERRORS["Batching is not enabled"]
    if not isinstance(data, dict):
        return NOT_AN_OBJECT
    for field, kind, name in _FIELDS:
        value = data.get(field)
        if value is not None and not isinstance(value, kind):
            return BAD_FIELD.format(field=field, kind=name)
    if has_nul(data):
        return NUL_CHARACTER
    query = data.get("query")
    if query is not None and "\\u" in query and _NUL_ESCAPE.search(query):
        return NUL_CHARACTER
    return None


def has_nul(value: Any) -> bool:
    """True when any string in ``value`` (keys too, at any depth) holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


# ------------------------------------------------------------------------------------------ outages


_OUTAGE: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted (OSError subclasses)
    TimeoutError,
    asyncio.TimeoutError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,  # the pool gave no connection in time
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,  # the server has no connection left for us: out for now, as well
)


def is_outage(exc: BaseException | None) -> bool:
    """True when ``exc`` (or what caused it) says the database or Redis could not be reached."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, _OUTAGE) or getattr(exc, "connection_invalidated", False):
            return True
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


# ------------------------------------------------------------------------------------------ exception handlers


def _request_id(request: Request[Any, Any, Any], headers: dict[str, str]) -> str:
    """The request's id; a refusal before the middleware ran (no such route) gets one here, and its header."""
    known = (request.scope.get("state") or {}).get("request_id")
    request_id = request_id_of(request.scope)
    if not known:
        headers["x-request-id"] = request_id
    return request_id


def _http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    headers = dict(exc.headers or {})
    request_id = _request_id(request, headers)
    code, message = _BY_STATUS.get(exc.status_code, (BAD_REQUEST, _BY_STATUS[HTTP_400_BAD_REQUEST][1]))
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    if isinstance(exc, NotAuthorizedException) and extra.get("code"):
        code, message = str(extra["code"]), str(exc.detail)  # a refused token: its own code and Russian text
    if exc.status_code >= HTTP_500_INTERNAL_SERVER_ERROR:
        code, message = INTERNAL_ERROR, INTERNAL_MESSAGE.format(request_id=request_id)
    if exc.status_code == HTTP_401_UNAUTHORIZED:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return error_response(exc.status_code, code, message, request_id, headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    headers: dict[str, str] = {}
    request_id = _request_id(request, headers)
    if is_outage(exc):
        log.error("http.service_unavailable", request_id=request_id, path=request.url.path, exc_info=exc)
        return error_response(
            HTTP_503_SERVICE_UNAVAILABLE,
            SERVICE_UNAVAILABLE,
            UNAVAILABLE_MESSAGE.format(request_id=request_id),
            request_id,
            {**headers, "Retry-After": "30"},
        )
    log.error("http.internal_error", request_id=request_id, path=request.url.path, exc_info=exc)
    return error_response(
        HTTP_500_INTERNAL_SERVER_ERROR,
        INTERNAL_ERROR,
        INTERNAL_MESSAGE.format(request_id=request_id),
        request_id,
        headers,
    )


def _handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, HTTPException):
        return _http_exception(request, exc)
    return _unexpected(request, exc)


#: For ``Litestar(exception_handlers=…)``: every refusal and every unexpected error in the one body.
EXCEPTION_HANDLERS: dict[type[Exception] | int, Callable[[Request[Any, Any, Any], Any], Response[Any]]] = {
    HTTPException: _handler,
    HTTP_500_INTERNAL_SERVER_ERROR: _handler,
}
