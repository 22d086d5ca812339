"""The call record's rules: open a call, close it with an outcome, read the current and recent calls, count
them for the supervisor.

The actions inside a call are the operator's audited actions from the opening on (``audit.events_by_actor``):
every mutation and medical read done under the operator's staff login or an on-behalf session they opened
carries the operator's id as its actor (:mod:`backend.identity.operators`). While the call is open they are
read live; the close copies them into the call (``Call.actions``) with the outcome, the duration and the
caller (the first patient acted for successfully; a lookup by the call's number names people, it does not act).
"""

from __future__ import annotations

import enum
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.audit import service as audit
from backend.call_record import problems
from backend.call_record.models import Call
from backend.core.context import RequestContext
from backend.core.db import utcnow
from backend.core.uow import UnitOfWork
from backend.identity.service import PatientView, patients_by_phone

MAX_NOTE = 500
MAX_KEY = 128
#: The call record's own audit actions: not "actions inside the call".
OWN_ACTIONS = frozenset({"openCall", "closeCall", "call_record.opened", "call_record.closed"})
#: Actions that name people without acting for them: not who the caller was.
LOOKUPS = frozenset({"call_record.caller_lookup"})


class CallOutcome(enum.StrEnum):
    """How a call ended (what the supervisor counts)."""

    BOOKED = "booked"
    CANCELLED = "cancelled"
    RESCHEDULED = "rescheduled"
    HOME_VISIT = "home_visit"
    INFORMATION = "information"
    TRANSFERRED_103 = "transferred_103"
    NOT_IDENTIFIED = "not_identified"
    DROPPED = "dropped"
    OTHER = "other"

    @property
    def label_ru(self) -> str:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS: dict[CallOutcome, str] = {
    CallOutcome.BOOKED: "Записан на приём",
    CallOutcome.CANCELLED: "Запись отменена",
    CallOutcome.RESCHEDULED: "Запись перенесена",
    CallOutcome.HOME_VISIT: "Вызван врач на дом",
    CallOutcome.INFORMATION: "Дана справка",
    CallOutcome.TRANSFERRED_103: "Переведён на 103 (скорая помощь)",
    CallOutcome.NOT_IDENTIFIED: "Не удалось идентифицировать",
    CallOutcome.DROPPED: "Звонок прервался",
    CallOutcome.OTHER: "Другое",
}


@dataclass(frozen=True)
class CallAction:
    at: datetime
    action: str
    outcome: str
    subject_id: uuid.UUID | None
    object_type: str | None
    object_id: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "action": self.action,
            "outcome": self.outcome,
            "subject_id": str(self.subject_id) if self.subject_id else None,
            "object_type": self.object_type,
            "object_id": self.object_id,
        }

    @classmethod
    def of_json(cls, data: dict[str, Any]) -> CallAction:
        return cls(
            at=datetime.fromisoformat(data["at"]),
            action=data["action"],
            outcome=data["outcome"],
            subject_id=uuid.UUID(data["subject_id"]) if data.get("subject_id") else None,
            object_type=data.get("object_type"),
            object_id=data.get("object_id"),
        )


@dataclass(frozen=True)
class CallView:
    call: Call
    actions: list[CallAction]


def _key(idempotency_key: str) -> str:
    key = idempotency_key.strip()
    if not key or len(key) > MAX_KEY:
        raise problems.fail(problems.InvalidInput.of("idempotencyKey", "Ключ идемпотентности: от 1 до 128 символов."))
    return key


def _phone(text: str) -> str:
    """The caller's number in E.164 (a Russian number without the country code is read as one)."""
    try:
        parsed = phonenumbers.parse(text, "RU")
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        raise problems.fail(
            problems.InvalidInput.of("callerPhone", "Номер телефона звонящего: например +7 900 123-45-67.")
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


async def actions_since(session: AsyncSession, operator_id: str, call: Call) -> list[CallAction]:
    """The operator's audited actions since ``call`` was opened (to its close, if closed), oldest first."""
    if call.closed_at is not None:
        return [CallAction.of_json(a) for a in call.actions]
    events = await audit.events_by_actor(session, operator_id, call.audit_from)
    return [
        CallAction(
            at=e.at,
            action=e.action,
            outcome=e.outcome,
            subject_id=e.subject_id,
            object_type=e.object_type,
            object_id=e.object_id,
        )
        for e in audit.one_per_mutation(events, per_subject=False)
        if e.action not in OWN_ACTIONS
    ]


async def open_call(uow: UnitOfWork, operator_id: str, *, caller_phone: str | None, idempotency_key: str) -> Call:
    """A new call for ``operator_id``; the same call for a repeated key; :class:`CallAlreadyOpen` while
    another is open."""
    key = _key(idempotency_key)
    phone = _phone(caller_phone) if caller_phone is not None and caller_phone.strip() else None
    session = uow.session
    repeated = await session.scalar(select(Call).where(Call.operator_id == operator_id, Call.open_key == key))
    if repeated is not None:
        return repeated
    if await current(session, operator_id) is not None:
        raise problems.fail(problems.CallAlreadyOpen.default())
    call = Call(
        id=uuid.uuid4(),
        operator_id=operator_id,
        caller_phone=phone,
        opened_at=uow.runtime.now(),
        audit_from=utcnow(),
        actions=[],
        open_key=key,
    )
    session.add(call)
    try:
        await session.flush()
    except IntegrityError:  # another request of this operator opened one at the same moment
        raise problems.fail(problems.CallAlreadyOpen.default()) from None
    uow.audit("call_record.opened", object_type="call", object_id=call.id)
    return call


async def close_call(
    uow: UnitOfWork,
    operator_id: str,
    call_id: uuid.UUID,
    *,
    outcome: CallOutcome,
    note: str | None,
    idempotency_key: str,
) -> CallView:
    """Close the operator's call with ``outcome``: its actions copied from the audit, the caller noted."""
    key = _key(idempotency_key)
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise problems.fail(problems.InvalidInput.of("note", f"Комментарий: не длиннее {MAX_NOTE} символов."))
    session = uow.session
    call = await session.get(Call, call_id, with_for_update=True)
    if call is None or call.operator_id != operator_id:
        raise problems.fail(problems.CallNotFound.default())
    if call.closed_at is not None:
        if call.close_key == key:
            return CallView(call, [CallAction.of_json(a) for a in call.actions])
        raise problems.fail(problems.CallAlreadyClosed.default())
    actions = await actions_since(session, operator_id, call)
    call.patient_id = next(
        (a.subject_id for a in actions if a.subject_id is not None and a.outcome == "ok" and a.action not in LOOKUPS),
        None,
    )
    call.closed_at = max(uow.runtime.now(), call.opened_at)
    call.outcome = outcome.value
    call.note = note
    call.close_key = key
    call.actions = [a.as_json() for a in actions]
    await session.flush()
    uow.audit(
        "call_record.closed",
        object_type="call",
        object_id=call.id,
        subject_id=call.patient_id,
        details={"outcome": outcome.value, "actions": len(actions)},
    )
    return CallView(call, actions)


async def current(session: AsyncSession, operator_id: str) -> Call | None:
    """The operator's open call, if any."""
    found: Call | None = await session.scalar(
        select(Call).where(Call.operator_id == operator_id, Call.closed_at.is_(None))
    )
    return found


async def recent(session: AsyncSession, operator_id: str, limit: int) -> Sequence[Call]:
    """The operator's latest calls, newest first."""
    rows = await session.scalars(
        select(Call).where(Call.operator_id == operator_id).order_by(Call.opened_at.desc(), Call.id).limit(limit)
    )
    return rows.all()


@dataclass(frozen=True)
class CallerCandidates:
    """Who the open call's number may be: the people with that confirmed phone, and what to tell the operator."""

    call: Call
    patients: list[PatientView]

    @property
    def message(self) -> str:
        if not self.patients:
            return f"С номером {self.call.caller_phone} никто не найден: спросите полис ОМС или СНИЛС и дату рождения."
        if len(self.patients) == 1:
            return "Номер звонка подтверждён у одного человека: спросите дату рождения, чтобы убедиться, что это он."
        return (
            f"Номер звонка подтверждён у нескольких человек ({len(self.patients)}): уточните, кто звонит "
            "или о ком, и спросите дату рождения."
        )


async def caller_candidates(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], ctx: RequestContext, operator_id: str
) -> CallerCandidates:
    """The people whose confirmed phone is the number the operator's open call came from.

    Only the number of the operator's own open call is looked up (the console is not a phone directory);
    the lookup is audited, in the access log of each person offered (with no one offered, once, without a
    subject). It identifies nobody: the operator still asks the birth date (``openOnBehalfSession`` with the
    person's ``patientId``), rate-limited as any identification."""
    call = await current(session, operator_id)
    if call is None:
        raise problems.fail(problems.NoOpenCall.default())
    if not call.caller_phone:
        raise problems.fail(problems.CallerPhoneUnknown.default())
    found = await patients_by_phone(session, call.caller_phone)
    details = {"matches": len(found)}
    subjects: list[uuid.UUID | None] = [p.id for p in found] or [None]
    await audit.record_many_now(
        sessionmaker,
        [
            audit.row(
                ctx, "call_record.caller_lookup", object_type="call", object_id=call.id, subject_id=s, details=details
            )
            for s in subjects
        ],
    )
    return CallerCandidates(call=call, patients=found)


@dataclass(frozen=True)
class Kpi:
    total: int
    open: int
    average_duration_s: float | None
    by_hour: list[tuple[datetime, int]]
    by_outcome: dict[str, int]


async def kpi(session: AsyncSession, start: datetime, end: datetime) -> Kpi:
    """Calls opened in ``[start, end)``: per hour (UTC), per outcome, the mean duration of the closed ones.

    One narrow query; the hours are counted here rather than with a dialect's date truncation (a day of one
    call centre is thousands of rows, not millions)."""
    rows = (
        await session.execute(
            select(Call.opened_at, Call.closed_at, Call.outcome).where(Call.opened_at >= start, Call.opened_at < end)
        )
    ).all()
    hours: Counter[datetime] = Counter()
    outcomes: Counter[str] = Counter()
    durations: list[float] = []
    for opened_at, closed_at, outcome in rows:
        hours[opened_at.replace(minute=0, second=0, microsecond=0)] += 1
        if closed_at is not None and outcome is not None:
            outcomes[outcome] += 1
            durations.append((closed_at - opened_at).total_seconds())
    return Kpi(
        total=len(rows),
        open=sum(1 for r in rows if r.closed_at is None),
        average_duration_s=sum(durations) / len(durations) if durations else None,
        by_hour=sorted(hours.items()),
        by_outcome=dict(outcomes),
    )
