"""Trusted documents: each client's operations, registered by hash at start.

Every ``graphql/<client>/*.graphql`` file is parsed and validated against the schema when the app is
built (a broken file stops the start with its path). A client sends the hash instead of the text, in
the persisted-query shape ``{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}}``.
In production only registered documents run (``MZ_TRUSTED_DOCUMENTS_ONLY``); in development any query
runs, and a registered one may still be sent by hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    specified_rules,
    validate,
)
from strawberry.extensions import SchemaExtension

CLIENTS: tuple[str, ...] = ("mobile", "callcentre", "kiosk")

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_TRUSTED = "OPERATION_NOT_TRUSTED"


class TrustedDocumentError(Exception):
    """A trusted document does not parse or validate: the application must not start."""


def document_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TrustedDocument:
    hash: str
    client: str
    path: str
    operations: tuple[str, ...]
    root_fields: frozenset[str]
    text: str
    document: DocumentNode  # parsed and validated once, at start
    operation_types: Mapping[str, OperationType]  # operation name ("" if anonymous) → its type


@dataclass
class TrustedDocuments:
    by_hash: dict[str, TrustedDocument] = field(default_factory=dict)
    by_client: dict[str, list[TrustedDocument]] = field(default_factory=dict)

    def get(self, sha256_hash: str) -> TrustedDocument | None:
        return self.by_hash.get(sha256_hash.lower())

    def for_client(self, client: str) -> list[TrustedDocument]:
        return list(self.by_client.get(client, ()))

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> TrustedDocument | None:
        """The registered document a request names (by hash, or by its very text), if it names one.

        None for anything else (an unknown hash, a text that differs from its hash, an ad-hoc query):
        :class:`TrustedDocumentsExtension` on the full path answers those."""
        wanted = _persisted_hash(extensions)
        if wanted is not None:
            document = self.get(wanted)
            if document is None or (query is not None and document_hash(query) != document.hash):
                return None
            return document
        return self.by_hash.get(document_hash(query)) if query is not None else None

    def load(
        self,
        root: Path,
        schema: GraphQLSchema,
        *,
        rules: Sequence[type[ASTValidationRule]] = (),
        max_tokens: int | None = None,
    ) -> TrustedDocuments:
        """Parse and validate every client's documents; raise TrustedDocumentError on the first bad one.

        ``rules`` and ``max_tokens``: the guards ad-hoc queries pass (depth, aliases, introspection, tokens),
        checked here once, so that a registered document can run without them per request."""
        loaded: dict[str, TrustedDocument] = {}
        per_client: dict[str, list[TrustedDocument]] = {client: [] for client in CLIENTS}
        all_rules = (*specified_rules, *rules)
        for client in CLIENTS:
            for path in sorted((root / client).glob("*.graphql")):
                text = path.read_text(encoding="utf-8")
                rel = f"{client}/{path.name}"
                try:
                    document = parse(text, max_tokens=max_tokens)
                except GraphQLError as exc:
                    raise TrustedDocumentError(f"{rel}: {exc.message}") from None
                errors = validate(schema, document, all_rules)
                if errors:
                    raise TrustedDocumentError(f"{rel}: {errors[0].message}")
                operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
                if not operations:
                    raise TrustedDocumentError(f"{rel}: no operation in the document")
                fields = frozenset(
                    sel.name.value for op in operations for sel in op.selection_set.selections if hasattr(sel, "name")
                )
                digest = document_hash(text)
                trusted = TrustedDocument(
                    hash=digest,
                    client=client,
                    path=rel,
                    operations=tuple(op.name.value if op.name else "" for op in operations),
                    root_fields=fields,
                    text=text,
                    document=document,
                    operation_types={op.name.value if op.name else "": op.operation for op in operations},
                )
                # The same text in several clients' folders is one document (one hash).
                loaded.setdefault(digest, trusted)
                per_client[client].append(trusted)
        self.by_hash = loaded
        self.by_client = per_client
        return self


def _persisted_hash(extensions: Mapping[str, Any] | None) -> str | None:
    persisted = (extensions or {}).get("persistedQuery")
    if isinstance(persisted, Mapping):
        value = persisted.get("sha256Hash")
        if isinstance(value, str):
            return value
    return None


class TrustedDocumentsExtension(SchemaExtension):
    """Resolve a persisted-query hash to its registered text; in enforcing mode refuse anything else."""

    def __init__(self, *, registry: TrustedDocuments, enforce: bool) -> None:
        self.registry = registry
        self.enforce = enforce

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        wanted = _persisted_hash(context.operation_extensions)
        if wanted is not None:
            document = self.registry.get(wanted)
            if document is None:
                raise GraphQLError(
                    "Операция не зарегистрирована на сервере. Обновите приложение.",
                    extensions={"code": NOT_FOUND},
                )
            if context.query is not None and document_hash(context.query) != document.hash:
                raise GraphQLError("Текст операции не совпадает с её хешем.", extensions={"code": NOT_TRUSTED})
            context.query = document.text
        elif self.enforce and (context.query is None or self.registry.get(document_hash(context.query)) is None):
            raise GraphQLError(
                "Разрешены только зарегистрированные операции клиентов.",
                extensions={"code": NOT_TRUSTED},
            )
        yield
