"""What a patient reads about themself: the profile, and the access log (who touched their data)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from backend.audit import service as audit
from backend.audit.models import AuditEvent
from backend.core.context import ActorKind, RequestContext
from backend.identity import policy
from backend.identity.kiosks import kiosk_names
from backend.identity.service import PatientView, get_patients
from backend.identity.staff import staff_names

if TYPE_CHECKING:
    from backend.runtime import Runtime

MAX_ACCESS_LOG = 200

ACTION_NAMES = {
    "identity.login": "Вход через Госуслуги",
    "identity.token_refresh": "Продление сеанса",
    "identity.logout": "Выход",
    "identity.on_behalf_opened": "Оператор 122 открыл сеанс от вашего имени",
    "identity.kiosk_identified": "Идентификация на инфомате",
    "identity.identification_failed": "Неудачная попытка идентификации",
    "patient.profile.read": "Просмотр профиля",
    "patient.access_log.read": "Просмотр журнала доступа",
    "vault.listed": "Просмотр хранилища документов",
    "vault.file_uploaded": "Загрузка документа в хранилище",
    "vault.file_downloaded": "Скачивание документа из хранилища",
    "vault.file_updated": "Изменение документа в хранилище",
    "vault.file_deleted": "Удаление документа в корзину",
    "vault.file_restored": "Восстановление документа из корзины",
    "vault.file_erased": "Документ стерт после 30 дней в корзине",
    "vault.share_created": "Открыт доступ врачу к документам",
    "vault.share_revoked": "Доступ врачу к документам закрыт",
    "vault.share_viewed": "Врач открыл список документов",
    "vault.share_file_downloaded": "Врач скачал документ",
    "updateVaultFile": "Изменение документа в хранилище",
    "deleteVaultFile": "Удаление документа в корзину",
    "restoreVaultFile": "Восстановление документа из корзины",
    "shareVault": "Открытие доступа врачу",
    "revokeVaultShare": "Закрытие доступа врачу",
}


@dataclass(frozen=True)
class AccessLogLine:
    at: datetime
    action: str
    outcome: str
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
    """The newest ``first`` (at most :data:`MAX_ACCESS_LOG`) events about ``patient_id``, named in Russian."""
    if ctx.actor.kind is not ActorKind.PATIENT:
        raise policy.access_denied()  # the log is the patient's (or their proxy's), not an operator's
    limit = min(max(first, 1), MAX_ACCESS_LOG)
    async with runtime.sessionmaker() as session:
        rows = list(
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.subject_id == patient_id)
                .order_by(AuditEvent.at.desc(), AuditEvent.id)
                .limit(limit)
            )
        )
    await audit.record_now(runtime.sessionmaker, ctx, "patient.access_log.read", subject_id=patient_id)
    names = await _actor_names(runtime, rows, patient_id)
    return [
        AccessLogLine(
            at=r.at,
            action=ACTION_NAMES.get(r.action, r.action),
            outcome=r.outcome,
            channel=r.channel,
            actor_kind=r.actor_kind,
            actor=names[(r.actor_kind, r.actor_id)],
            on_behalf=not (r.actor_kind == "patient" and r.actor_id == str(patient_id)),
        )
        for r in rows
    ]


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
        staff = await staff_names(session, staff_ids)
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
            names[key] = f"Оператор 122: {staff.get(r.actor_id or '', 'сотрудник')}"
        elif r.actor_kind == "kiosk":
            names[key] = f"Инфомат: {kiosks.get(r.actor_id or '', r.actor_id or '')}"
        elif r.actor_kind == "system":
            names[key] = "Система"
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
