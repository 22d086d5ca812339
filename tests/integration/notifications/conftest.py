"""Notification tests: ``rig`` is a runtime with frozen clocks and the SMS, push and e-mail simulators
(``tests.support.notifications.notification_rig``); a module that needs other settings overrides it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.notifications import Rig, notification_rig


@pytest.fixture
async def rig(database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    async with notification_rig(database_url, redis_url, tmp_path) as rig:
        yield rig
