"""Error masking with an allow-list: only errors meant for the client keep their text.

An unexpected exception reaches the client as a Russian message with the request id (so a 122 operator
or a patient can quote it), under ``extensions.code = INTERNAL_ERROR``; the whole error is logged.
A streamed result (each ``next`` of a subscription, an operation over a websocket) is masked before it
is sent (``on_stream_result``), not only once the stream has ended.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import structlog
from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension

from backend.api.problems import PublicError

log = structlog.get_logger("backend.api")

INTERNAL_MESSAGE = "Внутренняя ошибка сервера. Если она повторится, сообщите код запроса: {request_id}"


def is_public(error: GraphQLError) -> bool:
    original = error.original_error
    # No original error: a syntax or validation error produced by GraphQL itself (safe to show).
    return original is None or isinstance(original, (PublicError, GraphQLError))


def mask_errors(errors: Sequence[GraphQLError], request_id: str, operation: str | None) -> list[GraphQLError]:
    """Public errors as they are (with their code); every other one logged whole and replaced by
    :data:`INTERNAL_MESSAGE` with the request id. Used by :class:`MaskInternalErrors` and the trusted path."""
    processed: list[GraphQLError] = []
    for error in errors:
        if is_public(error):
            original = error.original_error
            extensions = dict(error.extensions or {})
            if isinstance(original, PublicError):
                extensions.setdefault("code", original.code)
            processed.append(
                GraphQLError(
                    error.message,
                    nodes=error.nodes,
                    source=error.source,
                    positions=error.positions,
                    path=error.path,
                    extensions=extensions or None,
                )
            )
            continue
        log.error(
            "graphql.internal_error",
            request_id=request_id,
            path=list(error.path or []),
            operation=operation,
            exc_info=error.original_error,
        )
        processed.append(
            GraphQLError(
                INTERNAL_MESSAGE.format(request_id=request_id),
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={"code": "INTERNAL_ERROR", "requestId": request_id},
            )
        )
    return processed


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
        request_id = request_id_of_context(self.execution_context.context)
        result.errors = mask_errors(result.errors or [], request_id, self.execution_context.operation_name)
