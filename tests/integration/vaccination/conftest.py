"""Vaccination tests: the demo region's people as patients (the ИЭМК simulator holds a child's СЭМД 170, the
immunization register simulator an adult's childhood history), on a clock of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backend.runtime import Runtime
from tests.support.documents import Clock, use_clock


@pytest.fixture
async def clock(runtime: Runtime) -> AsyncIterator[Clock]:
    yield use_clock(runtime)
    await runtime.relay.drain()
