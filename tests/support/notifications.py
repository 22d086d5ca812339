"""Shared rig of the notifications tests: a runtime with a frozen clock and a manual SMS simulator."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from litestar import Litestar
from sqlalchemy import select

from backend.adapters import build_sms_gateway, build_sms_simulator
from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.runtime import Runtime
from integrations.common.faults import FaultInjector, FaultProfile
from integrations.sms import SmsGateway, SmsSendResult, SmsStatus
from notifications.models import DeliveryAttempt, NotificationMessage
from notifications.preferences import upsert_contacts
from notifications.service import notify
from tests.conftest import make_settings

PHONE = "+79123456789"
UNREACHABLE = "+79990000001"
# 12:00 in Moscow on a weekday: not quiet.
NOON_MSK = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


class FrozenClock:
    def __init__(self, start: datetime = NOON_MSK) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Rig:
    runtime: Runtime
    clock: FrozenClock
    simulator: Litestar
    injector: FaultInjector
    gateway: SmsGateway

    @property
    def state(self) -> Any:
        return self.simulator.state.simulator

    async def advance(self, **delta: float) -> None:
        """Move our clock and the provider's together, and let the provider act on what fell due."""
        self.clock.advance(**delta)
        await self.state.run_due()

    def sms_to(self, number: str) -> list[Any]:
        return list(self.state.messages_to(number))


@asynccontextmanager
async def notification_rig(
    database_url: str, redis_url: str | None, tmp_path: Path, *, clock: FrozenClock | None = None, **overrides: Any
) -> AsyncIterator[Rig]:
    overrides.setdefault("var_dir", tmp_path)
    overrides.setdefault("public_url", "https://api.moe-zdorovye.test")
    settings = make_settings(database_url, redis_url, **overrides)
    runtime = Runtime.build(settings)
    clock = clock or FrozenClock()
    runtime.adapters.clock = clock
    injector = FaultInjector(FaultProfile(timeout_stall_s=2.0))
    simulator = build_sms_simulator(
        runtime,
        clock=clock.epoch,
        auto_progress=False,
        faults=injector,
        undeliverable_numbers={UNREACHABLE},
        sending_delay_s=1.0,
        delivery_delay_s=5.0,
    )
    gateway = build_sms_gateway(settings, simulator)
    runtime.adapters.set_sms(gateway, simulator=simulator)
    try:
        yield Rig(runtime, clock, simulator, injector, gateway)
    finally:
        await runtime.relay.drain()
        await simulator.state.simulator.aclose()
        await runtime.close()


async def with_phone(runtime: Runtime, phone: str | None = PHONE) -> uuid.UUID:
    patient_id = uuid.uuid4()
    if phone is not None:
        async with runtime.sessionmaker() as session, session.begin():
            await upsert_contacts(session, patient_id, phone=phone)
    return patient_id


BOOKED = {"specialty": "Терапевт", "doctor": "Иванова А. П.", "starts_at": "2026-03-12T07:30:00+00:00"}


async def emit(
    runtime: Runtime,
    patient_id: uuid.UUID,
    *,
    event: str = "appointment.booked",
    data: dict[str, Any] | None = None,
    key: str | None = None,
    urgent: bool = False,
    commit: bool = True,
) -> None:
    async with UnitOfWork(runtime, RequestContext.for_system("test")) as uow:
        notify(
            uow,
            patient_id=patient_id,
            event=event,
            data=BOOKED if data is None else data,
            urgent=urgent,
            dedupe_key=key or f"test:{event}:{patient_id}",
        )
        if not commit:
            uow.fail()
    await runtime.relay.drain()


async def messages(runtime: Runtime, patient_id: uuid.UUID, channel: str | None = None) -> list[NotificationMessage]:
    async with runtime.sessionmaker() as session:
        query = select(NotificationMessage).where(NotificationMessage.patient_id == patient_id)
        if channel is not None:
            query = query.where(NotificationMessage.channel == channel)
        return list(await session.scalars(query.order_by(NotificationMessage.created_at)))


async def attempts(runtime: Runtime, message_id: uuid.UUID) -> list[DeliveryAttempt]:
    async with runtime.sessionmaker() as session:
        return list(
            await session.scalars(
                select(DeliveryAttempt).where(DeliveryAttempt.message_id == message_id).order_by(DeliveryAttempt.number)
            )
        )


class CrashingGateway:
    """Calls the real provider, then dies before the caller can record anything (a killed worker)."""

    def __init__(self, inner: SmsGateway, *, before: bool = False) -> None:
        self.inner = inner
        self.before = before
        self.provider = inner.provider

    async def send(
        self, to_e164: str, body: str, *, client_ref: str, status_callback_url: str | None = None
    ) -> SmsSendResult:
        if self.before:
            raise WorkerKilled("killed before the request left")
        await self.inner.send(to_e164, body, client_ref=client_ref, status_callback_url=status_callback_url)
        raise WorkerKilled("killed after the provider accepted")

    async def status(self, provider_id: str) -> SmsStatus:
        return await self.inner.status(provider_id)

    async def aclose(self) -> None:
        return None


class WorkerKilled(Exception):
    pass


def swap_gateway(rig: Rig, make: Callable[[SmsGateway], SmsGateway]) -> None:
    rig.runtime.adapters.sms = make(rig.gateway)
