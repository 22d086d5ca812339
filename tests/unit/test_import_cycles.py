"""No import cycle joins two parts of the house (see docs/house.md, "Imports").

The parts: each package under ``backend`` (a domain such as ``backend.booking``, or ``backend.api``,
``backend.outbox`` …) and each module directly under it (``backend.runtime``, ``backend.adapters`` …),
``notifications``, and each package of ``integrations``. Two refinements make the rule say what the house
means:

* a domain's entry points (``tasks.py``, ``schema.py``, ``routes.py``) are parts of their own: they sit
  above the runtime and the API layer (a task runs on the worker's runtime; a resolver uses the API
  layer), while the rest of the domain sits below them;
* each module of ``backend.core`` is a part of its own: core is a toolbox (``db``, ``context``,
  ``uow`` …), and the unit of work may use the outbox and the audit trail, which use ``core.db``.

Imports under ``if TYPE_CHECKING:`` are not imports at run time and do not count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

import grimp

ROOTS = ("backend", "integrations", "notifications")
ENTRY_POINTS = frozenset({"tasks", "schema", "routes"})


def part_of(module: str) -> str:
    names = module.split(".")
    if names[-1] in ENTRY_POINTS and len(names) > 1:
        return module
    if names[0] == "notifications":
        return "notifications"
    if names[:2] == ["backend", "core"]:
        return module
    return ".".join(names[:2])


def cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    nodes = set(edges) | {target for targets in edges.values() for target in targets}
    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return found


def part_edges(graph: grimp.ImportGraph) -> tuple[dict[str, set[str]], dict[tuple[str, str], list[str]]]:
    edges: dict[str, set[str]] = defaultdict(set)
    examples: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            source, target = part_of(module), part_of(imported)
            if source != target:
                edges[source].add(target)
                examples[(source, target)].append(f"{module} -> {imported}")
    return edges, examples


def test_no_import_cycle_joins_two_parts_of_the_house() -> None:
    graph = grimp.build_graph(*ROOTS, exclude_type_checking_imports=True)
    edges, examples = part_edges(graph)
    found = cycles(edges)
    explained = [
        "; ".join(sorted(example for a in cycle for b in edges[a] if b in cycle for example in examples[(a, b)][:2]))
        for cycle in found
    ]
    assert not found, f"import cycles between parts of the house: {found}\nthrough: {explained}"


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle() -> None:
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert cycles({"a": ["b"], "b": ["c"], "d": ["a"]}) == []


def test_parts_are_packages_with_entry_points_and_core_modules_apart() -> None:
    assert part_of("backend.booking.service") == "backend.booking"
    assert part_of("backend.booking.tasks") == "backend.booking.tasks"
    assert part_of("notifications.delivery") == "notifications"
    assert part_of("notifications.schema") == "notifications.schema"
    assert part_of("backend.core.uow") == "backend.core.uow"
    assert part_of("backend.runtime") == "backend.runtime"
    assert part_of("integrations.fer.client") == "integrations.fer"
