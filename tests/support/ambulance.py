"""Shared set-up of the ambulance tests: the СМП simulator over the demo region on the test's clock, pushing
its signed events into the runtime's webhook handler; people linked by phone or ESIA identity."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from litestar import Litestar
from sqlalchemy import select

from backend.ambulance.models import AmbulanceCall, AmbulancePrediction, AmbulanceStep
from backend.identity.service import PatientView, normalise_phone
from backend.runtime import Runtime
from integrations.common.faults import FaultProfile
from integrations.common.http import build_http_client
from integrations.demo_region import RegionScale, get_region
from integrations.smp import SIGNATURE_HEADER, PatientRef, SmpClient
from integrations.smp.simulator import FeedFaults, SmpSimulatorState, create_smp_simulator, simulator_state
from notifications.models import NotificationMessage
from notifications.preferences import upsert_contacts
from tests.support.documents import Clock, use_clock
from tests.support.identity import auth_headers, grant_proxy, make_patient, operator_token, token_for
from tests.support.statements import Scenario, Setup

PROBLEM = "... on Problem { code message }"
CALL = (
    "id number status statusLabel live address brigade station hospital etaMinutes etaAt acceptedAt arrivedAt"
    " predictedArrivalAt closedAt surveyScore position { lat lon speedKmh heading at } timeline { status at }"
)
LIVE = f"query($t: UUID) {{ ambulanceLive(actingFor: $t) {{ {CALL} }} }}"
MINE = f"query($t: UUID) {{ myAmbulanceCalls(actingFor: $t) {{ {CALL} }} }}"
GRANT = (
    "mutation($c: UUID!, $p: Boolean!, $k: String!, $t: UUID) { grantAmbulanceLocationConsent(callId: $c,"
    " shareEmergencyProfile: $p, idempotencyKey: $k, actingFor: $t) { __typename"
    f" ... on AmbulanceConsentGiven {{ consent {{ sharing shareEmergencyProfile }} }} {PROBLEM} }} }}"
)
WITHDRAW = (
    "mutation($c: UUID!, $k: String!) { withdrawAmbulanceLocationConsent(callId: $c, idempotencyKey: $k)"
    f" {{ __typename ... on AmbulanceConsentWithdrawn {{ consent {{ sharing withdrawnAt }} }} {PROBLEM} }} }}"
)
SHARE = (
    "mutation($c: UUID!, $l: AmbulanceLocationInput!, $k: String!, $t: UUID) { shareAmbulanceLocation(callId: $c,"
    " location: $l, idempotencyKey: $k, actingFor: $t) { __typename ... on AmbulanceLocationShared { receivedAt }"
    f" ... on InvalidInput {{ fields {{ field }} }} {PROBLEM} }} }}"
)
SURVEY = (
    "mutation($c: UUID!, $s: Int!, $k: String!) { answerAmbulanceSurvey(callId: $c, score: $s, idempotencyKey: $k)"
    f" {{ __typename ... on AmbulanceSurveyAnswered {{ score }} {PROBLEM} }} }}"
)
WATCH = (
    "subscription($c: UUID!, $t: UUID) { ambulanceCallUpdated(callId: $c, actingFor: $t)"
    " { callId kind status live etaMinutes position { lat lon at } } }"
)


@dataclass
class SmpEnv:
    runtime: Runtime
    clock: Clock
    app: Litestar
    sim: SmpSimulatorState

    async def advance(self, **delta: float) -> None:
        """Move the clock, let the dispatch side play forward and push, and run what was queued."""
        self.clock.advance(**delta)
        await self.sim.advance()
        await self.runtime.relay.drain()

    async def until(self, status: str, call_id: str, *, limit: int = 400) -> None:
        """Play the call event by event (the clock jumps to the next one) until it reaches ``status``."""
        for _ in range(limit):
            call = self.sim.call(call_id)
            if call.snapshot.status.value == status:
                await self.runtime.relay.drain()
                return
            self.clock.now = max(self.clock.now, call.next_at)
            await self.sim.advance()
            await self.runtime.relay.drain()
        raise AssertionError(f"{call_id} never reached {status}")

    def call_from(
        self, patient: PatientView, *, lat: float = 45.0430, lon: float = 41.9730, for_child: PatientView | None = None
    ) -> str:
        """``patient`` calls 103 from their phone (for ``for_child``, identified by SNILS and birth date)."""
        ref = None
        if for_child is not None:
            ref = PatientRef(for_child.last_name, for_child.first_name, for_child.birth_date, for_child.snils, None)
        assert patient.phone is not None
        return self.sim.place_call(patient.phone, lat=lat, lon=lon, address="г. Ставрополь, ул. Мира, 300", patient=ref)


async def start_smp(
    runtime: Runtime,
    *,
    feed_faults: FeedFaults | None = None,
    faults: FaultProfile | None = None,
    batch_max: int = 1,
) -> SmpEnv:
    clock = use_clock(runtime)
    settings = runtime.settings

    async def push(body: bytes, headers: Mapping[str, str]) -> int:
        handler = runtime.adapters.smp_push
        assert handler is not None, "the runtime wires the webhook"
        status, _ = await handler(body, headers.get(SIGNATURE_HEADER))
        return status

    app = create_smp_simulator(
        get_region(settings.demo_seed, RegionScale(settings.demo_scale)),
        clock=clock,
        token=settings.smp_token,
        secret=settings.smp_webhook_secret,
        push_to=push,
        faults=faults,
        feed_faults=feed_faults,
        batch_max=batch_max,
    )
    http = build_http_client("inprocess://smp", simulator_app=lambda: app, timeout_s=2.0)
    runtime.adapters.set_smp(SmpClient(http, token=settings.smp_token, timeout_s=2.0), simulator=app)
    return SmpEnv(runtime, clock, app, simulator_state(app))


async def person(runtime: Runtime, *, with_contacts: bool = True, **overrides: object) -> PatientView:
    """A patient whose confirmed phone is on file (and in the notifications' contacts)."""
    patient = await make_patient(runtime, **overrides)
    if with_contacts and patient.phone:
        async with runtime.sessionmaker() as session, session.begin():
            await upsert_contacts(session, patient.id, phone=normalise_phone(patient.phone))
    return patient


async def parent_and_child(runtime: Runtime, *, grant: bool = True) -> tuple[PatientView, PatientView]:
    parent = await person(runtime)
    child = await make_patient(runtime, first_name="Миша", birth_date=date(2019, 6, 1), phone=None)
    if grant:
        await grant_proxy(runtime, child.id, parent.id, kind="guardian_esia")
    return parent, child


async def sms_events(runtime: Runtime, patient_id: uuid.UUID) -> list[tuple[str, str]]:
    """(event, body) of the SMS planned for a person, in order."""
    await runtime.relay.drain()
    async with runtime.sessionmaker() as session:
        rows = await session.execute(
            select(NotificationMessage.event, NotificationMessage.body)
            .where(NotificationMessage.patient_id == patient_id, NotificationMessage.channel == "sms")
            .order_by(NotificationMessage.created_at)
        )
        return [(str(e), str(b)) for e, b in rows.all()]


def key() -> str:
    return uuid.uuid4().hex


# -- statement-count scenarios (tests/integration/api/test_statement_counts.py) ---------------------------


async def _calls(runtime: Runtime, patient_id: uuid.UUID, count: int, *, accepted: datetime) -> None:
    """``count`` calls of a person (all but the first closed, arrived 12 minutes after acceptance), each with
    two steps and a prediction."""
    async with runtime.sessionmaker() as session, session.begin():
        for n in range(count):
            ref = uuid.uuid4()
            closed = n > 0
            session.add(
                AmbulanceCall(
                    id=ref, call_id=f"C-{ref.hex[:10]}", caller_id=patient_id, patient_id=patient_id,
                    caller_phone="+79280000000", status="closed" if closed else "en_route",
                    district_id=("stavropol", "pyatigorsk")[n % 2], address="г. Ставрополь", place_lat=45.04,
                    place_lon=41.97, accepted_at=accepted + timedelta(hours=n),
                    departed_at=accepted + timedelta(hours=n, minutes=2),
                    arrived_at=accepted + timedelta(hours=n, minutes=12) if closed else None,
                    closed_at=accepted + timedelta(hours=n, minutes=40) if closed else None,
                    seq_high=3, created_at=accepted, updated_at=accepted,
                )
            )  # fmt: skip
            for status in ("accepted", "departed"):
                session.add(AmbulanceStep(id=uuid.uuid4(), call_ref=ref, status=status, at=accepted))
            session.add(
                AmbulancePrediction(
                    id=uuid.uuid4(), call_ref=ref, predicted_at=accepted + timedelta(hours=n, minutes=2),
                    eta_minutes=9, arrival_at=accepted + timedelta(hours=n, minutes=11), dispatch_eta_minutes=10,
                )
            )  # fmt: skip


def _as(runtime: Runtime, patient_id: uuid.UUID) -> dict[str, str]:
    return auth_headers(token_for(runtime, patient_id))


async def _one_and_four(runtime: Runtime) -> Setup:
    at = datetime(2025, 3, 1, 9, tzinfo=UTC)
    one, four = (await make_patient(runtime)).id, (await make_patient(runtime)).id
    await _calls(runtime, one, 1, accepted=at)
    await _calls(runtime, four, 4, accepted=at)
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def _kpi(runtime: Runtime) -> Setup:
    await _calls(runtime, uuid.uuid4(), 2, accepted=datetime(2025, 2, 10, 9, tzinfo=UTC))
    await _calls(runtime, uuid.uuid4(), 6, accepted=datetime(2025, 3, 2, 9, tzinfo=UTC))
    few = {"dateFrom": "2025-02-01", "dateTo": "2025-02-28"}
    more = {"dateFrom": "2025-03-01", "dateTo": "2025-03-31"}
    return few, more, auth_headers(await operator_token(runtime))


def ambulance_scenarios() -> list[Scenario]:
    return [
        Scenario("AmbulanceLive", _one_and_four),
        Scenario("MyAmbulanceCalls", _one_and_four),
        Scenario("AmbulanceArrivalKpi", _kpi),
    ]
