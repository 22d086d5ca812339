"""Home-visit tests: ``visits`` is booking's small region with the home-call and attachment simulators
over it, wired into the runtime (``tests.support.home_visits.start_visits``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backend.runtime import Runtime
from tests.support.home_visits import VisitEnv, start_visits


@pytest.fixture
async def visits(runtime: Runtime) -> AsyncIterator[VisitEnv]:
    yield await start_visits(runtime)
    await runtime.relay.drain()
