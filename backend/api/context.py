"""The GraphQL context: a sessionmaker (never a shared session), the actor, loaders, the runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.litestar import BaseContext
from strawberry.types import Info as StrawberryInfo

from backend.api.loaders import LoaderRegistry
from backend.core.context import Actor, RequestContext

if TYPE_CHECKING:
    from backend.core.uow import UnitOfWork
    from backend.runtime import Runtime


class GraphQLContext(BaseContext, kw_only=True):
    runtime: Any  # Runtime (msgspec needs a runtime-resolvable annotation)
    request_ctx: Any  # RequestContext
    loaders: Any  # LoaderRegistry
    uow: Any = None  # the open UnitOfWork while a mutation runs

    @property
    def rt(self) -> Runtime:
        runtime: Runtime = self.runtime
        return runtime

    @property
    def ctx(self) -> RequestContext:
        request_ctx: RequestContext = self.request_ctx
        return request_ctx

    @property
    def actor(self) -> Actor:
        return self.ctx.actor

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self.rt.sessionmaker

    @property
    def read_sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """For one read statement per session, such as a DataLoader batch (autocommit on PostgreSQL)."""
        return self.rt.reads

    @property
    def dataloaders(self) -> LoaderRegistry:
        registry: LoaderRegistry = self.loaders
        return registry

    @property
    def unit_of_work(self) -> UnitOfWork:
        if self.uow is None:
            raise RuntimeError("no unit of work: the resolver is not an @atomic mutation")
        uow: UnitOfWork = self.uow
        return uow


Info = StrawberryInfo[GraphQLContext, None]
