"""Idempotency keys of the vault's mutations: ``(actor, operation, key)`` claimed in the mutation's own
transaction (``INSERT … ON CONFLICT DO NOTHING``); a repeat finds the stored result, the same key with a
different request is refused. Refusals roll back with the mutation, so a retry after one really retries."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update

from backend.core.context import RequestContext
from backend.core.db import HotStatement, insert_or_skip, utcnow
from backend.core.uow import UnitOfWork
from backend.vault.models import VaultIdempotency
from backend.vault.problems import IdempotencyKeyReused, InvalidInput, fail

MAX_KEY = 128

_TABLE = cast("Table", VaultIdempotency.__table__)
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


def actor_key(ctx: RequestContext) -> str:
    actor = ctx.actor
    return f"{actor.kind.value}:{actor.id or '-'}:{actor.subject_id or '-'}"


def request_hash(request: dict[str, Any]) -> str:
    raw = json.dumps(request, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(raw).hexdigest()


class Claim:
    def __init__(self, uow: UnitOfWork, record_id: uuid.UUID) -> None:
        self._uow = uow
        self._id = record_id

    def remember(self, result: dict[str, Any]) -> None:
        """Store the success (written with the mutation's commit)."""
        self._uow.before_commit(_SET_RESULT, {"claim_id": self._id, "stored": result})


async def claim(uow: UnitOfWork, operation: str, key: str, request: dict[str, Any]) -> Claim | dict[str, Any]:
    """A :class:`Claim` to go ahead, or the stored result of the first request with this key."""
    if not key or len(key) > MAX_KEY:
        raise fail(InvalidInput.of("idempotencyKey", f"Ключ запроса должен быть от 1 до {MAX_KEY} символов."))
    who = actor_key(uow.ctx)
    digest = request_hash(request)
    record_id = uuid.uuid4()
    row = {
        "id": record_id,
        "actor_key": who,
        "operation": operation,
        "key": key,
        "request_hash": digest,
        "result": {},
        "created_at": utcnow(),
    }
    if await _INSERT.first(uow.session, row) is None:
        existing = await _STORED.first(uow.session, {"actor_key": who, "operation": operation, "key": key})
        if existing is None:  # pragma: no cover - the conflicting row is committed, so visible
            raise RuntimeError("idempotency key conflicted with a row that is not there")
        if existing[0] != digest:
            raise fail(IdempotencyKeyReused.default())
        return dict(existing[1])
    return Claim(uow, record_id)
