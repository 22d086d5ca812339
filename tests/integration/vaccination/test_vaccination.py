"""The vaccination domain over GraphQL and REST: the calendar's refusals at booking (nothing written), who may
issue a certificate (the kiosk prints it, the 122 operator may not), a register that is down, the reminders
to the parent with quiet hours, the coverage KPI and the public check's rate limit."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from backend.booking import service as booking
from backend.booking.models import Appointment
from backend.documents import service as documents
from backend.runtime import Runtime
from backend.vaccination import service
from backend.vaccination.models import VaccinationBooking, VaccinationReminder
from integrations.common.faults import Fault
from integrations.immunization import RegisterExemption
from notifications.models import InboxItem
from notifications.preferences import upsert_contacts
from tests.support.client import app_client, gql
from tests.support.documents import Clock, demo_person
from tests.support.identity import (
    auth_headers,
    kiosk_session_token,
    operator_on_behalf_token,
    operator_token,
    token_for,
)
from tests.support.notifications import messages
from tests.support.vaccination import call, demo_family, doc, patient_of, register_state


async def _count(runtime: Runtime, model: Any) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def _today(runtime: Runtime, clock: Clock) -> date:
    return booking.local_day(runtime, clock.now)


def _adult_with_history() -> Any:
    """A demo adult born after the register went digital (it holds their childhood vaccinations)."""
    return next(p for i in range(40) if (p := demo_person(i)).birth_date.year >= 1996)


async def _book(http: Any, headers: dict[str, str], infection: str, acting_for: uuid.UUID | None = None) -> Any:
    variables = {"infection": infection, "idempotencyKey": uuid.uuid4().hex}
    if acting_for is not None:
        variables["actingFor"] = str(acting_for)
    return (await call(http, "mobile", "BookVaccination", headers, **variables))["bookVaccination"]


async def test_the_calendar_refuses_a_dose_too_early_under_exemption_or_past_its_age_and_writes_nothing(
    runtime: Runtime, clock: Clock
) -> None:
    today = _today(runtime, clock)
    family = await demo_family(runtime, today)
    await documents.sync_patient(runtime, family.child.id)  # the child's СЭМД 170
    # The register holds a medical exemption from polio vaccination for the next month.
    register_state(runtime).add_exemption(
        family.child.snils or "",
        RegisterExemption("ex-polio", today - timedelta(days=1), today + timedelta(days=30), ("A80",), "ОРВИ"),
    )
    parent = auth_headers(token_for(runtime, family.parent.id))
    async with app_client(runtime) as http:
        calendar = (await call(http, "mobile", "VaccinationCalendar", parent, actingFor=str(family.child.id)))[
            "vaccinationCalendar"
        ]
        polio = next(i for i in calendar["items"] if i["infection"]["code"] == "poliomyelitis")
        assert polio["status"] == "EXEMPT" and polio["exemptionUntil"] == (today + timedelta(days=30)).isoformat()
        exempt = await _book(http, parent, "poliomyelitis", family.child.id)
        assert exempt["__typename"] == "VaccinationExemptionInForce" and exempt["until"] == polio["exemptionUntil"]
        assert "медицинский отвод" in exempt["message"]

        # A dose whose earliest day is beyond the booking horizon: too early, with that day.
        later = next(
            i for i in calendar["items"]
            if i["status"] == "UPCOMING" and date.fromisoformat(i["earliest"]) > today + timedelta(days=30)
            and all(j["status"] in ("DONE", "UPCOMING") for j in calendar["items"]
                    if j["infection"]["code"] == i["infection"]["code"])
        )  # fmt: skip
        early = await _book(http, parent, later["infection"]["code"], family.child.id)
        assert early["__typename"] == "VaccinationTooEarly", early
        assert early["code"] == "VACCINATION_TOO_EARLY" and early["earliest"] == later["earliest"]

        # The parent, an adult, for pertussis: not in the calendar at their age; an unknown infection.
        adult = await _book(http, parent, "pertussis")
        assert adult["code"] == "VACCINATION_NOT_IN_CALENDAR_FOR_AGE", adult
        unknown = await _book(http, parent, "smallpox")
        assert unknown["code"] == "VACCINATION_UNKNOWN_INFECTION"
        bad_slot = (
            await gql(http, doc("mobile", "BookVaccination"),
                      {"infection": "measles", "slot": "not-a-slot", "idempotencyKey": "k-bad"}, headers=parent)
        )["data"]["bookVaccination"]  # fmt: skip
        assert bad_slot["code"] == "INVALID_INPUT"
    assert await _count(runtime, Appointment) == 0
    assert await _count(runtime, VaccinationBooking) == 0


async def test_a_kiosk_prints_the_certificate_and_an_operator_books_but_may_not_issue_one(
    runtime: Runtime, clock: Clock
) -> None:
    patient = await patient_of(runtime, _adult_with_history())
    kiosk = auth_headers(await kiosk_session_token(runtime, patient.id))
    operator = auth_headers(await operator_on_behalf_token(runtime, patient.id))
    async with app_client(runtime) as http:
        printed = (await call(http, "kiosk", "PrintVaccinationCertificate", kiosk, idempotencyKey="kiosk-1"))[
            "issueVaccinationCertificate"
        ]
        assert printed["__typename"] == "VaccinationCertificateIssued", printed
        certificate = printed["certificate"]
        assert certificate["vaccinations"] >= 5  # the childhood history from the register
        pdf = await http.get(certificate["pdfUrl"], headers=kiosk)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        # The kiosk session may not read the calendar itself (it only prints).
        denied_read = await gql(http, doc("mobile", "MyVaccinations"), {}, headers=kiosk)
        assert denied_read["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"

        seen = (await call(http, "callcentre", "VaccinationCalendar", operator))["vaccinationCalendar"]
        assert seen["calendarTitle"] and isinstance(seen["due"], list)
        refused = await gql(
            http, doc("mobile", "IssueVaccinationCertificate"), {"idempotencyKey": "op-1"}, headers=operator
        )
        assert refused["data"]["issueVaccinationCertificate"]["code"] == "ACCESS_DENIED"
        foreign = await http.get(certificate["pdfUrl"], headers=operator)
        assert foreign.status_code == 403
        stranger = await patient_of(runtime, demo_person(0))
        mine_only = await http.get(certificate["pdfUrl"], headers=auth_headers(token_for(runtime, stranger.id)))
        assert mine_only.status_code == 404
    assert len(await service.certificates_of(runtime, patient.id)) == 1


async def test_a_register_that_is_down_leaves_the_last_import_and_says_so(runtime: Runtime, clock: Clock) -> None:
    patient = await patient_of(runtime, _adult_with_history())
    headers = auth_headers(token_for(runtime, patient.id))
    async with app_client(runtime) as http:
        first = (await call(http, "mobile", "MyVaccinations", headers))["myVaccinations"]
        assert first["records"] and first["warning"] is None and first["registerCheckedAt"]
        register_state(runtime).faults.force(Fault.ERROR)
        clock.advance(days=2)  # the next read asks the register again
        headers = auth_headers(token_for(runtime, patient.id))
        later = (await call(http, "mobile", "MyVaccinations", headers))["myVaccinations"]
    assert later["records"] == first["records"]
    assert later["warning"] == "Регистр прививок сейчас недоступен: показаны сведения, полученные ранее."


async def test_reminders_go_to_the_parent_once_and_their_sms_waits_out_the_night(
    runtime: Runtime, clock: Clock
) -> None:
    # 23:30 in Moscow: inside the quiet hours.
    local_night = datetime.combine(_today(runtime, clock), datetime.min.time()).replace(hour=20, minute=30)
    clock.now = local_night.replace(tzinfo=UTC)
    today = _today(runtime, clock)
    family = await demo_family(runtime, today)
    async with runtime.sessionmaker() as session, session.begin():
        await upsert_contacts(session, family.parent.id, phone="+79280000001")
    await service.ensure_imported(runtime, [family.child.id])
    run = await service.run_reminders(runtime)
    assert (run.patients, run.failed) == (1, 0) and run.sent >= 1  # polio is overdue at least
    again = await service.run_reminders(runtime)
    assert again.sent == 0
    await runtime.relay.drain()
    async with runtime.sessionmaker() as session:
        rows = list(await session.scalars(select(VaccinationReminder)))
        inbox = list(await session.scalars(select(InboxItem).where(InboxItem.patient_id == family.parent.id)))
        child_inbox = await session.scalar(
            select(func.count()).select_from(InboxItem).where(InboxItem.patient_id == family.child.id)
        )
    assert {r.recipient_id for r in rows} == {family.parent.id} and len(rows) == run.sent
    assert any(r.infection == "poliomyelitis" and r.kind == "overdue" for r in rows)
    assert len(inbox) == run.sent and child_inbox == 0
    assert all(
        family.child.first_name in item.body and item.event == "vaccination.due" for item in inbox
    )  # «Пора сделать прививку (Имя Фамилия)»
    sms = await messages(runtime, family.parent.id, "sms")
    assert sms and all(m.next_attempt_at is not None for m in sms)
    morning = datetime.combine(today + timedelta(days=1), datetime.min.time()).replace(hour=5, tzinfo=UTC)  # 08:00
    assert all(m.next_attempt_at == morning for m in sms), [m.next_attempt_at for m in sms]


async def test_the_staff_see_coverage_by_infection_and_age_group(runtime: Runtime, clock: Clock) -> None:
    today = _today(runtime, clock)
    family = await demo_family(runtime, today)
    adult = await patient_of(runtime, _adult_with_history())
    await service.ensure_imported(runtime, [family.child.id, adult.id, family.parent.id])
    await documents.sync_patient(runtime, family.child.id)
    staff = auth_headers(await operator_token(runtime))
    async with app_client(runtime) as http:
        rows = (await call(http, "callcentre", "VaccinationCoverage", staff))["vaccinationCoverage"]
        refused = await gql(http, doc("callcentre", "VaccinationCoverage"), {}, headers=auth_headers(
            token_for(runtime, adult.id)))  # fmt: skip
    assert refused["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    by_key = {(r["ageGroup"], r["infection"]["code"]): r for r in rows}
    child_group = service.age_group(family.child.birth_date, today)
    polio = by_key[(child_group, "poliomyelitis")]
    assert polio["people"] >= 1 and polio["vaccinated"] == 0 and polio["overdue"] >= 1 and polio["coverage"] == 0
    diphtheria = by_key[(child_group, "diphtheria")]
    assert diphtheria["vaccinated"] >= 1 and 0 < diphtheria["coverage"] <= 1


async def test_the_public_check_is_rate_limited_per_client(runtime: Runtime, clock: Clock) -> None:
    limit = runtime.settings.vaccination_verify_per_minute
    async with app_client(runtime) as http:
        answers = [await http.get("/api/v1/vaccination/verify", params={"c": "a.b.c"}) for _ in range(limit + 1)]
    assert [a.status_code for a in answers[:limit]] == [200] * limit
    assert all(a.json()["valid"] is False for a in answers[:limit])
    assert answers[-1].status_code == 429 and answers[-1].headers["retry-after"] == "60"
