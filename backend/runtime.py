"""The process-wide container: settings, database, Redis, the outbox relay and upstream adapters.

The API server, the Celery worker and the CLI each build one Runtime; nothing else holds globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.core.db import create_engine, create_read_sessionmaker, create_sessionmaker
from backend.outbox.service import CeleryRelay, InlineRelay, Relay
from backend.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(eq=False)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis | None
    relay: Relay = field(init=False)
    # Upstream adapters and other lazily built services, keyed by name (see backend.integrations_registry).
    services: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def reads(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for one read statement each (DataLoader batches); see create_read_sessionmaker."""
        return create_read_sessionmaker(self.engine)

    def __post_init__(self) -> None:
        if self.settings.celery_eager:
            self.relay = InlineRelay(self, serial=self.settings.is_sqlite)
        else:
            from backend.worker import send_outbox_task

            self.relay = CeleryRelay(send_outbox_task)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        engine = create_engine(
            settings.database_url, pool_size=settings.database_pool_size, echo=settings.database_echo
        )
        redis = (
            Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
            if settings.redis_url
            else None
        )
        return cls(settings=settings, engine=engine, sessionmaker=create_sessionmaker(engine), redis=redis)

    async def close(self) -> None:
        await self.relay.drain()
        for service in self.services.values():
            closer = getattr(service, "aclose", None)
            if closer is not None:
                await closer()
        self.services.clear()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
