"""The virtual insurance representative at work: the rules of :mod:`backend.insurance.representative` run
over each insured patient we know (the periodic job), one message per person, rule and period (a unique
index makes a second run, or two workers, write nothing twice), never during quiet hours, each sent through
notifications (``insurance.representative``, whose text names no diagnosis) and dismissable; the staff KPI
counts the people reached against the insured people we know (target ≥ 20 % by 2024, services.md §20).

Facts per person: age (identity), the billed services of the last three years (the register), the insurer's
hotline (the policy snapshot), the bookings that failed for lack of slots in the last 14 days (the waitlist
entries the patient joined: a join is accepted only when nothing was free).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.identity import service as identity
from backend.insurance import problems as p
from backend.insurance.models import InsurancePolicySnapshot, RepresentativeMessage
from backend.insurance.representative import Facts, FailedBooking, advise
from backend.insurance.service.common import local_today, register
from backend.waitlist import service as waitlist
from integrations.erzl import ErzlError
from notifications import service as notifications
from notifications.quiet import quiet_until

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

EVENT = "insurance.representative"
FAILED_BOOKING_WINDOW = timedelta(days=14)  # as the rule (representative.booking_failed) looks back
KPI_TARGET = 0.20  # ≥ 20 % of insured persons use the virtual representative by 2024 (seed 001:825)


@dataclass(frozen=True)
class RunResult:
    quiet: bool
    patients: int
    created: int


async def run_for(
    runtime: Runtime, patient_id: uuid.UUID, *, failed_bookings: Sequence[FailedBooking] | None = None
) -> list[RepresentativeMessage]:
    """The rules for one patient; the messages created now (none already sent for their period).
    ``failed_bookings`` defaults to the waitlist entries the patient joined in the last 14 days."""
    async with runtime.sessionmaker() as session:
        snapshot = await session.scalar(
            select(InsurancePolicySnapshot).where(InsurancePolicySnapshot.patient_id == patient_id)
        )
        patient = await identity.get_patient(session, patient_id)
        if failed_bookings is None:
            unmet = await waitlist.unmet_demand_since(session, patient_id, runtime.now() - FAILED_BOOKING_WINDOW)
            failed_bookings = [FailedBooking(on=u.on, specialty=u.specialty_name) for u in unmet]
    if snapshot is None or snapshot.state != "found" or not snapshot.enp or patient is None:
        return []
    today = local_today(runtime)
    services = await register(runtime).billed_services(
        snapshot.enp, date_from=date(today.year - 3, 1, 1), date_to=today
    )
    facts = Facts(
        today=today,
        birth_date=patient.birth_date,
        services=services,
        failed_bookings=failed_bookings,
        insurer_name=snapshot.insurer_name,
        insurer_phone=snapshot.insurer_phone,
    )
    advice = advise(facts)
    if not advice:
        return []
    created: list[RepresentativeMessage] = []
    async with UnitOfWork(runtime, RequestContext.for_system("insurance.representative")) as uow:
        sent = set(
            (
                await uow.session.execute(
                    select(RepresentativeMessage.rule, RepresentativeMessage.period_key).where(
                        RepresentativeMessage.patient_id == patient_id
                    )
                )
            ).all()
        )
        for item in advice:
            if (item.rule.value, item.period_key) in sent:
                continue
            message = RepresentativeMessage(
                id=uuid.uuid4(),
                patient_id=patient_id,
                rule=item.rule.value,
                period_key=item.period_key,
                title=item.title,
                text=item.text,
                citation=item.citation,
                created_at=runtime.now(),
            )
            uow.session.add(message)
            notifications.notify(
                uow,
                patient_id=patient_id,
                event=EVENT,
                data={"title": item.title, "notice": item.notice},
                dedupe_key=f"representative:{patient_id}:{item.rule.value}:{item.period_key}",
            )
            uow.audit(
                "insurance.representative_message",
                object_type="representative_message",
                object_id=message.id,
                subject_id=patient_id,
                details={"rule": item.rule.value, "period": item.period_key},
            )
            created.append(message)
    return created


async def run(runtime: Runtime, *, limit: int = 1000) -> RunResult:
    """The periodic job: nothing during quiet hours (the next run after them sends); otherwise every insured
    patient we know, oldest snapshot first. Idempotent: a message already sent for its period is skipped."""
    if quiet_until(runtime.now(), runtime.settings) is not None:
        return RunResult(quiet=True, patients=0, created=0)
    async with runtime.sessionmaker() as session:
        ids = list(
            await session.scalars(
                select(InsurancePolicySnapshot.patient_id)
                .where(InsurancePolicySnapshot.state == "found")
                .order_by(InsurancePolicySnapshot.fetched_at)
                .limit(limit)
            )
        )
    created = 0
    for patient_id in ids:
        try:
            created += len(await run_for(runtime, patient_id))
        except ErzlError:
            log.warning("insurance.representative_failed", patient=str(patient_id), exc_info=True)
    return RunResult(quiet=False, patients=len(ids), created=created)


async def messages_of(session: AsyncSession, patient_id: uuid.UUID) -> list[RepresentativeMessage]:
    """The patient's messages not dismissed, newest first."""
    rows = await session.scalars(
        select(RepresentativeMessage)
        .where(RepresentativeMessage.patient_id == patient_id, RepresentativeMessage.dismissed_at.is_(None))
        .order_by(RepresentativeMessage.created_at.desc())
    )
    return list(rows)


async def dismiss(uow: UnitOfWork, patient_id: uuid.UUID, message_id: uuid.UUID) -> RepresentativeMessage:
    row = await uow.session.get(RepresentativeMessage, message_id, with_for_update=True)
    if row is None or row.patient_id != patient_id:
        raise p.fail(p.MessageNotFound.default())
    if row.dismissed_at is None:
        row.dismissed_at = uow.runtime.now()
        uow.audit(
            "insurance.representative_dismissed",
            object_type="representative_message",
            object_id=row.id,
            subject_id=patient_id,
            details={"rule": row.rule},
        )
    return row


@dataclass(frozen=True)
class Kpi:
    start: datetime
    end: datetime
    insured: int
    reached: int
    share: float
    target: float
    by_rule: dict[str, int]
    dismissed: int


async def kpi(session: AsyncSession, start: datetime, end: datetime) -> Kpi:
    """People reached by the representative in [start, end) against the insured people we know (2 statements)."""
    insured = await session.scalar(
        select(func.count()).select_from(InsurancePolicySnapshot).where(InsurancePolicySnapshot.state == "found")
    )
    rows = (
        await session.execute(
            select(
                RepresentativeMessage.rule,
                func.count(),
                func.count(RepresentativeMessage.dismissed_at),
                func.count(func.distinct(RepresentativeMessage.patient_id)),
            )
            .where(RepresentativeMessage.created_at >= start, RepresentativeMessage.created_at < end)
            .group_by(RepresentativeMessage.rule)
        )
    ).all()
    reached_rows = await session.scalar(
        select(func.count(func.distinct(RepresentativeMessage.patient_id))).where(
            RepresentativeMessage.created_at >= start, RepresentativeMessage.created_at < end
        )
    )
    reached = int(reached_rows or 0)
    total = int(insured or 0)
    return Kpi(
        start=start,
        end=end,
        insured=total,
        reached=reached,
        share=reached / total if total else 0.0,
        target=KPI_TARGET,
        by_rule={str(rule): int(n) for rule, n, _, _ in rows},
        dismissed=sum(int(d) for _, _, d, _ in rows),
    )
