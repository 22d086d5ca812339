"""Error masking with an allow-list: only errors meant for the client keep their text.

An unexpected exception reaches the client as a Russian message with the request id (so a 122 operator
or a patient can quote it), under ``extensions.code = INTERNAL_ERROR``; the whole error is logged.
A streamed result (each ``next`` of a subscription, an operation over a websocket) is masked before it
is sent (``on_stream_result``), not only once the stream has ended.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import structlog
from graphql.error import GraphQLError
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import SchemaExtension
from strawberry.relay.types import GlobalIDValueError

from backend.api.boundary import (
    INTERNAL_ERROR,
    INTERNAL_MESSAGE,
    SERVICE_UNAVAILABLE,
    UNAVAILABLE_MESSAGE,
    is_outage,
)
from backend.api.problems import PublicError

log = structlog.get_logger("backend.api")

INVALID_ID_MESSAGE = "Неверный идентификатор объекта: такой id не выдавал этот сервер."
INVALID_VALUE_MESSAGE = "Неверное значение параметра запроса."
_COERCION = re.compile(r'Value cannot represent an? (\w+): "(.*?)"', flags=re.DOTALL)


def is_public(error: GraphQLError) -> bool:
    original = error.original_error
    # No original error: a syntax or validation error produced by GraphQL itself (safe to show).
    return original is None or isinstance(original, (PublicError, GraphQLError))


def _causes(error: GraphQLError) -> Iterator[BaseException]:
    """The errors an error wraps, outermost first: a variable's or a literal's error wraps the scalar's."""
    seen: set[int] = set()
    found: BaseException | None = error.original_error
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        yield found
        found = found.original_error if isinstance(found, GraphQLError) else None


def _russian(error: GraphQLError) -> tuple[str, str] | None:
    """(code, Russian message) of an input error whose own text would be English, or None."""
    for cause in _causes(error):
        if isinstance(cause, PublicError):
            return cause.code, str(cause)
        if isinstance(cause, GlobalIDValueError):
            return "INVALID_ID", INVALID_ID_MESSAGE
        if isinstance(cause, StrawberryInputCoercionError):
            match = _COERCION.search(cause.message)
            if match is None:
                return "INVALID_INPUT", INVALID_VALUE_MESSAGE
            return "INVALID_INPUT", f"Значение «{match.group(2)}» не подходит для типа {match.group(1)}."
    return None


def _replaced(error: GraphQLError, message: str, extensions: dict[str, Any] | None) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions or None,
    )


def mask_errors(errors: Sequence[GraphQLError], request_id: str, operation: str | None) -> list[GraphQLError]:
    """Public errors as they are (with their code), input errors in Russian (a bad id, a bad date: their
    typed code); every other one logged whole and replaced by :data:`INTERNAL_MESSAGE` with the request id,
    or by :data:`UNAVAILABLE_MESSAGE` (``SERVICE_UNAVAILABLE``) when the database or Redis could not be
    reached. Used by :class:`MaskInternalErrors` and the trusted path."""
    processed: list[GraphQLError] = []
    for error in errors:
        russian = _russian(error)
        if russian is not None:
            code, message = russian
            processed.append(_replaced(error, message, {"code": code, **(error.extensions or {})}))
            continue
        if is_public(error):
            processed.append(_replaced(error, error.message, dict(error.extensions or {})))
            continue
        outage = is_outage(error.original_error)
        log.error(
            "graphql.service_unavailable" if outage else "graphql.internal_error",
            request_id=request_id,
            path=list(error.path or []),
            operation=operation,
            exc_info=error.original_error,
        )
        code, text = (SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE) if outage else (INTERNAL_ERROR, INTERNAL_MESSAGE)
        processed.append(_replaced(error, text.format(request_id=request_id), {"code": code, "requestId": request_id}))
    return processed


def unavailable(errors: Sequence[GraphQLError] | None) -> bool:
    """True when a masked result failed because the database or Redis could not be reached (answer 503)."""
    return any((e.extensions or {}).get("code") == SERVICE_UNAVAILABLE for e in errors or ())


def request_id_of_context(context: object) -> str:
    return getattr(getattr(context, "ctx", None), "request_id", None) or "—"


class MaskInternalErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        self._mask(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._mask(result)
        yield

    def _mask(self, result: Any) -> None:
        if result is None or not getattr(result, "errors", None):
            return
        context = self.execution_context.context
        request_id = request_id_of_context(context)
        result.errors = mask_errors(result.errors or [], request_id, self.execution_context.operation_name)
        response = getattr(context, "response", None)
        if unavailable(result.errors) and response is not None and hasattr(response, "status_code"):
            response.status_code = HTTP_503_SERVICE_UNAVAILABLE  # the HTTP answer of Strawberry's view
