"""Shared set-up for the home-visit and attachment tests: booking's small region (directory synced, hub
simulator), and over the same region, on the same clock and one attachment register, the home-call and
attachment simulators wired into the runtime (the home-call simulator pushes into our push handler)."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from sqlalchemy import select

from backend.identity.service import PatientView
from backend.runtime import Runtime
from integrations.attachment import AttachmentClient
from integrations.attachment.simulator import AttachmentSimulatorState, create_attachment_simulator
from integrations.attachment.simulator import simulator_state as attachment_state
from integrations.common.faults import FaultProfile
from integrations.common.http import build_http_client
from integrations.demo_region.areas import AttachmentRegister
from integrations.demo_region.model import Region
from integrations.homecall import HomeCallClient
from integrations.homecall.simulator import HomeCallSimulatorState, create_homecall_simulator
from integrations.homecall.simulator import simulator_state as homecall_state
from notifications.models import NotificationMessage
from tests.support.booking import CHILD, CHILDREN_MO, TODAY, BookingEnv, start_env
from tests.support.identity import grant_proxy, make_patient

PROBLEM = "... on Problem { code message }"
ADDRESS = {"city": "Ставрополь", "street": "ул. Тестовая", "house": "5", "apartment": "12"}


@dataclass
class VisitEnv:
    runtime: Runtime
    booking: BookingEnv
    region: Region
    register: AttachmentRegister
    homecall_app: Litestar
    homecall: HomeCallSimulatorState
    attachment_app: Litestar
    attachment: AttachmentSimulatorState

    async def adult(self, i: int = 1) -> PatientView:
        return await self.booking.patient(i)

    async def parent_and_child(self) -> tuple[PatientView, PatientView]:
        """Person 0 of the region and their child (attached to the children's clinic), with a guardian grant."""
        parent = await self.booking.patient(0)
        p = self.region.people[CHILD]
        child = await make_patient(
            self.runtime,
            last_name=p.last_name,
            first_name=p.first_name,
            middle_name=p.middle_name,
            birth_date=p.birth_date,
            oms_policy=p.oms_policy,
        )
        await grant_proxy(self.runtime, child.id, parent.id, kind="guardian_esia")
        return parent, child


async def start_visits(
    runtime: Runtime, *, homecall_faults: FaultProfile | None = None, attachment_faults: FaultProfile | None = None
) -> VisitEnv:
    return await wire_visits(
        runtime, await start_env(runtime), homecall_faults=homecall_faults, attachment_faults=attachment_faults
    )


async def wire_visits(
    runtime: Runtime,
    env: BookingEnv,
    *,
    homecall_faults: FaultProfile | None = None,
    attachment_faults: FaultProfile | None = None,
) -> VisitEnv:
    """Over booking's region ``env`` (already synced), the home-call and attachment simulators on its clock,
    wired into the runtime: the region's people are insured and attached (the child to the children's clinic)."""
    runtime.adapters.clock = env.clock
    people = list(env.region.people)
    people[CHILD] = dataclasses.replace(people[CHILD], attached_mo_id=CHILDREN_MO)
    region = dataclasses.replace(env.region, people=tuple(people))
    register = AttachmentRegister(region, today=TODAY)
    runtime.adapters.attachment_register = register
    settings = runtime.settings

    async def push(body: bytes, headers: Any) -> bytes:
        handler = runtime.adapters.homecall_push
        assert handler is not None, "the runtime wires the push handler"
        _, reply = await handler(body, headers.get("SOAPAction"))
        return reply

    homecall_app = create_homecall_simulator(
        region,
        faults=homecall_faults,
        clock=env.clock,
        guid=settings.homecall_guid,
        register=register,
        push_to=push,
        push_guid=settings.homecall_push_guid or settings.homecall_guid,
    )
    http = build_http_client("inprocess://homecall", simulator_app=lambda: homecall_app, timeout_s=2.0)
    runtime.adapters.set_homecall(
        HomeCallClient(http, guid=settings.homecall_guid, timeout_s=2.0), http=http, simulator=homecall_app
    )
    attachment_app = create_attachment_simulator(
        region, faults=attachment_faults, clock=env.clock, token=settings.attachment_token, register=register
    )
    http2 = build_http_client("inprocess://attachment", simulator_app=lambda: attachment_app, timeout_s=2.0)
    runtime.adapters.set_attachment(
        AttachmentClient(http2, token=settings.attachment_token, timeout_s=2.0), http=http2, simulator=attachment_app
    )
    return VisitEnv(
        runtime,
        env,
        region,
        register,
        homecall_app,
        homecall_state(homecall_app),
        attachment_app,
        attachment_state(attachment_app),
    )


async def events_sent(runtime: Runtime, patient_id: uuid.UUID) -> list[str]:
    """The notification events planned for a person (one per event, in order)."""
    await runtime.relay.drain()
    async with runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(NotificationMessage.event)
            .where(NotificationMessage.patient_id == patient_id)
            .order_by(NotificationMessage.created_at)
        )
        return list(dict.fromkeys(rows))


WINDOWS = (
    "query($a: HomeVisitAddressInput, $p: String, $t: UUID) { homeVisitWindows(address: $a, phone: $p, actingFor: $t)"
    f" {{ __typename ... on HomeVisitWindows {{ moId moName doctorName windows {{ id start end }} }} {PROBLEM} }} }}"
)
VISIT = "id number status statusLabel moId channel onBehalf cancellable doctorName timeline { status statusLabel at }"
REQUEST = (
    "mutation($i: HomeVisitInput!, $k: String!, $t: UUID) { requestHomeVisit(input: $i, idempotencyKey: $k,"
    f" actingFor: $t) {{ __typename ... on HomeVisitRequested {{ visit {{ {VISIT} }} }}"
    " ... on HomeVisitEmergency { emergencyNumber symptoms }"
    f" ... on InvalidInput {{ fields {{ field }} }} {PROBLEM} }} }}"
)
CANCEL = (
    "mutation($v: UUID!, $k: String!, $t: UUID) { cancelHomeVisit(visitId: $v, idempotencyKey: $k, actingFor: $t)"
    f" {{ __typename ... on HomeVisitCancelled {{ visit {{ {VISIT} }} }} {PROBLEM} }} }}"
)
MINE = f"query($t: UUID) {{ myHomeVisits(actingFor: $t) {{ {VISIT} }} }}"


def visit_input(window_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "reason": "fever",
        "windowId": window_id,
        "phone": "+7 900 123-45-67",
        "symptoms": ["fever", "cough"],
        "address": ADDRESS,
    } | overrides


def key() -> str:
    return uuid.uuid4().hex
