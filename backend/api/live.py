"""Shared subscriptions: a registered subscription document's ``next`` message built once per event.

Strawberry serves a subscription per subscriber: for every event, each subscriber's operation executes its
selection with graphql-core, passes the result through every schema extension's stream hooks, builds the
``next`` message as a dict and encodes it. When thousands watch the same kind of event (the ambulance's
``ambulanceCallUpdated``: the caller and the patient of a call, every position), that is the same work done
again for every subscriber.

A root subscription field declared **shared** by its domain (``SHARED_SUBSCRIPTIONS`` in the domain's
``schema.py``) promises that its selection's output is a function of the event object alone (plain fields of
the yielded object: no context, no arguments below the root field) and that its subscribers of one process
are given the *same* event object. For a **registered** client document (``graphql/<client>/*.graphql``,
parsed and validated at start) that selects one shared root field and uses no variable below it,
:class:`SharedSubscriptions` runs the operation itself:

* the subscribe step per subscriber, as graphql-core specifies it (``Executor.build`` coerces the variables,
  ``create_source_event_stream`` calls the field's subscribe resolver: the policy is checked and the current
  state read there, exactly as on Strawberry's path);
* per event, the ``payload`` text (``{"data": …}``) executed and encoded once, kept on the event object
  itself, and every subscriber of the event sends the same text in its own frame (``{"id": <its id>,
  "type": "next", "payload": <the text>}``), straight to the websocket; a result with errors is masked as
  everywhere, with its own subscriber's request id, and not shared;
* the selection's fields collected once per document (:func:`shared_executor_class`).

Anything else (an ad-hoc document, a registered document selecting an unshared field, a document with a
variable below the root field) takes Strawberry's path unchanged. Errors keep Strawberry's shapes: a
failed subscribe step is an ``error`` message; an error raised by the stream is a ``next`` with ``errors``
and then ``complete``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable
from contextlib import aclosing, nullcontext, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    create_source_event_stream,
    execute_subscription_event,
    visit,
)
from graphql.language import Visitor
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from backend.api.extensions import mask_errors, request_id_of_context
from backend.core.private_api import graphql_core_schema

if TYPE_CHECKING:
    from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation

    from backend.api.schema import Schema

_CACHE_ATTR = "_mz_shared_payloads"  # on the event object: document key → the payload text


@dataclass(frozen=True, slots=True)
class SharedDocument:
    """A registered subscription document whose one root field is shared."""

    key: str  # the document's hash and operation name: the event's cache key
    document: DocumentNode
    operation_name: str | None
    #: graphql-core's collected subfields by return type and field nodes, kept for the document's life (see
    #: :func:`shared_executor_class`).
    subfields: dict[tuple[Any, ...], Any] = field(default_factory=dict)


_EXECUTORS: dict[type, type] = {}


def shared_executor_class(base: type) -> Any:
    """``base`` (the schema's graphql-core executor class) collecting each selection's subfields once per
    document instead of once per execution.

    graphql-core memoizes collected subfields by the identity of the per-execution field lists, so every
    event's execution collects its whole selection again (``collect_subfields`` was a quarter of the shared
    path's CPU, ``bench/ambulance_live.py``). A shared document's selection reads no variable and its nodes
    live as long as the document: the collected fields depend only on the return type and the field nodes.
    A field list with a ``@defer`` usage or fragment variables is collected as graphql-core does it."""
    found = _EXECUTORS.get(base)
    if found is not None:
        return found

    class SharedSelectionExecutor(base):
        shared_subfields: dict[tuple[Any, ...], Any] | None = None

        def collect_subfields(self, return_type: Any, field_details_list: Any) -> Any:
            cache = self.shared_subfields
            if cache is None or any(
                d.defer_usage is not None or d.fragment_variable_values is not None for d in field_details_list
            ):
                return super().collect_subfields(return_type, field_details_list)
            key = (return_type, *(id(d.node) for d in field_details_list))
            collected = cache.get(key)
            if collected is None:
                collected = cache[key] = super().collect_subfields(return_type, field_details_list)
            return collected

    _EXECUTORS[base] = SharedSelectionExecutor
    return SharedSelectionExecutor


class _FindsVariables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.found = True


def _uses_variables(field: FieldNode, document: DocumentNode) -> bool:
    """True when anything below the root field (or a directive on it, or any fragment of the document: a
    conservative reading) reads a variable."""
    finder = _FindsVariables()
    fragments = [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
    for node in (*(field.directives or ()), *((field.selection_set,) if field.selection_set else ()), *fragments):
        visit(node, finder)
    return finder.found


def shared_document(schema: Schema, query: str | None, operation_name: str | None) -> SharedDocument | None:
    """The shared form of the operation a ``subscribe`` message asks for; None for Strawberry's path."""
    if not query or not schema.shared_subscription_fields:
        return None
    cache = schema.shared_documents
    key = (query, operation_name)
    if key in cache:
        return cache[key]
    found = _shared_document(schema, query, operation_name)
    if len(cache) < 1024:  # registered documents only, and a few operation names: small
        cache[key] = found
    return found


def _shared_document(schema: Schema, query: str, operation_name: str | None) -> SharedDocument | None:
    trusted = schema.trusted_documents.resolve(query, None)
    if trusted is None:
        return None
    operations = [d for d in trusted.document.definitions if isinstance(d, OperationDefinitionNode)]
    named = [o for o in operations if operation_name is None or (o.name is not None and o.name.value == operation_name)]
    if len(named) != 1:
        return None
    operation = named[0]
    if operation.operation is not OperationType.SUBSCRIPTION:
        return None
    selections = operation.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    field = selections[0]
    if field.name.value not in schema.shared_subscription_fields or _uses_variables(field, trusted.document):
        return None
    return SharedDocument(key=f"{trusted.hash}:{operation_name or ''}", document=trusted.document,
                          operation_name=operation_name)  # fmt: skip


async def _send(operation: Operation[Any, Any], message: dict[str, Any]) -> None:
    await operation.send_operation_message(message)  # type: ignore[arg-type]


def _coerce(error: Exception) -> GraphQLError:
    return error if isinstance(error, GraphQLError) else GraphQLError(str(error), original_error=error)


class SharedSubscriptions(BaseGraphQLTransportWSHandler):
    """graphql-transport-ws serving shared subscriptions once per event: a mixin put before the session-bound
    handler of identity (``backend/app.py`` composes the two; the API layer does not import identity's)."""

    async def run_operation(self, operation: Operation[Any, Any]) -> None:
        schema: Schema = self.schema  # type: ignore[assignment]
        shared = shared_document(schema, operation.query, operation.operation_name)
        if shared is None:
            await super().run_operation(operation)
            return
        try:
            await self._run_shared(operation, shared, schema)
            await _send(operation, {"id": operation.id, "type": "complete"})
        except Exception as error:  # as Strawberry's run_operation: report, complete, forget
            await self.handle_task_exception(error)
            with suppress(Exception):
                await _send(operation, {"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise

    def _masked(self, errors: list[GraphQLError], shared: SharedDocument) -> list[Any]:
        masked = mask_errors(errors, request_id_of_context(self.context), shared.operation_name)
        return [error.formatted for error in masked]

    async def _run_shared(self, operation: Operation[Any, Any], shared: SharedDocument, schema: Schema) -> None:
        executor = shared_executor_class(schema.execution_context_class).build(
            graphql_core_schema(schema),
            shared.document,
            root_value=self.root_value,
            context_value=self.context,
            raw_variable_values=operation.variables,
            operation_name=shared.operation_name,
            is_awaitable=optimized_is_awaitable,
        )
        if isinstance(executor, list):  # the variables did not coerce
            await _send(operation, {"id": operation.id, "type": "error", "payload": self._masked(executor, shared)})
            return
        executor.shared_subfields = shared.subfields  # the per-event copies share it
        source: Any = create_source_event_stream(executor)
        if optimized_is_awaitable(source):
            source = await source
        if isinstance(source, ExecutionResult):  # the subscribe resolver refused or failed
            errors = self._masked(list(source.errors or ()), shared)
            await _send(operation, {"id": operation.id, "type": "error", "payload": errors})
            return
        assert isinstance(source, AsyncIterable)
        prefix = '{"id":' + orjson.dumps(operation.id).decode() + ',"type":"next","payload":'
        send = self._sender()
        events: Any = aiter(source)
        async with aclosing(events) if hasattr(events, "aclose") else nullcontext():
            while not operation.completed:
                try:
                    event = await anext(events)
                except StopAsyncIteration:
                    return
                except Exception as exc:  # the stream failed: a ``next`` with the error, as on Strawberry's path
                    payload = {"data": None, "errors": self._masked([_coerce(exc)], shared)}
                    await _send(operation, {"id": operation.id, "type": "next", "payload": payload})
                    return
                await send(prefix + await self._payload(event, executor, shared) + "}")

    async def _payload(self, event: Any, executor: Any, shared: SharedDocument) -> str:
        """The event's ``payload`` text for this document: executed and encoded by its first subscriber."""
        cache: dict[str, Any] | None = getattr(event, "__dict__", None)
        if cache is not None:
            stored: dict[str, str] | None = cache.get(_CACHE_ATTR)
            if stored is not None and shared.key in stored:
                return stored[shared.key]
        result: Any = execute_subscription_event(executor.build_per_event_executor(event))
        if optimized_is_awaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        body: dict[str, Any] = {"data": result.data}
        if result.errors:  # masked with this subscriber's request id, logged for it: not shared
            body["errors"] = self._masked(list(result.errors), shared)
            return orjson.dumps(body).decode()
        text = orjson.dumps(body).decode()
        if cache is not None:
            cache.setdefault(_CACHE_ATTR, {})[shared.key] = text
        return text

    def _sender(self) -> Callable[[str], Awaitable[None]]:
        """Send one text frame: straight on Litestar's websocket when that is what the adapter wraps."""
        ws = getattr(self.websocket, "ws", None)
        if not isinstance(ws, WebSocket):

            async def via_adapter(text: str) -> None:
                await self.websocket.send_json(orjson.loads(text))

            return via_adapter

        async def direct(text: str) -> None:
            try:
                await ws.send_data(text)
            except WebSocketDisconnect as exc:  # as the adapter translates it
                raise WebSocketDisconnected from exc

        return direct
