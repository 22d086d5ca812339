"""Idempotency keys for booking mutations.

A mutation claims ``(actor, operation, key)`` by inserting a row in its own unit of work before doing
anything else (``INSERT … ON CONFLICT DO NOTHING``: one statement), and stores its result in that row
with the unit of work's commit. So:

* a repeat after the first committed finds the row and returns the stored result (nothing re-done);
* a concurrent duplicate blocks on the unique index until the first commits, then returns its result
  (or, if the first rolled back, goes ahead itself);
* the same key with a different request is refused with :class:`IdempotencyKeyReused`.

Typed problems roll the unit of work back, so :func:`store_problem` keeps a business refusal in a
transaction of its own; "try again" problems (the hub unavailable) are never stored, so a retry with the
same key really retries.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import Table, bindparam, select, update

from backend.booking.models import IdempotencyRecord
from backend.booking.problems import TRANSIENT_CODES, IdempotencyKeyReused, InvalidInput, fail
from backend.core.context import RequestContext
from backend.core.db import HotStatement, insert_or_skip, utcnow
from backend.core.uow import UnitOfWork

if TYPE_CHECKING:
    from backend.runtime import Runtime

MAX_KEY = 128


class StoredProblem(Protocol):
    """What is kept of a refusal: a booking problem, or one of the API's (the policy's) with the same shape."""

    @property
    def code(self) -> str: ...

    @property
    def message(self) -> str: ...


@dataclass
class Claim:
    actor_key: str
    operation: str
    key: str
    request_hash: str
    record_id: uuid.UUID | None = None  # the row this request inserted


_TABLE = cast("Table", IdempotencyRecord.__table__)
_INSERT = HotStatement(insert_or_skip(_TABLE).returning(_TABLE.c.id))
_STORED = HotStatement(
    select(_TABLE.c.request_hash, _TABLE.c.result).where(
        _TABLE.c.actor_key == bindparam("actor_key"),
        _TABLE.c.operation == bindparam("operation"),
        _TABLE.c.key == bindparam("key"),
    )
)
_SET_RESULT = HotStatement(
    update(_TABLE).where(_TABLE.c.id == bindparam("claim_id")).values(result=bindparam("stored"))
)


def _row(c: Claim, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "actor_key": c.actor_key,
        "operation": c.operation,
        "key": c.key,
        "request_hash": c.request_hash,
        "result": result,
        "created_at": utcnow(),
    }


_CLAIM: contextvars.ContextVar[list[Claim] | None] = contextvars.ContextVar("booking_idempotency", default=None)


def actor_key(ctx: RequestContext) -> str:
    actor = ctx.actor
    return f"{actor.kind.value}:{actor.id or '-'}:{actor.subject_id or '-'}"


def request_hash(request: dict[str, Any]) -> str:
    raw = json.dumps(request, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(raw).hexdigest()


def start_scope() -> contextvars.Token[list[Claim] | None]:
    return _CLAIM.set([])


def end_scope(token: contextvars.Token[list[Claim] | None]) -> list[Claim]:
    claims = _CLAIM.get() or []
    _CLAIM.reset(token)
    return claims


async def claim(uow: UnitOfWork, operation: str, key: str, request: dict[str, Any]) -> dict[str, Any] | None:
    """Claim the key; ``None`` to go ahead, or the stored result of the first request with this key."""
    if not key or len(key) > MAX_KEY:
        raise fail(InvalidInput.of("idempotencyKey", f"Ключ запроса должен быть от 1 до {MAX_KEY} символов."))
    c = Claim(actor_key(uow.ctx), operation, key, request_hash(request))
    session = uow.session
    row = _row(c, {})
    if await _INSERT.first(session, row) is None:  # the key is taken (by a committed request: we waited)
        existing = await _STORED.first(session, {"actor_key": c.actor_key, "operation": operation, "key": key})
        if existing is None:  # pragma: no cover - the row that conflicted is committed, so it is visible
            raise RuntimeError("idempotency key conflicted with a row that is not there")
        if existing[0] != c.request_hash:
            raise fail(IdempotencyKeyReused.default())
        return dict(existing[1])
    c.record_id = row["id"]
    claims = _CLAIM.get()
    if claims is not None:
        claims.append(c)
    return None


def remember(uow: UnitOfWork, result: dict[str, Any]) -> None:
    """Store the successful result in the claimed row (written with the mutation's commit)."""
    claims = _CLAIM.get() or []
    for c in claims:
        if c.record_id is not None:
            uow.before_commit(_SET_RESULT, {"claim_id": c.record_id, "stored": result})


def problem_to_json(problem: StoredProblem) -> dict[str, Any]:
    """A refusal as stored: its class name (the GraphQL type's name too), code, message and fields."""
    data: dict[str, Any] = {"type": "problem", "class": type(problem).__name__, "code": problem.code}
    data["message"] = problem.message
    fields: Sequence[Any] = getattr(problem, "fields", None) or ()
    if fields:
        data["fields"] = [{"field": f.field, "message": f.message} for f in fields]
    return data


async def store_problem(runtime: Runtime, claims: list[Claim], problem: StoredProblem) -> None:
    """Keep a business refusal as the key's result (its own transaction; a concurrent winner wins)."""
    if problem.code in TRANSIENT_CODES:
        return
    for c in claims:
        await _INSERT.alone(runtime.sessionmaker, _row(c, problem_to_json(problem)))  # a concurrent winner's stays
