"""One schema from the per-domain modules.

Each domain exposes ``schema.py`` with any of ``Query``, ``Mutation``, ``Subscription`` (Strawberry types
merged here) and ``TYPES`` (extra types to register, e.g. union members only reached through interfaces).
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry import relay
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from backend.api.extensions import MaskInternalErrors
from backend.api.trusted import TrustedDocuments, TrustedDocumentsExtension
from backend.settings import Settings

# The domains, in the order their fields appear in the schema.
DOMAIN_MODULES: tuple[str, ...] = (
    "backend.system.schema",
    "backend.directory.schema",
    "backend.identity.schema",
    "backend.booking.schema",
    "notifications.schema",
)


class Schema(strawberry.Schema):
    trusted_documents: TrustedDocuments

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # MaskInternalErrors logs what matters with the request id; the default would log each twice.
        return None


def _node_query() -> type:
    # Built afresh for every schema: relay.node() fields are mutated when a schema is built.
    @strawberry.type
    class NodeQuery:
        node: relay.Node | None = relay.node(description="Любой объект по его глобальному идентификатору.")

    return NodeQuery


def _per_operation(prototype: SchemaExtension) -> Callable[[], SchemaExtension]:
    """A fresh copy of ``prototype`` for every operation. Strawberry stores the operation's
    ``execution_context`` on the extension, so one instance shared by concurrent operations (a long-lived
    subscription and the requests after it) would mask or limit another operation's result. The copy is
    shallow: the limiters' validation rule classes stay the same objects, so the validation cache hits."""
    return lambda: copy.copy(prototype)


def _collect(modules: Sequence[ModuleType], attr: str) -> tuple[type, ...]:
    return tuple(getattr(m, attr) for m in modules if hasattr(m, attr))


def build_schema(settings: Settings, extra_modules: Sequence[ModuleType] = ()) -> Schema:
    """The schema of the domains plus ``extra_modules``, with its trusted documents loaded."""
    registry = TrustedDocuments()
    modules = [importlib.import_module(name) for name in DOMAIN_MODULES]
    modules += [m for m in extra_modules if m not in modules]  # a registered domain given again counts once
    queries = (_node_query(), *_collect(modules, "Query"))
    mutations = _collect(modules, "Mutation")
    subscriptions = _collect(modules, "Subscription")
    types: list[Any] = [t for m in modules for t in getattr(m, "TYPES", ())]
    prototypes: list[SchemaExtension] = [
        QueryDepthLimiter(max_depth=settings.query_depth_limit),
        MaxTokensLimiter(max_token_count=settings.query_max_tokens),
        MaxAliasesLimiter(max_alias_count=settings.query_max_aliases),
        TrustedDocumentsExtension(registry=registry, enforce=bool(settings.trusted_documents_only)),
        ParserCache(maxsize=1024),
        ValidationCache(maxsize=1024),
        MaskInternalErrors(),
    ]
    if not settings.introspection:
        prototypes.append(DisableIntrospection())
    extensions = [_per_operation(p) for p in prototypes]
    schema = Schema(
        query=merge_types("Query", queries),
        mutation=merge_types("Mutation", mutations) if mutations else None,
        subscription=merge_types("Subscription", subscriptions) if subscriptions else None,
        types=types,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
    )
    schema.trusted_documents = registry.load(settings.trusted_documents_dir, schema._schema)
    return schema
