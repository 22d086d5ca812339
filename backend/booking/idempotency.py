"""Idempotency keys for booking mutations.

A mutation claims ``(actor, operation, key)`` by inserting a row in its own unit of work (flushed in a
savepoint) before doing anything else, and stores its result in that row before committing. So:

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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.api.problems import Problem
from backend.booking.models import IdempotencyRecord
from backend.booking.service import PROBLEM_TYPES, TRANSIENT_CODES, IdempotencyKeyReused, fail
from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork

if TYPE_CHECKING:
    from backend.runtime import Runtime

MAX_KEY = 128


@dataclass
class Claim:
    actor_key: str
    operation: str
    key: str
    request_hash: str
    record: IdempotencyRecord | None = None


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
    from backend.api.problems import InvalidInput

    if not key or len(key) > MAX_KEY:
        raise fail(InvalidInput.of("idempotencyKey", f"Ключ запроса должен быть от 1 до {MAX_KEY} символов."))
    c = Claim(actor_key(uow.ctx), operation, key, request_hash(request))
    session = uow.session
    record = IdempotencyRecord(
        id=uuid.uuid4(), actor_key=c.actor_key, operation=operation, key=key, request_hash=c.request_hash, result={}
    )
    try:
        async with session.begin_nested():
            session.add(record)
            await session.flush()
    except IntegrityError:
        existing = await session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.actor_key == c.actor_key,
                IdempotencyRecord.operation == operation,
                IdempotencyRecord.key == key,
            )
        )
        if existing is None:  # pragma: no cover - the row that conflicted is committed, so it is visible
            raise
        if existing.request_hash != c.request_hash:
            raise fail(IdempotencyKeyReused.default()) from None
        return dict(existing.result)
    c.record = record
    claims = _CLAIM.get()
    if claims is not None:
        claims.append(c)
    return None


def remember(uow: UnitOfWork, result: dict[str, Any]) -> None:
    """Store the successful result in the claimed row (it commits with the mutation)."""
    claims = _CLAIM.get() or []
    for c in claims:
        if c.record is not None:
            c.record.result = result


def problem_to_json(problem: Problem) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "problem", "class": type(problem).__name__, "code": problem.code}
    data["message"] = problem.message
    fields = getattr(problem, "fields", None)
    if fields:
        data["fields"] = [{"field": f.field, "message": f.message} for f in fields]
    return data


def problem_from_json(data: dict[str, Any]) -> Problem:
    from backend.api.problems import AccessDenied, FieldProblem, InvalidInput, NotAuthenticated

    classes: dict[str, type[Problem]] = {cls.__name__: cls for cls in (*PROBLEM_TYPES, AccessDenied, NotAuthenticated)}
    cls = classes.get(data.get("class", ""))
    if cls is InvalidInput:
        return InvalidInput(
            code=data["code"],
            message=data["message"],
            fields=[FieldProblem(field=f["field"], message=f["message"]) for f in data.get("fields", [])],
        )
    if cls is None:
        raise ValueError(f"unknown stored problem {data.get('class')!r}")
    return cls(code=data["code"], message=data["message"])


async def store_problem(runtime: Runtime, claims: list[Claim], problem: Problem) -> None:
    """Keep a business refusal as the key's result (its own transaction; a concurrent winner wins)."""
    if problem.code in TRANSIENT_CODES:
        return
    for c in claims:
        try:
            async with runtime.sessionmaker() as session, session.begin():
                session.add(
                    IdempotencyRecord(
                        id=uuid.uuid4(),
                        actor_key=c.actor_key,
                        operation=c.operation,
                        key=c.key,
                        request_hash=c.request_hash,
                        result=problem_to_json(problem),
                    )
                )
        except IntegrityError:
            pass
