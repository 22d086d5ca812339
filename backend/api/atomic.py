"""``@atomic``: the decorator every mutation resolver wears.

It opens a unit of work, runs the resolver, and then

* commits if the resolver returned a success, and audits the mutation in the same transaction;
* rolls back if it returned a :class:`Problem`, raised :class:`ProblemError` (returned as the typed
  member) or raised anything else (re-raised, to be masked); the failure is then audited in a
  transaction of its own, so failed attempts are on record too.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import structlog

from backend.api.context import NO_UNIT_OF_WORK, GraphQLContext, info_of
from backend.api.problems import Problem, ProblemError
from backend.audit import service as audit
from backend.core.uow import UnitOfWork

log = structlog.get_logger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def atomic(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        info = info_of(args, kwargs, "@atomic")
        context: GraphQLContext = info.context
        action = info.field_name
        uow = UnitOfWork(context.runtime, context.ctx)
        outcome = "ok"
        result: Any = None
        try:
            async with uow:
                context.uow = uow
                try:
                    result = await fn(*args, **kwargs)
                except ProblemError as exc:
                    result = exc.problem
                if isinstance(result, Problem):
                    outcome = result.code
                    uow.fail()
                else:
                    uow.audit(action)
        except Exception as exc:
            outcome = f"error:{type(exc).__name__}"
            raise
        finally:
            context.uow = NO_UNIT_OF_WORK
            if outcome != "ok":
                try:
                    await audit.record_now(context.sessionmaker, context.ctx, action, outcome=outcome)
                except Exception:
                    log.exception("audit.write_failed", action=action)
        out: R = result
        return out

    return wrapper
