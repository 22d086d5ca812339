"""Call record tests: the app over ASGI with a staff login; builders in ``tests/support/call_record.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from backend.runtime import Runtime
from tests.support.identity import identity_client


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with identity_client(runtime) as c:
        yield c
