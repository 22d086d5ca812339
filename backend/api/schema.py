"""One schema from the per-domain modules.

Each domain exposes ``schema.py`` with any of ``Query``, ``Mutation``, ``Subscription`` (Strawberry types
merged here), ``TYPES`` (extra types to register, e.g. union members only reached through interfaces) and
``SHARED_SUBSCRIPTIONS`` (root subscription fields whose ``next`` message is built once per event for every
subscriber of a registered document: see :mod:`backend.api.live`).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry import relay
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from backend.api.cost import cost_limit_rule
from backend.api.extensions import MaskInternalErrors
from backend.api.scalars import SCALAR_OVERRIDES
from backend.api.trusted import TrustedDocuments, TrustedDocumentsExtension
from backend.core.private_api import graphql_core_schema
from backend.settings import Settings

# The domains, in the order their fields appear in the schema.
DOMAIN_MODULES: tuple[str, ...] = (
    "backend.system.schema",
    "backend.directory.schema",
    "backend.identity.schema",
    "backend.booking.schema",
    "backend.home_visits.schema",
    "backend.attachment.schema",
    "notifications.schema",
    "backend.documents.schema",
    "backend.vault.schema",
    "backend.ambulance.schema",
    "backend.vaccination.schema",
    "backend.insurance.schema",
    "backend.drugs.schema",
    "backend.dispanserization.schema",
    "backend.referrals.schema",
    "backend.no_shows.schema",
    "backend.waitlist.schema",
    "backend.surveys.schema",
    "backend.call_record.schema",
)


class Schema(strawberry.Schema):
    trusted_documents: TrustedDocuments
    max_result_bytes: int  # a larger answer is replaced by a RESULT_TOO_LARGE error (backend/api/transport.py)
    shared_subscription_fields: frozenset[str]  # GraphQL names (backend/api/live.py)
    shared_documents: dict[tuple[str, str | None], Any]  # (query, operation name) → SharedDocument or None

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # MaskInternalErrors logs what matters with the request id; the default would log each twice.
        return None


def _node_query() -> type:
    # Built afresh for every schema: relay.node() fields are mutated when a schema is built.
    @strawberry.type
    class NodeQuery:
        node: relay.Node | None = relay.node(description="Любой объект по его глобальному идентификатору.")

    return NodeQuery


def _collect(modules: Sequence[ModuleType], attr: str) -> tuple[type, ...]:
    return tuple(getattr(m, attr) for m in modules if hasattr(m, attr))


def validation_rules(settings: Settings) -> tuple[type[ASTValidationRule], ...]:
    """The guards beyond the standard rules: depth, alias and cost limits, and no introspection where it is off."""
    rules = [
        *QueryDepthLimiter(max_depth=settings.query_depth_limit).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.query_max_aliases).validation_rules,
        cost_limit_rule(settings.query_max_cost),
    ]
    if not settings.introspection:
        rules += DisableIntrospection().validation_rules
    return tuple(rules)


#: Schemas built in this process, by the settings and the extra modules they were built from. A process
#: builds one in production; the test suite builds an app per test, and a schema with its trusted documents
#: validated costs ~1.5 s. Nothing mutates a schema once built (requests get fresh extensions).
_BUILT: dict[tuple[str, tuple[str, ...]], Schema] = {}


def build_schema(settings: Settings, extra_modules: Sequence[ModuleType] = ()) -> Schema:
    """The schema of the domains plus ``extra_modules``, with its trusted documents loaded (built once per
    process for the same settings and modules)."""
    key = (settings.model_dump_json(), tuple(m.__name__ for m in extra_modules))
    built = _BUILT.get(key)
    if built is None:
        built = _BUILT[key] = _build_schema(settings, extra_modules)
    return built


def _build_schema(settings: Settings, extra_modules: Sequence[ModuleType]) -> Schema:
    registry = TrustedDocuments()
    modules = [importlib.import_module(name) for name in DOMAIN_MODULES]
    modules += [m for m in extra_modules if m not in modules]  # a registered domain given again counts once
    queries = (_node_query(), *_collect(modules, "Query"))
    mutations = _collect(modules, "Mutation")
    subscriptions = _collect(modules, "Subscription")
    types: list[Any] = [t for m in modules for t in getattr(m, "TYPES", ())]
    # Factories, not instances: Strawberry gives each request fresh extensions only when it builds them.
    # A shared instance keeps one ``execution_context`` for every request in flight, so the masking of one
    # request could read another's result and let an internal error through unmasked. The validation rules
    # are built once: the validation cache keys on the rule classes (a limiter built per request would make
    # a new class, and a miss, every time).
    rules = validation_rules(settings)
    extensions: list[Any] = [
        functools.partial(AddValidationRules, list(rules)),
        functools.partial(MaxTokensLimiter, max_token_count=settings.query_max_tokens),
        functools.partial(TrustedDocumentsExtension, registry=registry, enforce=bool(settings.trusted_documents_only)),
        functools.partial(ParserCache, maxsize=1024),  # the parse and validation caches are module-wide
        functools.partial(ValidationCache, maxsize=1024),
        MaskInternalErrors,
    ]
    schema = Schema(
        query=merge_types("Query", queries),
        mutation=merge_types("Mutation", mutations) if mutations else None,
        subscription=merge_types("Subscription", subscriptions) if subscriptions else None,
        types=types,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
        scalar_overrides=SCALAR_OVERRIDES,  # bounded dates, moments with a time zone (backend/api/scalars.py)
    )
    schema.max_result_bytes = settings.query_max_result_bytes
    schema.shared_subscription_fields = frozenset(f for m in modules for f in getattr(m, "SHARED_SUBSCRIPTIONS", ()))
    schema.shared_documents = {}
    schema.trusted_documents = registry.load(
        settings.trusted_documents_dir, graphql_core_schema(schema), rules=rules, max_tokens=settings.query_max_tokens
    )
    return schema
