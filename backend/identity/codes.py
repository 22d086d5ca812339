"""One-time SMS codes: six digits, sent through the outbox, stored as a digest, few attempts, short life.

Attempts are counted in a transaction of their own, so a wrong code that makes the mutation roll back
still counts (otherwise the attempt limit could be walked around). New codes are limited too
(:func:`reserve`): per person and per requester over an hour, so asking for fresh codes does not
multiply the guesses; the person is told by SMS, once an hour, when codes are asked for them too often.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.identity import problems, ratelimit, tokens
from backend.identity.models import VerificationCode
from backend.identity.service import SMS_TOPIC

if TYPE_CHECKING:
    from backend.runtime import Runtime

MAX_ATTEMPTS = 5
#: Codes one person may be sent, and one requester (an operator, a patient) may ask for, per window.
MAX_CODES_PER_PERSON = 5
MAX_CODES_PER_REQUESTER = 30
CODE_WINDOW_S = 3600
WARNING_TEXT = (
    "«Мое здоровье»: для вашей учетной записи слишком часто запрашивают коды подтверждения. "
    "Если это не вы — никому не сообщайте коды из СМС."
)


class CodeCheck(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"  # also: none was sent, or it was used
    EXHAUSTED = "exhausted"


def _digest(target_id: uuid.UUID, code: str) -> str:
    return hashlib.sha256(f"{target_id}:{code}".encode()).hexdigest()


async def reserve(
    runtime: Runtime, ctx: RequestContext, *, patient_id: uuid.UUID, phone: str | None, requester: str
) -> None:
    """Count one code to be sent to ``patient_id`` at ``requester``'s request, or refuse it.

    :class:`problems.TooManyAttempts` past either limit; when the person's limit is the one reached, they
    are warned by SMS (once a window, committed on its own). Call it before the unit of work reads or
    writes anything (see :func:`check_code`).
    """
    counter = ratelimit.failure_counter(runtime)
    person_key = f"sms:person:{patient_id}"
    refused = await counter.acquire(
        [(person_key, MAX_CODES_PER_PERSON), (f"sms:requester:{requester}", MAX_CODES_PER_REQUESTER)],
        window_s=CODE_WINDOW_S,
    )
    if not refused:
        return
    if person_key in refused and phone:
        first = not await counter.acquire([(f"sms:warned:{patient_id}", 1)], window_s=CODE_WINDOW_S)
        if first:
            async with UnitOfWork(runtime, ctx) as warning:
                warning.emit(SMS_TOPIC, {"phone": phone, "text": WARNING_TEXT, "purpose": "code_warning"})
    raise problems.TooManyAttempts(problems.TOO_MANY_CODES)


async def send_code(
    uow: UnitOfWork, *, purpose: str, target_id: uuid.UUID, patient_id: uuid.UUID, phone: str, text: str, at: datetime
) -> None:
    """Create a code for ``target_id`` (earlier ones stop working) and SMS it: ``text`` has ``{code}``."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    session = uow.session
    await session.execute(
        update(VerificationCode)
        .where(VerificationCode.target_id == target_id, VerificationCode.used_at.is_(None))
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )
    session.add(
        VerificationCode(
            id=uuid.uuid4(),
            purpose=purpose,
            target_id=target_id,
            patient_id=patient_id,
            code_hash=_digest(target_id, code),
            attempts=0,
            created_at=at,
            expires_at=at + timedelta(seconds=uow.runtime.settings.sms_code_ttl_s),
        )
    )
    # The outbox row keeps the text sealed: the code is never in clear text in the database.
    sealed = tokens.seal(uow.runtime, text.format(code=code))
    uow.emit(SMS_TOPIC, {"phone": phone, "sealed": sealed, "purpose": purpose})


async def check_code(
    runtime: Runtime, *, purpose: str, target_id: uuid.UUID, code: str, patient_id: uuid.UUID | None = None
) -> CodeCheck:
    """Check (and on success consume) the live code of ``target_id``, in a transaction of its own.

    ``patient_id``, when given, must be the patient the code was sent to. Call it before the mutation's
    unit of work reads anything: on SQLite a write here after the unit of work's first read would make
    the unit of work's own write fail (a stale WAL snapshot).
    """
    at = tokens.now(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        row = await session.scalar(
            select(VerificationCode)
            .where(
                VerificationCode.target_id == target_id,
                VerificationCode.purpose == purpose,
                VerificationCode.used_at.is_(None),
                *([VerificationCode.patient_id == patient_id] if patient_id is not None else []),
            )
            .order_by(VerificationCode.created_at.desc())
            .limit(1)
            .with_for_update()
        )
        if row is None or row.expires_at <= at:
            return CodeCheck.EXPIRED
        if row.attempts >= MAX_ATTEMPTS:
            return CodeCheck.EXHAUSTED
        if not secrets.compare_digest(row.code_hash, _digest(target_id, (code or "").strip())):
            row.attempts += 1
            return CodeCheck.EXHAUSTED if row.attempts >= MAX_ATTEMPTS else CodeCheck.WRONG
        row.used_at = at
        return CodeCheck.OK
