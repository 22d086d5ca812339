"""The digital policy: the patient's ЕРЗЛ record, kept as a snapshot refreshed on login and by the periodic
job, cross-checked against the ЕНП ESIA gave (``MDCL_PLCY``), with the machine-readable code a clinic scans.

The register may answer "not found yet" (:class:`~integrations.erzl.PolicyPending`): the snapshot keeps the
moment to ask again and the patient reads when. When the register is down, the last answer is shown marked
as not fresh; with no answer at all, a typed "unavailable" problem.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.identity.service import PatientView
from backend.insurance import problems as p
from backend.insurance.models import InsurancePolicySnapshot
from backend.insurance.service.common import POLICY_FRESH_S, consent_id, patient_of, problem_of, register
from backend.outbox.service import Envelope
from integrations.erzl import (
    ErzlError,
    ErzlTransportError,
    PersonNotFound,
    PolicyFound,
    PolicyPending,
    PolicyRecord,
    PolicyStatus,
)
from integrations.erzl import enp as enp_rules
from notifications import service as notifications

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

POLICY_UPDATED = "policy.updated"
#: The digital policy's machine-readable code: our format (the official code of the ЕРЗЛ extract is not
#: public). A clinic scanning it reads the ЕНП and the birth date, the pair identification by policy uses
#: (``identifyAtKiosk``, 122), and checks the insurance in the register itself: the code proves nothing alone.
CODE_PREFIX = "MZOMS1"


@dataclass(frozen=True)
class InsurerCard:
    code: str
    name: str
    ogrn: str | None
    phone: str | None
    website: str | None
    address: str | None


@dataclass(frozen=True)
class PolicyPeriod:
    insurer_name: str
    start_date: date | None
    end_date: date | None
    status: str


@dataclass(frozen=True)
class PolicyView:
    enp: str
    status: str
    status_label: str
    start_date: date | None
    end_date: date | None
    region: str | None
    insurer: InsurerCard
    attachment_mo_oid: str | None
    history: list[PolicyPeriod]
    esia_enp: str | None
    esia_matches: bool
    esia_message: str | None
    machine_code: str
    fetched_at: datetime
    fresh: bool
    holder_name: str
    birth_date: date


def machine_code(enp: str, birth_date: date, insurer_code: str | None) -> str:
    return f"{CODE_PREFIX};ENP={enp};BD={birth_date:%Y%m%d};SMO={insurer_code or ''}"


def esia_check(esia_enp: str | None, enp: str) -> tuple[bool, str | None]:
    """Whether the ЕНП of the ESIA profile is the register's, and what the patient reads if not."""
    if not esia_enp:
        return False, (
            f"В профиле Госуслуг нет полиса ОМС. Добавьте его в разделе «Документы и данные»: номер полиса {enp}."
        )
    if enp_rules.normalise(esia_enp) == enp:
        return True, None
    typo = "" if enp_rules.validate(esia_enp).ok else " (в нём не сходится контрольная цифра)"
    return False, (
        f"Номер полиса в профиле Госуслуг ({esia_enp}){typo} не совпадает с номером в едином регистре "
        f"застрахованных лиц ({enp}). Действует номер из регистра: исправьте полис в профиле Госуслуг."
    )


def _record_json(r: PolicyRecord) -> dict[str, Any]:
    return {
        "insurer_name": r.insurer.name,
        "start_date": r.start_date.isoformat(),
        "end_date": r.end_date.isoformat() if r.end_date else None,
        "status": r.status.value,
    }


async def snapshot_of(session: AsyncSession, patient_id: uuid.UUID) -> InsurancePolicySnapshot | None:
    return await session.scalar(select(InsurancePolicySnapshot).where(InsurancePolicySnapshot.patient_id == patient_id))


async def refresh(runtime: Runtime, patient_id: uuid.UUID) -> InsurancePolicySnapshot:
    """Ask the register and keep its answer (found, pending, not found); a transport error is raised as is.

    A changed insurer is announced (``policy.updated``) in the same unit of work as the new snapshot."""
    async with runtime.sessionmaker() as session:
        patient = await patient_of(session, patient_id)
    try:
        answer = await register(runtime).find_policy(
            consent_id=consent_id(patient), esia_oid=patient.esia_oid, snils=None if patient.esia_oid else patient.snils
        )
    except PersonNotFound:
        answer = None
    ctx = RequestContext.for_system("insurance.policy_refresh")
    try:
        async with UnitOfWork(runtime, ctx) as uow:
            row = await snapshot_of(uow.session, patient_id)
            before = (row.state, row.insurer_code) if row is not None else None
            if row is None:
                row = InsurancePolicySnapshot(id=uuid.uuid4(), patient_id=patient_id, state="pending")
                uow.session.add(row)
            _apply(runtime, row, answer, patient)
            await uow.session.flush()
            if before is not None and before[0] == "found" and row.state == "found" and before[1] != row.insurer_code:
                notifications.notify(
                    uow,
                    patient_id=patient_id,
                    event=POLICY_UPDATED,
                    data={"insurer": row.insurer_name or ""},
                    dedupe_key=f"policy:{patient_id}:{row.insurer_code}:{row.start_date}",
                )
            uow.audit(
                "insurance.policy_refreshed",
                object_type="insurance_policy",
                object_id=row.id,
                subject_id=patient_id,
                details={"state": row.state},
            )
    except IntegrityError:  # another refresh wrote the first snapshot at the same moment: theirs stands
        async with runtime.sessionmaker() as session:
            existing = await snapshot_of(session, patient_id)
        if existing is None:  # pragma: no cover - the unique index only refuses a second row
            raise
        return existing
    return row


def _apply(
    runtime: Runtime, row: InsurancePolicySnapshot, answer: PolicyFound | PolicyPending | None, patient: PatientView
) -> None:
    row.fetched_at = runtime.now()
    row.esia_enp = patient.oms_policy
    if answer is None:
        row.state, row.retry_after = "not_found", None
        return
    if isinstance(answer, PolicyPending):
        row.state = "pending"
        moment = answer.retry_after
        row.retry_after = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(runtime.settings.region_timezone))
        return
    r = answer.record
    row.state, row.retry_after = "found", None
    row.enp, row.status, row.start_date, row.end_date, row.region = (
        r.enp,
        r.status.value,
        r.start_date,
        r.end_date,
        r.region,
    )
    row.insurer_code, row.insurer_name, row.insurer_ogrn = r.insurer.code, r.insurer.name, r.insurer.ogrn
    row.insurer_phone, row.insurer_website, row.insurer_address = r.insurer.phone, r.insurer.website, r.insurer.address
    row.attachment_mo_oid = r.attachment_mo_oid
    row.history = [_record_json(h) for h in answer.history]


def _stale(runtime: Runtime, row: InsurancePolicySnapshot) -> bool:
    now = runtime.now()
    if row.state == "pending":
        return row.retry_after is None or row.retry_after <= now
    return now - row.fetched_at > timedelta(seconds=POLICY_FRESH_S)


async def current(runtime: Runtime, patient_id: uuid.UUID) -> tuple[InsurancePolicySnapshot, bool]:
    """The patient's snapshot, refreshed when old (and whether it is fresh); typed problems when there is none."""
    async with runtime.sessionmaker() as session:
        row = await snapshot_of(session, patient_id)
    fresh = True
    if row is None or _stale(runtime, row):
        try:
            row = await refresh(runtime, patient_id)
        except ErzlTransportError as exc:
            if row is None or row.state != "found":
                raise p.fail(problem_of(exc)) from None
            fresh = False
        except ErzlError as exc:
            raise p.fail(problem_of(exc)) from None
    if row.state == "pending":
        tz = ZoneInfo(runtime.settings.region_timezone)
        when = row.retry_after.astimezone(tz) if row.retry_after else None
        raise p.fail(
            p.PolicyNotReady.default(
                f"{p.PolicyNotReady.MESSAGE} Регистр ищет ваши данные; проверьте снова "
                f"{'после ' + f'{when:%d.%m.%Y %H:%M}' if when else 'позже'}. Если сведения не появятся за 5 дней, "
                "отзовите и снова дайте согласие на обмен сведениями с ФОМС на Госуслугах."
            )
        )
    if row.state != "found":
        raise p.fail(p.PolicyNotFound.default())
    return row, fresh


async def view(runtime: Runtime, patient_id: uuid.UUID) -> PolicyView:
    row, fresh = await current(runtime, patient_id)
    async with runtime.sessionmaker() as session:
        patient = await patient_of(session, patient_id)
    enp = row.enp or ""
    matches, message = esia_check(patient.oms_policy, enp)
    status = PolicyStatus(row.status or "active")
    return PolicyView(
        enp=enp,
        status=status.value,
        status_label=status.label_ru,
        start_date=row.start_date,
        end_date=row.end_date,
        region=row.region,
        insurer=InsurerCard(
            code=row.insurer_code or "",
            name=row.insurer_name or "",
            ogrn=row.insurer_ogrn,
            phone=row.insurer_phone,
            website=row.insurer_website,
            address=row.insurer_address,
        ),
        attachment_mo_oid=row.attachment_mo_oid,
        history=[
            PolicyPeriod(
                insurer_name=h["insurer_name"],
                start_date=date.fromisoformat(h["start_date"]) if h.get("start_date") else None,
                end_date=date.fromisoformat(h["end_date"]) if h.get("end_date") else None,
                status=h["status"],
            )
            for h in row.history or []
        ],
        esia_enp=patient.oms_policy,
        esia_matches=matches,
        esia_message=message,
        machine_code=machine_code(enp, patient.birth_date, row.insurer_code),
        fetched_at=row.fetched_at,
        fresh=fresh,
        holder_name=patient.full_name,
        birth_date=patient.birth_date,
    )


async def prepare(runtime: Runtime, patient_id: uuid.UUID) -> None:
    """Refresh an old snapshot before a mutation's unit of work writes anything. The refresh is a transaction of
    its own: begun after the mutation's first write it would wait for that one's commit on SQLite (one writer at
    a time: «database is locked»). A problem here is left for the mutation to meet and report."""
    with contextlib.suppress(p.ProblemError):
        await current(runtime, patient_id)


async def enp_of(runtime: Runtime, patient_id: uuid.UUID) -> str:
    """The patient's ЕНП from the register (refreshing the snapshot when needed)."""
    row, _ = await current(runtime, patient_id)
    return row.enp or ""


async def on_login(envelope: Envelope, runtime: Runtime) -> None:
    """Outbox handler of identity's login topic: refresh the policy (best effort: the periodic job retries)."""
    patient_id = uuid.UUID(str(envelope.payload["patient_id"]))
    try:
        await refresh(runtime, patient_id)
    except ErzlError:
        log.warning("insurance.login_refresh_failed", patient=str(patient_id), exc_info=True)


async def refresh_due(runtime: Runtime, *, limit: int = 500) -> int:
    """The periodic job: refresh the oldest snapshots (and the pending ones whose retry moment passed)."""
    cutoff = runtime.now() - timedelta(seconds=POLICY_FRESH_S)
    async with runtime.sessionmaker() as session:
        ids = list(
            await session.scalars(
                select(InsurancePolicySnapshot.patient_id)
                .where(
                    (InsurancePolicySnapshot.fetched_at < cutoff)
                    | (
                        (InsurancePolicySnapshot.state == "pending")
                        & (InsurancePolicySnapshot.retry_after <= runtime.now())
                    )
                )
                .order_by(InsurancePolicySnapshot.fetched_at)
                .limit(limit)
            )
        )
    done = 0
    for patient_id in ids:
        try:
            await refresh(runtime, patient_id)
            done += 1
        except ErzlError:
            log.warning("insurance.refresh_failed", patient=str(patient_id), exc_info=True)
    return done
