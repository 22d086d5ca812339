"""GraphQL over HTTP: a thin POST path for registered client documents, Strawberry's view for the rest.

Every trusted document (``graphql/<client>/*.graphql``) was parsed and validated at start, with the same
guards an ad-hoc query passes (depth, aliases, tokens, introspection; see :mod:`backend.api.trusted`).
A POST that names one (by hash, or by its very text) is executed directly: graphql-core's ``execute``
with the cached ``DocumentNode`` and Strawberry's execution context class, orjson on both sides, errors
masked exactly as :class:`~backend.api.extensions.MaskInternalErrors` masks them. Nothing of that
depends on the request, so nothing of it is redone per request: no parse, no validation, no schema
extension hooks, no dependency injection or thread hop for the sub-response.

Everything else takes Strawberry's own path, unchanged: ad-hoc queries in development (with the
limits, the parser and validation caches and masking as schema extensions), unknown hashes and texts
that differ from their hash (the trusted-documents extension answers them with their codes), malformed
requests (Strawberry's 400s), subscriptions, GraphiQL (GET) and websockets (``graphql-transport-ws``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

import orjson
from graphql import ExecutionResult, GraphQLError, OperationType, execute
from litestar import Request, Response, post
from litestar.background_tasks import BackgroundTasks
from litestar.enums import MediaType
from litestar.status_codes import HTTP_200_OK
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.litestar.controller import GraphQLResource

from backend.api.extensions import mask_errors, request_id_of_context
from backend.core.private_api import graphql_core_schema

if TYPE_CHECKING:
    from backend.api.schema import Schema
    from backend.api.trusted import TrustedDocument

ContextGetter = Callable[[Request[Any, Any, Any]], Awaitable[Any]]

_DIRECT = frozenset({OperationType.QUERY, OperationType.MUTATION})


_MALFORMED = object()


def _optional(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    return value if value is None or isinstance(value, kind) else _MALFORMED


@dataclass(frozen=True)
class TrustedRequest:
    document: TrustedDocument
    operation_name: str  # "" for the anonymous operation
    variables: dict[str, Any] | None
    extensions: dict[str, Any] | None


def trusted_request(schema: Schema, body: bytes) -> TrustedRequest | None:
    """The request when ``body`` runs a registered query or mutation as it is; None when Strawberry's
    view must answer it (anything malformed, unknown or unusual)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    query = _optional(data, "query", str)
    variables = _optional(data, "variables", dict)
    extensions = _optional(data, "extensions", dict)
    name = _optional(data, "operationName", str)
    if _MALFORMED in (query, variables, extensions, name):
        return None
    document = schema.trusted_documents.resolve(query, extensions)
    if document is None:
        return None
    types = document.operation_types
    if name is None and len(types) == 1:
        name = next(iter(types))
    # No name with several operations, an unknown name, a subscription: Strawberry's view explains or serves it.
    if types.get(name) not in _DIRECT:
        return None
    return TrustedRequest(document, name, variables, extensions)


async def execute_trusted(schema: Schema, request: TrustedRequest, context: Any) -> dict[str, Any]:
    """The response body of a registered document: its cached DocumentNode executed by graphql-core."""
    operation = request.operation_name or None
    try:
        result = execute(
            graphql_core_schema(schema),
            request.document.document,
            context_value=context,
            variable_values=request.variables,
            operation_name=operation,
            executor_class=schema.execution_context_class,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
            operation_extensions=request.extensions,
        )
        if isawaitable(result):
            result = await result
    except Exception as exc:  # reaches the client masked, and is logged whole
        result = ExecutionResult(data=None, errors=[GraphQLError(str(exc), original_error=exc)])
    assert isinstance(result, ExecutionResult)
    response: dict[str, Any] = {"data": result.data}
    if result.errors:
        masked = mask_errors(result.errors, request_id_of_context(context), operation)
        response["errors"] = [error.formatted for error in masked]
    return response


def thin_controller(base: type, schema: Schema, get_context: ContextGetter) -> type:
    """``base`` (Strawberry's Litestar controller) with orjson on the wire and the thin POST handler."""

    class GraphQLController(base):
        def decode_json(self, data: str | bytes) -> object:
            return orjson.loads(data)

        def encode_json(self, data: object) -> bytes:
            return orjson.dumps(data)

        @post(status_code=HTTP_200_OK)
        async def handle_http_post(self, request: Request[Any, Any, Any]) -> Response[GraphQLResource | str]:
            context = await get_context(request)  # first, as Strawberry's handler has it (a bad token: 401)
            body = await request.body()  # Litestar enforces the body size limit here (413)
            content_type = request.headers.get("content-type", "")
            trusted = trusted_request(schema, body) if "application/json" in content_type.lower() else None
            sub_response: Response[Any] = Response({}, background=BackgroundTasks([]))
            context.request, context.response = request, sub_response
            if trusted is None:  # Strawberry's view, as its own POST handler would run it
                self.temporal_response = sub_response
                full: Response[Any] = await self.execute_request(request=request, context=context, root_value=None)
                return full
            payload = await execute_trusted(schema, trusted, context)
            response: Response[Any] = Response(
                orjson.dumps(payload),
                status_code=sub_response.status_code or HTTP_200_OK,
                media_type=MediaType.JSON,
                headers=sub_response.headers,
                cookies=sub_response.cookies,
                background=sub_response.background,
            )
            return response

    GraphQLController.__name__ = base.__name__
    return GraphQLController
