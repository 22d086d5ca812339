"""Drugs tests run on the runtime's own in-process simulators (ЛЛО and ИЭМК) over the small demo region, on
one movable clock (``tests.support.documents.use_clock``)."""

from __future__ import annotations

import pytest

from backend.runtime import Runtime
from tests.support.documents import Clock, use_clock


@pytest.fixture
def clock(runtime: Runtime) -> Clock:
    return use_clock(runtime)
