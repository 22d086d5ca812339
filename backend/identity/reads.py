"""What a patient reads about themself: the profile, and the access log (who touched their data)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from backend.audit import service as audit
from backend.audit.models import AuditEvent
from backend.core.context import ActorKind, RequestContext
from backend.identity import policy
from backend.identity.access_labels import action_label, outcome_label, refusals_label
from backend.identity.kiosks import kiosk_names
from backend.identity.service import PatientView, get_patients
from backend.identity.staff import StaffPrincipal, staff_members

if TYPE_CHECKING:
    from backend.runtime import Runtime

MAX_ACCESS_LOG = 200


@dataclass(frozen=True)
class AccessLogLine:
    at: datetime
    action: str
    outcome: str
    outcome_text: str
    channel: str
    actor_kind: str
    actor: str
    on_behalf: bool


async def read_profile(runtime: Runtime, ctx: RequestContext, patient_id: uuid.UUID) -> PatientView:
    """The patient's profile (an audited read); ``AccessDenied`` if there is no such patient."""
    async with runtime.sessionmaker() as session:
        found = await get_patients(session, [patient_id])
    if patient_id not in found:
        raise policy.access_denied()
    await audit.record_now(
        runtime.sessionmaker,
        ctx,
        "patient.profile.read",
        subject_id=patient_id,
        object_type="patient",
        object_id=patient_id,
    )
    return found[patient_id]


async def access_log(
    runtime: Runtime, ctx: RequestContext, patient_id: uuid.UUID, *, first: int
) -> list[AccessLogLine]:
    """The newest ``first`` (at most :data:`MAX_ACCESS_LOG`) events about ``patient_id``, named in Russian.

    Refusals by people with no relation to the patient are not listed one by one (they could push the
    real reads out): one line counts them, at the time of the latest. A mutation is one line: the row
    ``@atomic`` writes under the mutation's name is left out when its request wrote the domain's own
    (``booking.appointment_booked`` for ``bookAppointment``).
    """
    if ctx.actor.kind is not ActorKind.PATIENT:
        raise policy.access_denied()  # the log is the patient's (or their proxy's), not an operator's
    limit = min(max(first, 1), MAX_ACCESS_LOG)
    async with runtime.sessionmaker() as session:
        rows = list(
            await session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.subject_id == patient_id,
                    AuditEvent.purpose.is_distinct_from(policy.SECURITY_PURPOSE),
                )
                .order_by(AuditEvent.at.desc(), AuditEvent.id)
                .limit(limit * 2)  # room for the mutation rows left out below
            )
        )
        rows = audit.one_per_mutation(rows)[:limit]
        refused = (
            await session.execute(
                select(AuditEvent.at, AuditEvent.channel, func.count().over())
                .where(AuditEvent.subject_id == patient_id, AuditEvent.purpose == policy.SECURITY_PURPOSE)
                .order_by(AuditEvent.at.desc())
                .limit(1)
            )
        ).first()
    await audit.record_now(runtime.sessionmaker, ctx, "patient.access_log.read", subject_id=patient_id)
    names = await _actor_names(runtime, rows, patient_id)
    lines = [
        AccessLogLine(
            at=r.at,
            action=action_label(r.action),
            outcome=r.outcome,
            outcome_text=outcome_label(r.outcome),
            channel=r.channel,
            actor_kind=r.actor_kind,
            actor=names[(r.actor_kind, r.actor_id)],
            on_behalf=not (r.actor_kind == "patient" and r.actor_id == str(patient_id)),
        )
        for r in rows
    ]
    if refused is not None:
        at, channel, count = refused
        summary = AccessLogLine(
            at=at,
            action=refusals_label(int(count)),
            outcome="ACCESS_DENIED",
            outcome_text=outcome_label("ACCESS_DENIED"),
            channel=channel,
            actor_kind="unknown",
            actor="Посторонние лица",
            on_behalf=True,
        )
        lines.insert(next((i for i, line in enumerate(lines) if line.at < at), len(lines)), summary)
    return lines


def _staff_name(member: StaffPrincipal | None) -> str:
    """«Врач: ФИО» for a doctor (documents shared with them), «Оператор 122: ФИО» otherwise."""
    if member is not None and member.role == "doctor":
        return f"Врач: {member.full_name}"
    return f"Оператор 122: {member.full_name if member else 'сотрудник'}"


async def _actor_names(runtime: Runtime, rows: list[AuditEvent], me: uuid.UUID) -> dict[tuple[str, str | None], str]:
    staff_ids = {r.actor_id for r in rows if r.actor_kind == "operator" and r.actor_id}
    kiosk_ids = {r.actor_id for r in rows if r.actor_kind == "kiosk" and r.actor_id}
    patient_ids = set()
    for r in rows:
        if r.actor_kind == "patient" and r.actor_id:
            try:
                patient_ids.add(uuid.UUID(r.actor_id))
            except ValueError:
                continue
    async with runtime.sessionmaker() as session:
        staff = await staff_members(session, staff_ids)
        kiosks = await kiosk_names(session, kiosk_ids)
        people = await get_patients(session, list(patient_ids))
    names: dict[tuple[str, str | None], str] = {}
    for r in rows:
        key = (r.actor_kind, r.actor_id)
        if r.action.startswith("vault.share_") and r.actor_id != str(me):
            names[key] = _share_recipient(r, people)
        elif r.actor_kind == "patient" and r.actor_id == str(me):
            names[key] = "Вы"
        elif r.actor_kind == "patient" and r.actor_id:
            person = people.get(uuid.UUID(r.actor_id)) if r.actor_id in {str(p) for p in patient_ids} else None
            names[key] = f"Доверенное лицо: {person.short_name}" if person else "Доверенное лицо"
        elif r.actor_kind == "operator":
            names[key] = _staff_name(staff.get(r.actor_id or ""))
        elif r.actor_kind == "kiosk":
            names[key] = f"Инфомат: {kiosks.get(r.actor_id or '', r.actor_id or '')}"
        elif r.actor_kind == "system":
            names[key] = "Система"
        elif r.actor_kind == "anonymous":
            names[key] = "Неизвестное лицо"
        else:
            names[key] = "Неизвестный"
    return names


def _share_recipient(row: AuditEvent, people: dict[uuid.UUID, PatientView]) -> str:
    """Who read through a vault share: the doctor by name (signed in), or the holder of the code."""
    if row.actor_kind == "patient" and row.actor_id:
        try:
            person = people.get(uuid.UUID(row.actor_id))
        except ValueError:
            person = None
        if person is not None:
            return f"Врач: {person.short_name}"
    return "Получатель по коду доступа"
