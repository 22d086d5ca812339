"""End to end over HTTP: «Мой полис – моя защита» (issue 22).

A patient sees their policy and insurer; sees last year's billed services with costs; disputes one (with a
document from their vault) and follows the ticket to the insurer's answer; applies to change insurer and is
refused before the allowed date, with that date in the message; applies after moving and is accepted, the
policy then naming the new insurer; the representative sends the dispanserization reminder once.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from backend.insurance.service import changes, messages, tickets
from backend.runtime import Runtime
from backend.vault import service as vault
from backend.vault.store import FileBlobStore
from integrations.erzl.simulator import REGION_INSURERS
from notifications.models import InboxItem
from tests.support.booking import ctx_for
from tests.support.client import app_client, gql
from tests.support.home_visits import events_sent
from tests.support.identity import auth_headers, token_for
from tests.support.insurance import PROBLEM, billed, erzl, freeze, insured

MSK = ZoneInfo("Europe/Moscow")
POLICY = (
    "query { myInsurancePolicy { __typename ... on InsurancePolicy { enp statusLabel insurer { code name phone }"
    f" history {{ insurerName endDate }} esiaMatches machineCode fresh }} {PROBLEM} }} }}"
)
BILLED = (
    "query($y: Int) { myBilledServices(year: $y) { __typename ... on BilledHistory { total byYear { key cases cost }"
    f" byClinic {{ label cost }} services {{ caseId serviceName cost paymentStatus }} }} {PROBLEM} }} }}"
)
OPEN = (
    "mutation($i: InsuranceTicketInput!, $k: String!) { openInsuranceTicket(input: $i, idempotencyKey: $k) {"
    " __typename ... on InsuranceTicketOpened { ticket { id status dueOn caseId serviceCost attachments { title } } }"
    f" {PROBLEM} }} }}"
)
TICKETS = "query { myInsuranceTickets { id status answer upheld canReopen history { status } } }"
CHANGE = (
    "mutation($i: InsurerChangeInput!, $k: String!) { applyForInsurerChange(input: $i, idempotencyKey: $k) {"
    f" __typename ... on InsurerChangeApplied {{ application {{ id status insurerCode }} }} {PROBLEM} }} }}"
)
OVERVIEW = (
    "query { myInsurerChange { __typename ... on InsurerChangeOverview { canChangeNow possibleFrom rule"
    " applications { status certificateNumber history { status } } } } }"
)
MESSAGES = "query { myRepresentativeMessages { id rule title text citation } }"


async def _one_file() -> AsyncIterator[bytes]:
    yield b"%PDF-1.4\nsprawka"


async def _inbox(runtime: Runtime, patient_id: uuid.UUID, event: str) -> int:
    async with runtime.sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(InboxItem)
                .where(InboxItem.patient_id == patient_id, InboxItem.event == event)
            )
            or 0
        )


async def test_my_policy_my_protection(runtime: Runtime) -> None:
    freeze(runtime, datetime(2025, 11, 14, 12, 0, tzinfo=MSK))  # a Friday after 1 November
    runtime.adapters.vault_store = FileBlobStore(Path(tempfile.mkdtemp(prefix="mz-e2e-insurance-")))
    patient = await insured(runtime, birth_date=date(1975, 4, 12), insurer=0)  # 50 this year: yearly dispanserization
    service = billed(runtime, patient, case_id="E2E-1", on=date(2024, 6, 10), cost="2450.00")
    state = erzl(runtime)
    headers = auth_headers(token_for(runtime, patient.id))
    async with app_client(runtime) as client:
        # The policy and the insurer, the ESIA number matching the register's.
        card = (await gql(client, POLICY, {}, headers=headers))["data"]["myInsurancePolicy"]
        assert card["__typename"] == "InsurancePolicy" and card["enp"] == patient.oms_policy
        assert card["insurer"] == {
            "code": REGION_INSURERS[0].code,
            "name": REGION_INSURERS[0].name,
            "phone": REGION_INSURERS[0].phone,
        }
        assert card["esiaMatches"] is True and card["fresh"] is True and card["statusLabel"] == "Действует"
        assert card["machineCode"] == f"MZOMS1;ENP={patient.oms_policy};BD=19750412;SMO={REGION_INSURERS[0].code}"

        # Last year's billed services with their costs and totals.
        history = (await gql(client, BILLED, {"y": 2024}, headers=headers))["data"]["myBilledServices"]
        rows = {s["caseId"]: s for s in history["services"]}
        assert rows["E2E-1"]["cost"] == "2450.00" and rows["E2E-1"]["serviceName"] == service.service_name
        assert [t["key"] for t in history["byYear"]] == ["2024"]
        assert history["byYear"][0]["cases"] == len(rows)
        assert Decimal(history["total"]) == sum(Decimal(s["cost"]) for s in history["services"])
        assert Decimal(history["byYear"][0]["cost"]) == Decimal(history["total"])

        # Dispute it, with a document from the vault.
        upload = await vault.upload(
            runtime, ctx_for(patient.id), patient.id,
            vault.FileMeta(folder="certificates", title="Справка с работы", file_name="spravka.pdf"), _one_file(),
        )  # fmt: skip
        dispute = {
            "kind": "DISPUTE",
            "category": "service_not_received",
            "caseId": "E2E-1",
            "description": "В этот день я был в командировке и к терапевту не ходил",
            "attachmentIds": [str(upload.id)],
        }
        opened = (await gql(client, OPEN, {"i": dispute, "k": "dispute-1"}, headers=headers))["data"]
        ticket = opened["openInsuranceTicket"]["ticket"]
        assert ticket["status"] == "registered" and ticket["dueOn"] == "2025-12-14"  # 30 days (59-ФЗ art. 12)
        assert ticket["caseId"] == "E2E-1" and ticket["serviceCost"] == "2450.00"
        assert ticket["attachments"] == [{"title": "Справка с работы"}]
        again = (await gql(client, OPEN, {"i": dispute, "k": "dispute-1"}, headers=headers))["data"]
        assert again["openInsuranceTicket"]["ticket"]["id"] == ticket["id"] and len(state.appeals) == 1

        # The insurer reviews and answers; the sync brings each step and tells the patient.
        (appeal_id,) = state.appeals
        state.review(appeal_id)
        state.answer(appeal_id, "Услуга исключена из реестра счетов, клинике отказано в оплате", upheld=True)
        assert await tickets.sync(runtime) == 1
        mine = (await gql(client, TICKETS, {}, headers=headers))["data"]["myInsuranceTickets"]
        assert [s["status"] for s in mine[0]["history"]] == ["registered", "in_review", "answered"]
        assert mine[0]["status"] == "answered" and mine[0]["upheld"] is True and mine[0]["canReopen"] is True
        assert "исключена" in mine[0]["answer"]
        assert "insurance.ticket_changed" in await events_sent(runtime, patient.id)
        after = (await gql(client, BILLED, {"y": 2024}, headers=headers))["data"]["myBilledServices"]
        assert {s["caseId"]: s for s in after["services"]}["E2E-1"]["paymentStatus"] == "rejected"

        # An ordinary change after 1 November: refused before sending, with the date it becomes possible.
        other = REGION_INSURERS[1].code
        refused = (await gql(client, CHANGE, {"i": {"insurerCode": other}, "k": "change-1"}, headers=headers))["data"]
        assert refused["applyForInsurerChange"]["code"] == "INSURANCE_CHANGE_NOT_ALLOWED_YET"
        assert "01.01.2026" in refused["applyForInsurerChange"]["message"]
        assert state.changes == {}
        overview = (await gql(client, OVERVIEW, {}, headers=headers))["data"]["myInsurerChange"]
        assert overview["canChangeNow"] is False and overview["possibleFrom"] == "2026-01-01"

        # After moving: accepted, a temporary certificate, then completed; the policy names the new insurer.
        moved = {"insurerCode": other, "reason": "CHANGE_OF_RESIDENCE", "newAddress": "г. Пятигорск, ул. Мира, д. 3"}
        applied = (await gql(client, CHANGE, {"i": moved, "k": "change-2"}, headers=headers))["data"]
        assert applied["applyForInsurerChange"]["application"]["status"] == "submitted"
        (change_id,) = state.changes
        state.process(change_id)
        assert await changes.sync(runtime) == 1
        state.complete(change_id)
        assert await changes.sync(runtime) == 1
        overview = (await gql(client, OVERVIEW, {}, headers=headers))["data"]["myInsurerChange"]
        application = overview["applications"][0]
        assert application["status"] == "completed" and application["certificateNumber"]
        assert [s["status"] for s in application["history"]] == ["submitted", "accepted", "completed"]
        card = (await gql(client, POLICY, {}, headers=headers))["data"]["myInsurancePolicy"]
        assert card["insurer"]["code"] == other
        assert card["history"][0]["insurerName"] == REGION_INSURERS[0].name
        sent = await events_sent(runtime, patient.id)
        assert "insurance.change_status_changed" in sent and "policy.updated" in sent

        # The representative: the dispanserization reminder, once.
        first = await messages.run(runtime)
        second = await messages.run(runtime)
        assert first.created >= 1 and second.created == 0 and not first.quiet
        mine = (await gql(client, MESSAGES, {}, headers=headers))["data"]["myRepresentativeMessages"]
        reminder = next(m for m in mine if m["rule"] == "dispanserization_due")
        assert "диспансеризац" in reminder["text"] and "404н" in reminder["citation"]
        await runtime.relay.drain()
        assert await _inbox(runtime, patient.id, "insurance.representative") == len(mine)
