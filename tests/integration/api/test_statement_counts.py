"""No N+1: every trusted query costs the same number of SQL statements for few items and for more, the
number in STATEMENTS, on PostgreSQL and SQLite alike (counted at the driver, see tests/support/statements.py).

Each trusted query operation (graphql/<client>/*.graphql) needs a scenario here; a new operation
without one fails the suite. Subscriptions are exempt (they stream; their per-event cost is tested
where they are built).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, OperationType, parse
from sqlalchemy import update

from backend.api.schema import build_schema
from backend.attachment.models import AttachmentApplication, AttachmentApplicationEvent
from backend.audit.models import AuditEvent
from backend.booking import service as booking
from backend.booking.models import Appointment, AppointmentState
from backend.core.context import Channel
from backend.core.uow import UnitOfWork
from backend.directory import service as directory
from backend.directory.service import sync_directory
from backend.documents import service as documents_service
from backend.documents.models import DocumentAccessGrant, MedicalDocument, ProfileEntry
from backend.home_visits.models import HomeVisit, HomeVisitEvent
from backend.identity import tokens
from backend.identity.staff import create_staff
from backend.runtime import Runtime
from backend.settings import Settings
from backend.vault import service as vault
from backend.vault.store import FileBlobStore
from notifications import preferences
from tests.support import drugs_statements
from tests.support.ambulance import ambulance_scenarios
from tests.support.booking import ADULT_MO, EYE, THERAPIST, TOMORROW, ctx_for, start_env
from tests.support.call_record import (
    caller_candidates_scenario,
    calls_kpi_scenario,
    current_call_scenario,
    recent_calls_scenario,
)
from tests.support.care_statements import CARE_SCENARIOS, CARE_STATEMENTS
from tests.support.client import app_client, gql
from tests.support.documents import demo_patient, doctor_token, make_doctor
from tests.support.home_visits import start_visits
from tests.support.identity import (
    auth_headers,
    grant_proxy,
    make_patient,
    operator_on_behalf_token,
    operator_token,
    token_for,
)
from tests.support.insurance_statements import INSURANCE_STATEMENTS, insurance_scenarios
from tests.support.notifications import PHONE, emit
from tests.support.statements import Headers, Scenario, Setup, Variables, counting_statements
from tests.support.surveys import answered_visits
from tests.support.vaccination_statements import VACCINATION_STATEMENTS, vaccination_scenarios
from tests.support.waitlist import entries_with_offers

pytestmark = pytest.mark.dialect

ROOT = Path(__file__).resolve().parents[3]


async def _no_data(runtime: Runtime) -> tuple[Variables, Variables, Headers]:
    return {}, {}, {}


async def _organisations(runtime: Runtime) -> tuple[Variables, Variables, Headers]:
    await sync_directory(runtime)
    return {"first": 2}, {"first": 6}, {}


async def _organisation_ids(runtime: Runtime) -> list[tuple[int, str]]:
    """(number of doctors, global id) of every organisation, fewest doctors first."""
    await sync_directory(runtime)
    async with app_client(runtime) as client:
        body = await gql(client, "{ organisations(first: 100) { edges { node { id doctors { id } } } } }")
    return sorted((len(e["node"]["doctors"]), e["node"]["id"]) for e in body["data"]["organisations"]["edges"])


async def _organisation_doctors(runtime: Runtime) -> tuple[Variables, Variables, Headers]:
    ranked = await _organisation_ids(runtime)
    (few, few_id), (many, many_id) = ranked[0], ranked[-1]
    assert many > few, "the scenario needs organisations of different sizes"
    return {"id": few_id}, {"id": many_id}, {}


async def _node(runtime: Runtime) -> tuple[Variables, Variables, Headers]:
    ranked = await _organisation_ids(runtime)
    return {"id": ranked[0][1]}, {"id": ranked[-1][1]}, {}


async def _reference(runtime: Runtime) -> tuple[Variables, Variables, Headers]:
    await sync_directory(runtime)
    async with runtime.sessionmaker() as session:
        assert len(await directory.list_specialties(session)) > 1
    return {}, {}, {}


# ---------------------------------------------------------------------------------------------- identity


async def _proxies(runtime: Runtime, count: int) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    """(principal with ``count`` proxies, proxy with ``count`` principals, those principals)."""
    principal = (await make_patient(runtime)).id
    for _ in range(count):
        await grant_proxy(runtime, principal, (await make_patient(runtime)).id)
    proxy = (await make_patient(runtime)).id
    principals = [(await make_patient(runtime)).id for _ in range(count)]
    for other in principals:
        await grant_proxy(runtime, other, proxy)
    return principal, proxy, principals


def _as(runtime: Runtime, patient_id: uuid.UUID) -> Headers:
    return auth_headers(token_for(runtime, patient_id))


async def _me(runtime: Runtime) -> Setup:
    """A proxy's profile read for a principal: by a proxy of one person, by a proxy of four."""
    _, one, (principal,) = await _proxies(runtime, 1)
    _, four, principals = await _proxies(runtime, 4)
    return {"actingFor": str(principal)}, {"actingFor": str(principals[-1])}, _as(runtime, one), _as(runtime, four)


async def _my_proxies(runtime: Runtime) -> Setup:
    one, _, _ = await _proxies(runtime, 1)
    four, _, _ = await _proxies(runtime, 4)
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def _my_principals(runtime: Runtime) -> Setup:
    _, one, _ = await _proxies(runtime, 1)
    _, four, _ = await _proxies(runtime, 4)
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def _my_access_log(runtime: Runtime) -> Setup:
    """The log of a patient whose data the patient, a proxy, an operator, a kiosk and the system touched:
    every kind of actor on the short page and on the long one."""
    patient = (await make_patient(runtime)).id
    proxy = (await make_patient(runtime)).id
    at = tokens.now(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        staff, _ = await create_staff(session, login="op-stmt", full_name="Оператор Первый", password="x" * 12, at=at)
        actors = [
            ("patient", str(proxy), Channel.MOBILE),
            ("operator", str(staff.id), Channel.CALLCENTRE),
            ("kiosk", "kiosk-gp1-hall", Channel.KIOSK),
            ("patient", str(patient), Channel.MOBILE),
            ("system", None, Channel.SYSTEM),
        ]
        for i in range(40):
            kind, actor_id, channel = actors[i % len(actors)]
            session.add(
                AuditEvent(
                    id=uuid.uuid4(),
                    at=at - timedelta(minutes=i + 1),
                    actor_kind=kind,
                    actor_id=actor_id,
                    subject_id=patient,
                    channel=channel.value,
                    action="patient.profile.read",
                )
            )
    return {"first": 5}, {"first": 40}, _as(runtime, patient)


# ---------------------------------------------------------------------------------------------- booking

_SPECIALTIES = {"76": "Терапевт", "46": "Офтальмолог", "49": "Педиатр", "22": "Кардиолог"}


async def _appointments(
    runtime: Runtime, patient_id: uuid.UUID, count: int, *, created: datetime, channels: tuple[Channel, ...]
) -> None:
    """``count`` appointment rows as the service writes them once the hub booked (one per specialty)."""
    start = datetime.combine(TOMORROW, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
    async with runtime.sessionmaker() as session, session.begin():
        for i in range(count):
            code = list(_SPECIALTIES)[i % len(_SPECIALTIES)]
            channel = channels[i % len(channels)]
            kind = {Channel.CALLCENTRE: "operator", Channel.KIOSK: "kiosk"}.get(channel, "patient")
            session.add(
                Appointment(
                    id=uuid.uuid4(),
                    patient_id=patient_id,
                    mo_id=ADULT_MO,
                    mo_name="ГБУЗ СК «Городская поликлиника № 1»",
                    doctor_id=f"doc-{code}",
                    doctor_name="Иванова Мария Петровна",
                    specialty_code=code,
                    specialty_name=_SPECIALTIES[code],
                    slot_id=f"slot-{uuid.uuid4().hex}",
                    slot_start=start + timedelta(days=i),
                    slot_end=start + timedelta(days=i, minutes=15),
                    room="101",
                    address="ул. Городская поликлиника № 1, 1",
                    hub_patient_id="hub-1",
                    status=AppointmentState.BOOKED.value,
                    channel=channel.value,
                    source_type=int(booking.source_of(channel)),
                    actor_kind=kind,
                    actor_id=str(patient_id) if kind == "patient" else f"{kind}-1",
                    on_behalf=kind != "patient",
                    created_at=created + timedelta(hours=i),
                    updated_at=created + timedelta(hours=i),
                )
            )


async def _my_appointments(runtime: Runtime) -> Setup:
    created = datetime(2025, 3, 1, 9, tzinfo=UTC)
    one = (await make_patient(runtime)).id
    four = (await make_patient(runtime)).id
    await _appointments(runtime, one, 1, created=created, channels=(Channel.MOBILE,))
    await _appointments(runtime, four, 4, created=created, channels=(Channel.MOBILE, Channel.CALLCENTRE, Channel.KIOSK))
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def _remote_booking_share(runtime: Runtime) -> Setup:
    """February: one booking; March: six, through every channel (one GROUP BY either way)."""
    await _appointments(
        runtime, uuid.uuid4(), 1, created=datetime(2025, 2, 10, 9, tzinfo=UTC), channels=(Channel.MOBILE,)
    )
    channels = (Channel.MOBILE, Channel.EPGU, Channel.CALLCENTRE, Channel.KIOSK)
    for i in range(6):
        created = datetime(2025, 3, 2 + i, 9, tzinfo=UTC)
        await _appointments(runtime, uuid.uuid4(), 1, created=created, channels=(channels[i % len(channels)],))
    few = {"dateFrom": "2025-02-01", "dateTo": "2025-02-28"}
    more = {"dateFrom": "2025-03-01", "dateTo": "2025-03-31"}
    return few, more, auth_headers(await operator_token(runtime))


async def _search_slots(runtime: Runtime) -> Setup:
    """One clinic, one doctor, one day against two clinics, two doctors, a working week."""
    env = await start_env(runtime)
    patient = await env.patient(0)
    few = {"specialtyCode": "46", "dateFrom": TOMORROW.isoformat(), "dateTo": TOMORROW.isoformat()}
    more = {
        "specialtyCode": "76",
        "dateFrom": TOMORROW.isoformat(),
        "dateTo": (TOMORROW + timedelta(days=4)).isoformat(),
    }
    headers = _as(runtime, patient.id)
    query = (
        "query($specialtyCode: String!, $dateFrom: Date, $dateTo: Date) {"
        " searchSlots(specialtyCode: $specialtyCode, dateFrom: $dateFrom, dateTo: $dateTo) { items { slots { id } } } }"
    )
    async with app_client(runtime) as client:
        sizes = []
        for variables in (few, more):
            body = await gql(client, query, variables, headers=headers)
            items = body["data"]["searchSlots"]["items"]
            sizes.append((len(items), sum(len(i["slots"]) for i in items)))
    assert sizes[0][0] < sizes[1][0] and sizes[0][1] < sizes[1][1], sizes
    return few, more, headers


async def _doctor_slots(runtime: Runtime) -> Setup:
    """The first two slots of a doctor's day against the first twenty of the doctor's working week."""
    env = await start_env(runtime)
    patient = await env.patient(0)
    base = {"specialtyCode": "76", "moId": ADULT_MO, "doctorId": THERAPIST, "dateFrom": TOMORROW.isoformat()}
    few = base | {"dateTo": TOMORROW.isoformat(), "first": 2}
    more = base | {"dateTo": (TOMORROW + timedelta(days=6)).isoformat(), "first": 20}
    headers = _as(runtime, patient.id)
    query = (
        "query($specialtyCode: String!, $moId: String!, $doctorId: String!, $dateFrom: Date, $dateTo: Date,"
        " $first: Int) { searchSlots(specialtyCode: $specialtyCode, moId: $moId, doctorId: $doctorId,"
        " dateFrom: $dateFrom, dateTo: $dateTo, slotsPerDoctor: $first) { items { slots { id } } } }"
    )
    async with app_client(runtime) as client:
        sizes = []
        for variables in (few, more):
            body = await gql(client, query, variables, headers=headers)
            sizes.append(sum(len(i["slots"]) for i in body["data"]["searchSlots"]["items"]))
    assert sizes == [2, 20], sizes
    return few, more, headers


async def _nearest_free_slots(runtime: Runtime) -> Setup:
    """Within 5 km for a day (one clinic) against within 100 km for a week (every therapist's clinic)."""
    await start_env(runtime)
    here = {"specialtyCode": "76", "latitude": 45.04, "longitude": 41.97}
    return here | {"radiusKm": 5, "days": 1}, here | {"radiusKm": 100, "days": 7}, {}


async def _slot_hold(runtime: Runtime) -> Setup:
    """A hold of a patient with one hold, and of a patient holding three slots."""
    env = await start_env(runtime)
    eye, therapist = await env.slot_refs(EYE), await env.slot_refs(THERAPIST)
    one, three = await env.patient(0), await env.patient(1)
    holds: dict[uuid.UUID, list[uuid.UUID]] = {one.id: [], three.id: []}
    for patient_id, ref in ((one.id, eye[0]), (three.id, therapist[0]), (three.id, therapist[1]), (three.id, eye[1])):
        async with booking.booking_unit(runtime, ctx_for(patient_id)) as uow:
            holds[patient_id].append((await booking.hold_slot(uow, patient_id, booking.parse_ref(ref))).id)
    few = {"id": str(holds[one.id][0])}
    more = {"id": str(holds[three.id][-1])}
    return few, more, _as(runtime, one.id), _as(runtime, three.id)


# ---------------------------------------------------------------------------------------------- notifications


async def _notified(runtime: Runtime, count: int) -> uuid.UUID:
    """A patient with an SMS phone and ``count`` notifications (each to the inbox, push and SMS)."""
    patient = (await make_patient(runtime)).id
    async with runtime.sessionmaker() as session, session.begin():
        await preferences.upsert_contacts(session, patient, phone=PHONE)
        for i in range(count):
            await preferences.register_push_token(session, patient, provider="fcm", token=f"fcm-{patient}-{i}")
    for i in range(count):
        await emit(runtime, patient, key=f"appointment:{i}:booked")
    return patient


async def _one_and_four(runtime: Runtime) -> Setup:
    one, four = await _notified(runtime, 1), await _notified(runtime, 4)
    return {}, {}, _as(runtime, one), _as(runtime, four)


# ---------------------------------------------------------------------------------------------- documents

_FACTS = [
    {"kind": "allergy", "code": {"code": "Z88.0"}, "shown": "Аллергия на пенициллин", "known_at": "2025-01-10"},
    {"kind": "diagnosis", "code": {"code": "I10"}, "shown": "Гипертензия", "known_at": "2025-01-10"},
    {"kind": "vital", "code": {"code": "1"}, "shown": "120 мм рт. ст.", "label": "САД", "known_at": "2025-01-10",
     "quantity": {"value": "120", "unit": "мм рт. ст."}},
    {"kind": "vaccination", "code": {"code": "2"}, "shown": "Вакцина", "known_at": "2025-01-10"},
]  # fmt: skip


async def _with_documents(runtime: Runtime, count: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A patient with ``count`` documents (rows as a sync writes them) and two own profile entries."""
    patient = (await make_patient(runtime)).id
    at = tokens.now(runtime)
    ids = []
    async with runtime.sessionmaker() as session, session.begin():
        for n in range(count):
            row = MedicalDocument(
                id=uuid.uuid4(), patient_id=patient, registry_number=f"REMD-{uuid.uuid4().hex[:10]}",
                local_uid=uuid.uuid4().hex, kind=("119", "170", "174", "122")[n % 4], title="Протокол консультации",
                created_at=at - timedelta(days=n), org_oid="1.2.643.5.1.13.13.12.2.26.100", org_name="Поликлиника",
                author_name="Врачев В. В.", author_position="терапевт", content_status="ok", facts=_FACTS,
            )  # fmt: skip
            session.add(row)
            ids.append(row.id)
        for kind in ("allergy", "note"):
            session.add(
                ProfileEntry(
                    id=uuid.uuid4(), patient_id=patient, kind=kind, text="Со слов", created_at=at,
                    idempotency_key=uuid.uuid4().hex,
                )
            )  # fmt: skip
    return patient, ids


async def _grants(
    runtime: Runtime, patient: uuid.UUID, documents: list[uuid.UUID], count: int, snils: str
) -> list[uuid.UUID]:
    at = tokens.now(runtime)
    ids = []
    async with runtime.sessionmaker() as session, session.begin():
        for _ in range(count):
            grant = DocumentAccessGrant(
                id=uuid.uuid4(), patient_id=patient, doctor_snils=snils, include_profile=True,
                document_ids=[str(d) for d in documents], created_at=at, expires_at=at + timedelta(hours=24),
                idempotency_key=uuid.uuid4().hex,
            )  # fmt: skip
            session.add(grant)
            ids.append(grant.id)
    return ids


async def _my_documents(runtime: Runtime) -> Setup:
    one, _ = await _with_documents(runtime, 1)
    four, _ = await _with_documents(runtime, 4)
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def _caller_documents_summary(runtime: Runtime) -> Setup:
    one, _ = await _with_documents(runtime, 1)
    four, _ = await _with_documents(runtime, 4)
    few = auth_headers(await operator_on_behalf_token(runtime, one))
    more = auth_headers(await operator_on_behalf_token(runtime, four))
    return {}, {}, few, more


async def _my_document_access_grants(runtime: Runtime) -> Setup:
    doctor = await make_doctor(runtime, snils="112-233-445 95")
    one, docs_one = await _with_documents(runtime, 1)
    four, docs_four = await _with_documents(runtime, 1)
    await _grants(runtime, one, docs_one, 1, doctor.snils)
    for grant in await _grants(runtime, four, docs_four, 4, doctor.snils):
        async with runtime.sessionmaker() as session, session.begin():
            row = await session.get_one(DocumentAccessGrant, grant)
            row.doctor_staff_id = doctor.id
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def _doctor_shared_patients(runtime: Runtime) -> Setup:
    few_doctor = await make_doctor(runtime, snils="112-233-445 95")
    more_doctor = await make_doctor(runtime, snils="123-456-789 64")
    patient, docs = await _with_documents(runtime, 2)
    await _grants(runtime, patient, docs, 1, few_doctor.snils)
    for _ in range(4):
        other, other_docs = await _with_documents(runtime, 1)
        await _grants(runtime, other, other_docs, 1, more_doctor.snils)
    few = auth_headers(await doctor_token(runtime, few_doctor.id))
    more = auth_headers(await doctor_token(runtime, more_doctor.id))
    return {}, {}, few, more


async def _doctor_shared_record(runtime: Runtime) -> Setup:
    doctor = await make_doctor(runtime, snils="112-233-445 95")
    one, docs_one = await _with_documents(runtime, 1)
    four, docs_four = await _with_documents(runtime, 4)
    (few,) = await _grants(runtime, one, docs_one, 1, doctor.snils)
    (more,) = await _grants(runtime, four, docs_four, 1, doctor.snils)
    return {"grantId": str(few)}, {"grantId": str(more)}, auth_headers(await doctor_token(runtime, doctor.id))


async def _synced_demo_documents(runtime: Runtime) -> tuple[uuid.UUID, list[MedicalDocument]]:
    """A demo person's documents synced from the register simulator: a short one (a vaccination certificate)
    and a long one (a consultation protocol) first."""
    patient = await demo_patient(runtime, with_rights=True)
    await documents_service.sync_patient(runtime, patient.id)
    rows = await documents_service.list_documents(runtime, patient.id, first=100)
    by_kind = {r.kind: r for r in rows}
    return patient.id, [by_kind["170"], by_kind["119"]]


async def _medical_document(runtime: Runtime) -> Setup:
    patient, (short, long) = await _synced_demo_documents(runtime)
    return {"id": str(short.id)}, {"id": str(long.id)}, _as(runtime, patient)


async def _doctor_shared_document(runtime: Runtime) -> Setup:
    patient, (short, long) = await _synced_demo_documents(runtime)
    doctor = await make_doctor(runtime, snils="112-233-445 95")
    (grant,) = await _grants(runtime, patient, [short.id, long.id], 1, doctor.snils)
    headers = auth_headers(await doctor_token(runtime, doctor.id))
    return (
        {"grantId": str(grant), "documentId": str(short.id)},
        {"grantId": str(grant), "documentId": str(long.id)},
        headers,
    )


# ---------------------------------------------------------------------------------------------- home visits, attachment


async def _home_visits(runtime: Runtime, patient_id: uuid.UUID, count: int, *, created: datetime) -> None:
    """``count`` visits (the last one active), each with a timeline of three steps, through every channel."""
    channels = (Channel.MOBILE, Channel.CALLCENTRE, Channel.EPGU)
    async with runtime.sessionmaker() as session, session.begin():
        for i in range(count):
            at = created + timedelta(days=i)
            status = "new" if i == count - 1 else "visited"
            visit = HomeVisit(
                id=uuid.uuid4(),
                patient_id=patient_id,
                request_id=f"hc-{uuid.uuid4().hex[:12]}",
                mo_id=ADULT_MO,
                mo_name="Городская поликлиника № 1",
                status=status,
                reason_code="fever",
                symptoms=["fever"],
                address={"line": "г. Ставрополь, ул. Ленина, д. 1"},
                address_line="г. Ставрополь, ул. Ленина, д. 1",
                phone="+79001234567",
                window_start=at + timedelta(hours=4),
                window_end=at + timedelta(hours=6),
                channel=channels[i % len(channels)].value,
                actor_kind="patient",
                actor_id=str(patient_id),
                created_at=at,
                updated_at=at,
            )
            session.add(visit)
            for n, step in enumerate(("new", "doctor_assigned", status)):
                session.add(
                    HomeVisitEvent(
                        id=uuid.uuid4(),
                        visit_id=visit.id,
                        status=step,
                        at=at + timedelta(minutes=n),
                        source="push",
                        dedup_key=f"{visit.request_id}:{n}",
                    )
                )


async def _my_home_visits(runtime: Runtime) -> Setup:
    created = datetime(2025, 3, 1, 9, tzinfo=UTC)
    one = (await make_patient(runtime)).id
    four = (await make_patient(runtime)).id
    await _home_visits(runtime, one, 1, created=created)
    await _home_visits(runtime, four, 4, created=created)
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def _home_visit_requests_kpi(runtime: Runtime) -> Setup:
    await _home_visits(runtime, uuid.uuid4(), 1, created=datetime(2025, 2, 10, 9, tzinfo=UTC))
    await _home_visits(runtime, uuid.uuid4(), 5, created=datetime(2025, 3, 2, 9, tzinfo=UTC))
    few = {"dateFrom": "2025-02-01", "dateTo": "2025-02-28"}
    more = {"dateFrom": "2025-03-01", "dateTo": "2025-03-31"}
    return few, more, auth_headers(await operator_token(runtime))


async def _applications(runtime: Runtime, patient_id: uuid.UUID, count: int, *, created: datetime) -> None:
    """``count`` applications (the last one pending), each with its steps."""
    final = ("completed", "rejected")
    async with runtime.sessionmaker() as session, session.begin():
        for i in range(count):
            at = created + timedelta(days=i)
            status = "submitted" if i == count - 1 else final[i % 2]
            application = AttachmentApplication(
                id=uuid.uuid4(),
                patient_id=patient_id,
                upstream_id=f"ATT-{uuid.uuid4().hex[:12]}",
                mo_id=ADULT_MO,
                mo_name="Городская поликлиника № 1",
                status=status,
                registration_address="г. Ставрополь, ул. Ленина, д. 1",
                channel=Channel.MOBILE.value,
                actor_kind="patient",
                actor_id=str(patient_id),
                created_at=at,
                updated_at=at,
            )
            session.add(application)
            steps = ("submitted",) if status == "submitted" else ("submitted", "accepted", status)
            for n, step in enumerate(steps):
                session.add(
                    AttachmentApplicationEvent(
                        id=uuid.uuid4(), application_id=application.id, status=step, at=at + timedelta(hours=n)
                    )
                )


async def _my_attachment_applications(runtime: Runtime) -> Setup:
    created = datetime(2025, 3, 1, 9, tzinfo=UTC)
    one = (await make_patient(runtime)).id
    four = (await make_patient(runtime)).id
    await _applications(runtime, one, 1, created=created)
    await _applications(runtime, four, 4, created=created)
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def _attachment_applications_kpi(runtime: Runtime) -> Setup:
    await _applications(runtime, uuid.uuid4(), 1, created=datetime(2025, 2, 10, 9, tzinfo=UTC))
    for _ in range(3):
        await _applications(runtime, uuid.uuid4(), 2, created=datetime(2025, 3, 2, 9, tzinfo=UTC))
    few = {"dateFrom": "2025-02-01", "dateTo": "2025-02-28"}
    more = {"dateFrom": "2025-03-01", "dateTo": "2025-03-31"}
    return few, more, auth_headers(await operator_token(runtime))


async def _my_attachment(runtime: Runtime) -> Setup:
    """Two people of the region, attached to clinics of different sizes (one read of each kind either way)."""
    env = await start_visits(runtime)
    few = await env.adult(1)
    more = await env.adult(2)
    return {}, {}, _as(runtime, few.id), _as(runtime, more.id)


async def _home_visit_windows(runtime: Runtime) -> Setup:
    """The windows at the address of the last visit: a patient with one visit before, one with three."""
    env = await start_visits(runtime)
    few = await env.adult(1)
    more = await env.adult(2)
    await _home_visits(runtime, few.id, 1, created=datetime(2025, 2, 1, 9, tzinfo=UTC))
    await _home_visits(runtime, more.id, 3, created=datetime(2025, 2, 1, 9, tzinfo=UTC))
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(update(HomeVisit).values(status="visited"))
    async with app_client(runtime) as client:
        body = await gql(
            client,
            'query { homeVisitWindows(phone: "+79001234567") { __typename } }',
            headers=_as(runtime, few.id),
        )
    assert body["data"]["homeVisitWindows"]["__typename"] == "HomeVisitWindows", body
    phone = {"phone": "+79001234567"}
    return phone, phone, _as(runtime, few.id), _as(runtime, more.id)


# ---------------------------------------------------------------------------------------------- vault


async def _vault_patient(runtime: Runtime, files: int) -> uuid.UUID:
    """A patient with ``files`` documents in their vault (blobs in a temporary directory)."""
    if not isinstance(runtime.adapters.vault_store, FileBlobStore) or "mz-stmt" not in str(
        runtime.adapters.vault_store.root
    ):
        runtime.adapters.vault_store = FileBlobStore(Path(tempfile.mkdtemp(prefix="mz-stmt-vault-")))
    patient = (await make_patient(runtime)).id
    for i in range(files):

        async def body(i: int = i) -> AsyncIterator[bytes]:
            yield f"%PDF-1.4\n{i}".encode()

        meta = vault.FileMeta(folder="analyses" if i % 2 else "images", title=f"Документ {i}", file_name=f"{i}.pdf")
        await vault.upload(runtime, ctx_for(patient), patient, meta, body())
    return patient


async def _share_all(runtime: Runtime, patient: uuid.UUID, count: int, snils: str | None = None) -> None:
    async with UnitOfWork(runtime, ctx_for(patient)) as uow:
        for _ in range(count):
            await vault.create_share(
                uow,
                patient,
                file_ids=[],
                folders=["analyses", "images"],
                period=timedelta(hours=5),
                recipient_snils=snils,
            )


async def _my_vault(runtime: Runtime) -> Setup:
    one, four = await _vault_patient(runtime, 1), await _vault_patient(runtime, 4)
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def _my_vault_shares(runtime: Runtime) -> Setup:
    one, four = await _vault_patient(runtime, 1), await _vault_patient(runtime, 1)
    await _share_all(runtime, one, 1)
    await _share_all(runtime, four, 4)
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def _shared_with_me(runtime: Runtime) -> Setup:
    """A doctor with one patient's share, and a doctor with four patients' shares of two files each."""
    doctors = [await make_patient(runtime), await make_patient(runtime)]
    for doctor, patients in zip(doctors, (1, 4), strict=True):
        for _ in range(patients):
            await _share_all(runtime, await _vault_patient(runtime, 2), 1, snils=doctor.snils)
    return {}, {}, _as(runtime, doctors[0].id), _as(runtime, doctors[1].id)


async def _my_waitlist(runtime: Runtime) -> Setup:
    """One entry, and four of which three have a live offer: the entries, their places, the offers."""
    one, four = (await make_patient(runtime)).id, (await make_patient(runtime)).id
    await entries_with_offers(runtime, one, 1)
    await entries_with_offers(runtime, four, 4)
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def _my_surveys(runtime: Runtime) -> Setup:
    one, four = (await make_patient(runtime)).id, (await make_patient(runtime)).id
    await answered_visits(runtime, one, 1)
    await answered_visits(runtime, four, 4)
    return {}, {}, _as(runtime, one), _as(runtime, four)


async def _satisfaction_kpi(runtime: Runtime) -> Setup:
    """One clinic's visits in February, three clinics' in March."""
    await answered_visits(runtime, uuid.uuid4(), 2, visited=datetime(2025, 2, 10, 9, tzinfo=UTC))
    for n in range(3):
        await answered_visits(runtime, uuid.uuid4(), 2, visited=datetime(2025, 3, 2, 9, tzinfo=UTC), mo_id=f"mo-{n}")
    few = {"dateFrom": "2025-02-01", "dateTo": "2025-02-28"}
    more = {"dateFrom": "2025-03-01", "dateTo": "2025-03-31"}
    return few, more, auth_headers(await operator_token(runtime))


SCENARIOS: dict[str, Scenario] = {
    s.operation: s
    for s in (
        Scenario("ApiInfo", _no_data),
        Scenario("Node", _node),
        Scenario("Organisations", _organisations),
        Scenario("OrganisationDoctors", _organisation_doctors),
        Scenario("Reference", _reference),
        Scenario("Me", _me),
        Scenario("MyAccessLog", _my_access_log),
        Scenario("MyProxies", _my_proxies),
        Scenario("MyPrincipals", _my_principals),
        Scenario("SearchSlots", _search_slots),
        Scenario("DoctorSlots", _doctor_slots),
        Scenario("NearestFreeSlots", _nearest_free_slots),
        Scenario("MyAppointments", _my_appointments),
        Scenario("SlotHold", _slot_hold),
        Scenario("RemoteBookingShare", _remote_booking_share),
        Scenario("HomeVisitChecklist", _no_data),
        Scenario("HomeVisitWindows", _home_visit_windows),
        Scenario("MyHomeVisits", _my_home_visits),
        Scenario("HomeVisitRequestsKpi", _home_visit_requests_kpi),
        Scenario("MyAttachment", _my_attachment),
        Scenario("MyAttachmentApplications", _my_attachment_applications),
        Scenario("AttachmentApplicationsKpi", _attachment_applications_kpi),
        Scenario("MyNotifications", _one_and_four),
        Scenario("MyInbox", _one_and_four),
        Scenario("UnreadCount", _one_and_four),
        Scenario("NotificationPreferences", _one_and_four),
        Scenario("MyDocuments", _my_documents),
        Scenario("MedicalDocument", _medical_document),
        Scenario("MedicalProfile", _my_documents),
        Scenario("MyDocumentAccessGrants", _my_document_access_grants),
        Scenario("CallerDocumentsSummary", _caller_documents_summary),
        Scenario("DoctorSharedPatients", _doctor_shared_patients),
        Scenario("DoctorSharedRecord", _doctor_shared_record),
        Scenario("DoctorSharedDocument", _doctor_shared_document),
        Scenario("MyVault", _my_vault),
        Scenario("MyVaultShares", _my_vault_shares),
        Scenario("SharedWithMe", _shared_with_me),
        *ambulance_scenarios(),
        *vaccination_scenarios(),
        Scenario("MyDrugEntitlement", drugs_statements.one_and_four),
        Scenario("MyPrescriptions", drugs_statements.one_and_four),
        Scenario("PharmacyAvailability", drugs_statements.availability),
        Scenario("CertificateCatalogue", _no_data),
        Scenario("MyDrugRequests", drugs_statements.my_requests),
        Scenario("DrugRequestsKpi", drugs_statements.requests_kpi),
        *CARE_SCENARIOS,  # referrals, no-shows, dispanserization (tests/support/care_statements.py)
        Scenario("MyWaitlist", _my_waitlist),
        Scenario("MySurveys", _my_surveys),
        Scenario("SatisfactionKpi", _satisfaction_kpi),
        Scenario("CurrentCall", current_call_scenario),
        Scenario("RecentCalls", recent_calls_scenario),
        Scenario("CallsKpi", calls_kpi_scenario),
        Scenario("CallerCandidates", caller_candidates_scenario),
    )
}


#: Statements per operation, the same on PostgreSQL and SQLite (counted at the driver: hot statements too).
STATEMENTS: dict[str, int] = {
    "ApiInfo": 0,
    "CurrentCall": 3,  # the staff session, the open call, its actions from the audit trail
    "RecentCalls": 2,
    "CallsKpi": 2,
    "CallerCandidates": 4,  # the staff session, the open call, the people of its number, their audit rows
    "Node": 1,
    "Organisations": 2,
    "OrganisationDoctors": 4,
    "Reference": 2,
    "Me": 3,
    "MyAccessLog": 6,  # the page, and one aggregate of the security refusals
    "MyProxies": 2,
    "MyPrincipals": 2,
    "SearchSlots": 4,  # one more since search reads the patient's attachment for "own clinic first"
    "DoctorSlots": 4,  # the same: the attached clinic
    "NearestFreeSlots": 1,
    "MyAppointments": 2,
    "SlotHold": 1,
    "RemoteBookingShare": 2,
    "MyNotifications": 3,
    "MyInbox": 3,
    "UnreadCount": 1,
    "NotificationPreferences": 4,
    "CallerDocumentsSummary": 3,
    "DoctorSharedDocument": 6,
    "DoctorSharedPatients": 4,
    "DoctorSharedRecord": 9,
    "MedicalDocument": 3,
    "MedicalProfile": 4,
    "MyDocumentAccessGrants": 2,
    "MyDocuments": 2,
    "AttachmentApplicationsKpi": 2,
    "HomeVisitChecklist": 0,
    "HomeVisitRequestsKpi": 2,
    "HomeVisitWindows": 2,
    "MyAttachment": 3,
    "MyAttachmentApplications": 2,
    "MyHomeVisits": 3,
    "MyVault": 4,  # the files, the bytes used, the register's documents; the audit row is written alone
    "MyVaultShares": 1,
    "SharedWithMe": 4,
    "AmbulanceLive": 5,  # the calls, their steps, predictions and survey answers; the audit row alone
    "MyAmbulanceCalls": 5,  # the same (the survey question reads nothing)
    "AmbulanceArrivalKpi": 3,  # the staff session, the arrivals, their first predictions
    **VACCINATION_STATEMENTS,
    "MyDrugEntitlement": 2,
    "MyPrescriptions": 5,
    "PharmacyAvailability": 3,
    "CertificateCatalogue": 0,
    "MyDrugRequests": 2,
    "DrugRequestsKpi": 2,
    **CARE_STATEMENTS,
    "MyWaitlist": 3,  # the entries, their places in line, their live offers
    "MySurveys": 1,
    "SatisfactionKpi": 2,
}
SCENARIOS |= insurance_scenarios()
STATEMENTS |= INSURANCE_STATEMENTS


def _trusted_queries(settings: Settings) -> dict[str, dict[str, str]]:
    """Operation name → {client path: document text}, for every query operation any client registers.

    Clients may select differently under one name (mobile's MyAppointments takes actingFor, the kiosk's
    does not): each text is counted with the operation's scenario.
    """
    registry = build_schema(settings).trusted_documents
    queries: dict[str, dict[str, str]] = {}
    for client_documents in registry.by_client.values():
        for document in client_documents:
            for definition in parse(document.text).definitions:
                if isinstance(definition, OperationDefinitionNode) and definition.operation is OperationType.QUERY:
                    assert definition.name is not None, f"{document.path}: operations must be named"
                    texts = queries.setdefault(definition.name.value, {})
                    if document.text not in texts.values():
                        texts[document.path] = document.text
    return queries


def test_every_trusted_query_has_a_statement_count_scenario(settings: Settings) -> None:
    missing = set(_trusted_queries(settings)) - set(SCENARIOS)
    assert not missing, f"add a Scenario for: {sorted(missing)}"


@pytest.mark.parametrize("operation", sorted(SCENARIOS))
async def test_statement_count_does_not_grow_with_items(operation: str, runtime: Runtime, settings: Settings) -> None:
    documents = _trusted_queries(settings)[operation]
    few, more = await SCENARIOS[operation].prepare(runtime)
    counted: dict[str, list[int]] = {}
    async with app_client(runtime) as client:
        for path, text in documents.items():
            for variables, headers in (few, more):  # warm-up: pools, caches
                await gql(client, text, variables, headers=headers)
            counts = counted[path] = []
            for variables, headers in (few, more):
                with counting_statements(runtime) as seen:
                    body = await gql(client, text, variables, headers=headers)
                assert "errors" not in body, (path, body)
                counts.append(len(seen))
    grew = {path: counts for path, counts in counted.items() if counts[0] != counts[1]}
    assert not grew, f"{operation}: statements for few items vs more: {grew}"
    expected = STATEMENTS.get(operation)
    assert expected is not None, f"add STATEMENTS[{operation!r}] (counted: {counted})"
    off = {path: counts for path, counts in counted.items() if counts != [expected, expected]}
    assert not off, f"{operation}: {expected} statements expected on every dialect, counted {off}"
