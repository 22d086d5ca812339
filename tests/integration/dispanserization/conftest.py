"""Dispanserization tests: ``care`` is the booking region with the adult clinic's rooms, the referral-capable
hub client and the attachment simulator (``tests.support.care.start_care``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backend.runtime import Runtime
from tests.support.care import CareEnv, start_care


@pytest.fixture
async def care(runtime: Runtime) -> AsyncIterator[CareEnv]:
    yield await start_care(runtime)
    await runtime.relay.drain()
