"""The private library attributes the fast paths lean on are still there (backend/core/private_api.py)."""

from __future__ import annotations

import inspect

import pytest

from backend.api import schema, transport
from backend.core import hot
from backend.core.private_api import PRIVATE_DEPENDENCIES, PrivateDependency


@pytest.mark.parametrize("dependency", PRIVATE_DEPENDENCIES, ids=lambda d: f"{d.distribution}:{d.attribute}")
def test_the_installed_library_still_has_it(dependency: PrivateDependency) -> None:
    if dependency.missing():
        pytest.fail(dependency.explain(), pytrace=False)


def test_a_removed_attribute_is_reported_with_library_version_and_name() -> None:
    gone = PrivateDependency(
        "sqlalchemy",
        "sqlalchemy.dialects.postgresql.asyncpg:AsyncAdapt_asyncpg_connection",
        "_begin_differently",
        "nothing (a probe of this test)",
    )
    assert gone.missing()
    message = gone.explain()
    assert message.startswith(f"sqlalchemy {gone.installed_version()}: ")
    assert "AsyncAdapt_asyncpg_connection has no `_begin_differently`" in message
    no_longer_read = PrivateDependency(
        "strawberry-graphql",
        "strawberry.litestar.controller:GraphQLController",
        "not_the_sub_response",
        "nothing (a probe of this test)",
        read_in="get_sub_response",
    )
    assert no_longer_read.missing()
    assert "get_sub_response no longer reads `not_the_sub_response`" in no_longer_read.explain()


def test_the_code_reads_the_names_from_the_registry() -> None:
    for module in (hot, transport, schema):
        source = inspect.getsource(module)
        for name in ("_start_transaction", "_execute_mutex", "._schema"):
            assert name not in source, f"{module.__name__} spells {name} itself: use backend.core.private_api"
