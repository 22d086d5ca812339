"""The private and undocumented parts of libraries that the fast paths lean on, listed in one place.

The fast paths (:mod:`backend.core.hot`, :mod:`backend.api.transport`) reach past the public API of
SQLAlchemy's asyncpg adapter and of Strawberry. Every such name is spelled here and nowhere else: the
code reads them through the constants and helpers below, and ``tests/unit/test_private_dependencies.py``
checks each entry of :data:`PRIVATE_DEPENDENCIES` against the installed library, failing with the
library, its version and the attribute when an upgrade removes one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import strawberry

if TYPE_CHECKING:
    from graphql import GraphQLSchema
    from strawberry import Schema

# SQLAlchemy's asyncpg adapter (``AsyncAdapt_asyncpg_connection``): how it begins a transaction, the lock
# around each of its statements, and the transaction it holds (None when none is open).
ADAPTER_START_TRANSACTION = "_start_transaction"
ADAPTER_EXECUTE_MUTEX = "_execute_mutex"
ADAPTER_TRANSACTION = "_transaction"

# Strawberry's schema keeps the graphql-core schema it built in a private attribute.
STRAWBERRY_GRAPHQL_SCHEMA = "_schema"


def graphql_core_schema(schema: Schema) -> GraphQLSchema:
    """The graphql-core schema Strawberry built (there is no public accessor)."""
    core: GraphQLSchema = getattr(schema, STRAWBERRY_GRAPHQL_SCHEMA)
    return core


@dataclass(frozen=True)
class PrivateDependency:
    """One name of a library used outside its public API."""

    distribution: str  # the package as installed (its version is reported)
    owner: str  # ``module:qualname`` of the class, function or module that has the attribute
    attribute: str
    used_by: str  # what leans on it, and what to do when it is gone
    read_in: str | None = None  # set by us, read by the library: the owner's method whose source reads it

    def probe(self) -> Any:
        """The object to look the attribute up on: the class itself, or an instance where only an instance has it."""
        module, _, qualname = self.owner.partition(":")
        found: Any = import_module(module)
        for part in qualname.split(".") if qualname else ():
            found = getattr(found, part)
        factory = _INSTANCE_FACTORIES.get(self.owner)
        return factory(found) if factory is not None else found

    def installed_version(self) -> str:
        return version(self.distribution)

    def missing(self) -> bool:
        """True when the installed library no longer has the attribute (or no longer reads it)."""
        try:
            owner = self.probe()
        except (ImportError, AttributeError):
            return True
        if self.read_in is None:
            return not hasattr(owner, self.attribute)
        method = getattr(owner, self.read_in, None)
        if method is None:
            return True
        try:
            source = inspect.getsource(method)
        except (OSError, TypeError):
            return True
        return f".{self.attribute}" not in source

    def explain(self) -> str:
        where = f"{self.owner}.{self.read_in} no longer reads" if self.read_in else f"{self.owner} has no"
        return (
            f"{self.distribution} {self.installed_version()}: {where} `{self.attribute}`, which we rely on. "
            f"Used by: {self.used_by}."
        )


def _minimal_strawberry_schema(schema_class: type) -> Any:
    @strawberry.type
    class Query:
        ping: str = "pong"

    return schema_class(query=Query)


# Attributes set in ``__init__`` (not slots, not methods) exist only on an instance.
_INSTANCE_FACTORIES: dict[str, Callable[[Any], Any]] = {
    "strawberry.schema.schema:Schema": _minimal_strawberry_schema,
}

_ADAPTER = "sqlalchemy.dialects.postgresql.asyncpg:AsyncAdapt_asyncpg_connection"
_BEGIN = (
    "HotStatement begins the session's transaction through the adapter so that its first statement runs on "
    "the driver too (backend/core/hot.py, _begin_on_adapter); without it that statement falls back to "
    "SQLAlchemy's path (correct, slower): find the new way to begin, or drop the fast begin"
)

PRIVATE_DEPENDENCIES: tuple[PrivateDependency, ...] = (
    PrivateDependency("sqlalchemy", _ADAPTER, ADAPTER_START_TRANSACTION, _BEGIN),
    PrivateDependency("sqlalchemy", _ADAPTER, ADAPTER_EXECUTE_MUTEX, _BEGIN),
    PrivateDependency("sqlalchemy", _ADAPTER, ADAPTER_TRANSACTION, _BEGIN),
    PrivateDependency(
        "strawberry-graphql",
        "strawberry.schema.schema:Schema",
        STRAWBERRY_GRAPHQL_SCHEMA,
        "the thin path executes trusted documents on the graphql-core schema, and they are validated against "
        "it at start (backend/api/transport.py, backend/api/schema.py): find Strawberry's new accessor",
    ),
    PrivateDependency(
        "strawberry-graphql",
        "strawberry.schema.schema:Schema",
        "execution_context_class",
        "the thin path executes with Strawberry's execution context class (backend/api/transport.py)",
    ),
    PrivateDependency(
        "strawberry-graphql",
        "strawberry.execution.is_awaitable",
        "optimized_is_awaitable",
        "the thin path passes graphql-core Strawberry's awaitable check (backend/api/transport.py)",
    ),
    PrivateDependency(
        "strawberry-graphql",
        "strawberry.litestar.controller:GraphQLController",
        "execute_request",
        "the thin POST handler hands everything it does not run itself to Strawberry's view "
        "(backend/api/transport.py, thin_controller)",
    ),
    PrivateDependency(
        "strawberry-graphql",
        "strawberry.litestar.controller:GraphQLController",
        "temporal_response",
        "the thin POST handler sets the sub-response (headers, cookies, background tasks) where Strawberry's "
        "view reads it (backend/api/transport.py, thin_controller)",
        read_in="get_sub_response",
    ),
)
