"""Ambulance tests: the СМП simulator over the demo region on the test's clock, wired into the runtime
(``tests.support.ambulance.start_smp``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backend.runtime import Runtime
from tests.support.ambulance import SmpEnv, start_smp


@pytest.fixture
async def smp(runtime: Runtime) -> AsyncIterator[SmpEnv]:
    yield await start_smp(runtime)
    await runtime.relay.drain()
