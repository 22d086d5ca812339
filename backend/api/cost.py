"""Limits on what one GraphQL operation may cost: an estimated cost checked before it runs, and the size of
its answer checked before it is sent.

The depth and alias limits let through a narrow query that nests lists inside lists
(``organisations { … doctors { organisation { doctors { … } } } }``): each level multiplies the work.
The cost is an upper estimate made from the document alone, before anything runs: every field costs one
per object it may be resolved on, and a list multiplies what is selected under it by its size — the
``first``/``limit`` argument when the field has one (the literal, else the field's default, else
:data:`PAGE_SIZE_WHEN_VARIABLE`), :data:`LIST_SIZE` for a list without one. A connection's page size
counts once: the ``edges`` list under a field that took ``first`` does not multiply again. Registered
client documents pass the same rule when they are loaded, so they are known to be within the limit.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
    is_interface_type,
    is_object_type,
)

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
RESULT_TOO_LARGE = "RESULT_TOO_LARGE"
COST_MESSAGE = "Запрос слишком сложный (оценка {cost} при пределе {limit}): запросите меньше вложенных списков."
RESULT_MESSAGE = "Ответ слишком большой: запросите меньше данных (например, меньшую страницу)."

LIST_SIZE = 50  # assumed size of a list field without a page-size argument
PAGE_SIZE_WHEN_VARIABLE = 100  # a page size given by a variable is not known when the document is checked
_SIZE_ARGUMENTS = ("first", "limit", "last")


def _list_depth(field: GraphQLField) -> bool:
    kind: Any = field.type
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


def _page_size(field: GraphQLField, node: FieldNode) -> int | None:
    for name in _SIZE_ARGUMENTS:
        if name not in field.args:
            continue
        given = next((a for a in node.arguments or () if a.name.value == name), None)
        if given is None:
            default = field.args[name].default_value
            return max(int(default), 1) if isinstance(default, int) else PAGE_SIZE_WHEN_VARIABLE
        if isinstance(given.value, IntValueNode):
            return max(int(given.value.value), 1)
        return PAGE_SIZE_WHEN_VARIABLE
    return None


class _Estimate:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], limit: int) -> None:
        self.schema = schema
        self.fragments = fragments
        self.limit = limit

    def selection(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, times: int, paged: bool, seen: frozenset[str]
    ) -> int:
        total = 0
        for node in selection_set.selections:
            if total > self.limit:
                break  # already over: no need to know by how much
            if isinstance(node, FieldNode):
                total += self.field(node, parent, times, paged, seen)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                target = self.schema.get_type(condition.name.value) if condition is not None else parent
                total += self.selection(node.selection_set, target or parent, times, paged, seen)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue  # another rule reports unknown fragments and cycles
                target = self.schema.get_type(fragment.type_condition.name.value) or parent
                total += self.selection(fragment.selection_set, target, times, paged, seen | {name})
        return total

    def field(self, node: FieldNode, parent: GraphQLNamedType, times: int, paged: bool, seen: frozenset[str]) -> int:
        if not (is_object_type(parent) or is_interface_type(parent)):
            return times  # __typename on a union
        fields = parent.fields
        definition: GraphQLField | None = fields.get(node.name.value)
        if definition is None:
            return times  # __typename, introspection, or unknown (another rule reports it)
        cost = times
        size = _page_size(definition, node)
        if size is not None:
            times, paged = times * size, True
        elif _list_depth(definition):
            times, paged = (times, False) if paged else (times * LIST_SIZE, False)
        if node.selection_set is not None:
            cost += self.selection(node.selection_set, get_named_type(definition.type), times, paged, seen)
        return cost


def estimated_cost(
    schema: GraphQLSchema, operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode], limit: int
) -> int:
    """The cost of ``operation`` (stops counting a little past ``limit``)."""
    root: GraphQLObjectType | None = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    return _Estimate(schema, fragments, limit).selection(operation.selection_set, root, 1, False, frozenset())


def cost_limit_rule(limit: int) -> type[ValidationRule]:
    """A validation rule refusing operations whose :func:`estimated_cost` exceeds ``limit``."""

    class CostLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            cost = estimated_cost(self.context.schema, node, self.fragments, limit)
            if cost > limit:
                self.report_error(
                    GraphQLError(
                        COST_MESSAGE.format(cost=cost, limit=limit),
                        node,
                        extensions={"code": QUERY_TOO_COMPLEX},
                    )
                )

    CostLimit.__name__ = f"CostLimit{limit}"
    return CostLimit
