"""The ambulance bench's floor: a no-op subscription over the same transport and bus (no policy, no
database, no state first): each update on the call's bus is forwarded as it is."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry

from backend.api.context import Info


@strawberry.type
class BenchNoopUpdate:
    at: datetime


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def bench_ambulance_noop(self, info: Info, call_id: uuid.UUID) -> AsyncGenerator[BenchNoopUpdate, Any]:
        bus = info.context.runtime.adapters.ambulance_bus
        with bus.open_mailbox(call_id) as mailbox:
            while True:
                update = await mailbox.get()
                yield BenchNoopUpdate(at=update.position_at or update.at)
