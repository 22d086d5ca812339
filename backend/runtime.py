"""The process-wide container: settings, database, Redis, the outbox relay and the adapters.

The API server, the Celery worker and the CLI each build one Runtime; nothing else holds globals.
``Runtime.build`` is the composition root: it wires the outbox handlers and the hooks between domains
(see :mod:`backend.wiring`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import structlog
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend import wiring
from backend.adapters import Adapters
from backend.celery_app import send_outbox_task
from backend.core.db import create_engine, create_read_sessionmaker, create_sessionmaker
from backend.outbox.service import CeleryRelay, InlineRelay, Relay
from backend.settings import Settings

log = structlog.get_logger(__name__)

#: Builds the relay of a runtime (it may need the runtime: the inline relay runs handlers in it).
RelayFactory = Callable[["Runtime"], Relay]


def default_relay(runtime: Runtime) -> Relay:
    """Inline (Celery-eager semantics) in the embedded and test profiles, Celery otherwise."""
    if runtime.settings.celery_eager:
        return InlineRelay(runtime, serial=runtime.settings.is_sqlite)
    return CeleryRelay(send_outbox_task)


@dataclass(eq=False)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis | None
    relay_factory: RelayFactory = default_relay
    relay: Relay = field(init=False)
    adapters: Adapters = field(init=False)

    def __post_init__(self) -> None:
        self.adapters = Adapters(self)
        self.relay = self.relay_factory(self)

    @cached_property
    def reads(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for one read statement each (DataLoader batches); see create_read_sessionmaker."""
        return create_read_sessionmaker(self.engine)

    def now(self) -> datetime:
        """The runtime's clock (aware UTC): ``adapters.clock``, which tests replace."""
        return self.adapters.clock()

    @classmethod
    def build(cls, settings: Settings, *, relay: RelayFactory | None = None) -> Runtime:
        """A runtime for ``settings``; ``relay`` builds its outbox relay (default: :func:`default_relay`)."""
        engine = create_engine(
            settings.database_url, pool_size=settings.database_pool_size, echo=settings.database_echo
        )
        redis = (
            Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
            if settings.redis_url
            else None
        )
        runtime = cls(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            redis=redis,
            relay_factory=relay or default_relay,
        )
        wiring.wire(runtime)
        return runtime

    async def close(self) -> None:
        await self.relay.drain()
        await self.adapters.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
