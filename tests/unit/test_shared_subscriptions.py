"""A subscription document is shared only when nothing below its root field reads a variable
(backend/api/live.py): what the root field's arguments read is the subscribe step's, per subscriber."""

from __future__ import annotations

import pytest
from graphql import FieldNode, OperationDefinitionNode, parse

from backend.api.live import _uses_variables


def _reads(text: str) -> bool:
    document = parse(text)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    field = operation.selection_set.selections[0]
    assert isinstance(field, FieldNode)
    return _uses_variables(field, document)


@pytest.mark.parametrize(
    ("text", "reads"),
    [
        ("subscription($c: UUID!) { watch(callId: $c) { kind position { at } } }", False),
        ("subscription($c: UUID!, $p: Boolean!) { watch(callId: $c) { kind position @include(if: $p) { at } } }", True),
        ("subscription($c: UUID!, $u: String) { watch(callId: $c) { kind label(unit: $u) } }", True),
        ("subscription($c: UUID!, $s: Boolean!) { watch(callId: $c) @skip(if: $s) { kind } }", True),
        ("subscription($c: UUID!) { watch(callId: $c) { ...F } } fragment F on U { kind(x: $c) }", True),
        ("subscription($c: UUID!) { watch(callId: $c) { ...F } } fragment F on U { kind }", False),
    ],
)
def test_a_variable_below_the_root_field_keeps_the_document_per_subscriber(text: str, reads: bool) -> None:
    assert _reads(text) is reads
