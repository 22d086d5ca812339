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

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from graphql import ExecutionResult, GraphQLError, OperationDefinitionNode, OperationType, execute, parse
from litestar import Request, Response, post
from litestar.background_tasks import BackgroundTasks
from litestar.enums import MediaType
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.litestar.controller import GraphQLResource

from backend.api import boundary, cost
from backend.api.extensions import mask_errors, request_id_of_context, unavailable
from backend.core.private_api import graphql_core_schema
from backend.middleware import request_id_of

if TYPE_CHECKING:
    from backend.api.schema import Schema
    from backend.api.trusted import TrustedDocument

log = structlog.get_logger("backend.api")

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


def trusted_request(schema: Schema, data: dict[str, Any]) -> TrustedRequest | None:
    """The request when the decoded body ``data`` runs a registered query or mutation as it is; None when
    Strawberry's view must answer it (anything unknown or unusual)."""
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
        if unavailable(masked) and getattr(context, "response", None) is not None:
            context.response.status_code = HTTP_503_SERVICE_UNAVAILABLE  # the database or Redis is out
    return response


_UNPARSABLE = "Unable to parse request body as JSON"
NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
_PARSE_MAX_TOKENS = 20_000  # beyond this the view's own token limit answers


@functools.lru_cache(maxsize=256)
def _operation_type(query: str, name: str | None) -> OperationType | None:
    """The type of the operation ``name`` (or the only one) of ``query``; None when that is not clear (the
    view then explains why)."""
    try:
        document = parse(query, no_location=True, max_tokens=_PARSE_MAX_TOKENS)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0].operation if len(operations) == 1 else None
    return next((o.operation for o in operations if o.name is not None and o.name.value == name), None)


def _subscription(schema: Schema, data: dict[str, Any]) -> bool:
    """True when a POST asks for a subscription (served over websockets only)."""
    name = data.get("operationName")
    document = schema.trusted_documents.resolve(data.get("query"), data.get("extensions"))
    if document is not None:
        types = document.operation_types
        kind = types.get(name) if name is not None else next(iter(types.values())) if len(types) == 1 else None
        return kind is OperationType.SUBSCRIPTION
    query = data.get("query")
    return (
        isinstance(query, str)
        and "subscription" in query
        and _operation_type(query, name) is OperationType.SUBSCRIPTION
    )


def _bounded(encoded: bytes, data: object, limit: int) -> bytes:
    """``encoded``, or a RESULT_TOO_LARGE error in its place when an operation's answer exceeds ``limit``."""
    if len(encoded) <= limit or not (isinstance(data, dict) and "data" in data):
        return encoded
    request_id = structlog.contextvars.get_contextvars().get("request_id", "—")
    log.warning("graphql.result_too_large", bytes=len(encoded), limit=limit)
    error = {"message": cost.RESULT_MESSAGE, "extensions": {"code": cost.RESULT_TOO_LARGE, "requestId": request_id}}
    return orjson.dumps({"data": None, "errors": [error]})


def _needs_authentication(value: Any) -> bool:
    """True when a response (its bytes or its decoded body) reports a refusal for want of authentication."""
    if isinstance(value, bytes | str):
        return NOT_AUTHENTICATED in (value if isinstance(value, str) else value.decode("utf-8", "replace"))
    if isinstance(value, dict):
        return value.get("code") == NOT_AUTHENTICATED or any(_needs_authentication(v) for v in value.values())
    if isinstance(value, list):
        return any(_needs_authentication(v) for v in value)
    return False


def _token_refused(request: Request[Any, Any, Any], context: Any, answer: Any) -> Response[Any] | None:
    """401 with the token's own error when a refused token left the caller anonymous and the operation needed
    authentication; None when it needed none (``apiInfo`` answers as to anyone)."""
    error = getattr(context, "auth_error", None)
    if error is None or not _needs_authentication(answer):
        return None
    return boundary.error_response(
        HTTP_401_UNAUTHORIZED,
        getattr(error, "code", NOT_AUTHENTICATED),
        str(error),
        request_id_of(request.scope),
        {"WWW-Authenticate": "Bearer"},
    )


def _bad_request(request: Request[Any, Any, Any], message: str) -> Response[Any]:
    return boundary.error_response(HTTP_400_BAD_REQUEST, boundary.BAD_REQUEST, message, request_id_of(request.scope))


def thin_controller(base: type, schema: Schema, get_context: ContextGetter, *, ide_html: str | None = None) -> type:
    """``base`` (Strawberry's Litestar controller) with orjson on the wire and the thin POST handler; its
    GraphiQL page is ``ide_html`` when given (the offline one of :mod:`backend.api.graphiql`)."""

    class GraphQLController(base):
        @property
        def graphql_ide_html(self) -> str:
            return ide_html if ide_html is not None else str(super().graphql_ide_html)

        def decode_json(self, data: str | bytes) -> object:
            return orjson.loads(data)

        def encode_json(self, data: object) -> bytes:
            return _bounded(orjson.dumps(data), data, schema.max_result_bytes)

        @post(status_code=HTTP_200_OK)
        async def handle_http_post(self, request: Request[Any, Any, Any]) -> Response[GraphQLResource | str]:
            context = await get_context(request)  # first, as Strawberry's handler has it
            body = await request.body()  # Litestar enforces the body size limit here (413)
            content_type = request.headers.get("content-type", "")
            trusted = None
            if "application/json" in content_type.lower():
                try:
                    data = orjson.loads(body)
                except orjson.JSONDecodeError:
                    return _bad_request(request, boundary.russian_graphql_request_error(_UNPARSABLE))
                problem = boundary.graphql_body_problem(data)
                if problem is not None:
                    return _bad_request(request, problem)
                trusted = trusted_request(schema, data)
                if trusted is None and _subscription(schema, data):
                    return _bad_request(request, boundary.SUBSCRIPTION_OVER_HTTP)
            sub_response: Response[Any] = Response({}, background=BackgroundTasks([]))
            context.request, context.response = request, sub_response
            if trusted is None:  # Strawberry's view, as its own POST handler would run it
                self.temporal_response = sub_response
                full: Response[Any] = await self.execute_request(request=request, context=context, root_value=None)
                refused = _token_refused(request, context, full.content)
                return refused if refused is not None else full
            payload = await execute_trusted(schema, trusted, context)
            refused = _token_refused(request, context, payload)
            if refused is not None:
                return refused
            response: Response[Any] = Response(
                _bounded(orjson.dumps(payload), payload, schema.max_result_bytes),
                status_code=sub_response.status_code or HTTP_200_OK,
                media_type=MediaType.JSON,
                headers=sub_response.headers,
                cookies=sub_response.cookies,
                background=sub_response.background,
            )
            return response

        async def execute_request(
            self, request: Request[Any, Any, Any], context: Any, root_value: Any
        ) -> Response[GraphQLResource | str]:
            # Strawberry answers a malformed request with its English reason as text/plain: the one error body.
            response: Response[Any] = await super().execute_request(
                request=request, context=context, root_value=root_value
            )
            status = response.status_code or HTTP_200_OK
            if status >= HTTP_400_BAD_REQUEST and isinstance(response.content, str):
                code = boundary.BAD_REQUEST if status == HTTP_400_BAD_REQUEST else boundary.status_code_name(status)
                message = boundary.russian_graphql_request_error(response.content, status)
                return boundary.error_response(status, code, message, request_id_of(request.scope))
            return response

    GraphQLController.__name__ = base.__name__
    return GraphQLController
