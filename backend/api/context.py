"""The GraphQL context: a sessionmaker (never a shared session), the actor, loaders, the runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.litestar import BaseContext
from strawberry.types import Info as StrawberryInfo

from backend.api.loaders import LoaderRegistry
from backend.core.context import Actor, RequestContext

if TYPE_CHECKING:
    from backend.core.uow import UnitOfWork
    from backend.runtime import Runtime


class _NoUnitOfWork:
    """The context's ``uow`` outside an ``@atomic`` mutation: any use of it is a programming error."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("no unit of work: the resolver is not an @atomic mutation")

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NO_UNIT_OF_WORK"


#: What ``GraphQLContext.uow`` holds while no mutation runs (``@atomic`` sets and clears it).
NO_UNIT_OF_WORK = cast("UnitOfWork", _NoUnitOfWork())


class GraphQLContext(BaseContext, kw_only=True):
    runtime: Runtime
    ctx: RequestContext  # the actor, the request id: what every service call takes
    loaders: LoaderRegistry
    uow: UnitOfWork = NO_UNIT_OF_WORK  # the open unit of work while an @atomic mutation runs

    @property
    def actor(self) -> Actor:
        return self.ctx.actor

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self.runtime.sessionmaker

    @property
    def read_sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """For one read statement per session, such as a DataLoader batch (autocommit on PostgreSQL)."""
        return self.runtime.reads


Info = StrawberryInfo[GraphQLContext, None]


def info_of(args: tuple[Any, ...], kwargs: dict[str, Any], decorator: str) -> Info:
    """The ``info`` argument of a resolver call, for a decorator wrapping resolvers (``@atomic`` …)."""
    info = kwargs.get("info")
    if info is None:
        info = next((a for a in args if hasattr(a, "context") and hasattr(a, "field_name")), None)
    if info is None:
        raise TypeError(f"a resolver wearing {decorator} must take `info`")
    found: Info = info
    return found
