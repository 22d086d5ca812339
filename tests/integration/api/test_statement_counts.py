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

from backend.api.schema import build_schema
from backend.audit.models import AuditEvent
from backend.booking import service as booking
from backend.booking.models import Appointment, AppointmentState
from backend.core.context import Channel
from backend.core.uow import UnitOfWork
from backend.directory import service as directory
from backend.directory.service import sync_directory
from backend.identity import tokens
from backend.identity.staff import create_staff
from backend.runtime import Runtime
from backend.settings import Settings
from backend.vault import service as vault
from backend.vault.store import FileBlobStore
from notifications import preferences
from tests.support.booking import ADULT_MO, EYE, THERAPIST, TOMORROW, ctx_for, start_env
from tests.support.client import app_client, gql
from tests.support.identity import auth_headers, grant_proxy, make_patient, operator_token, token_for
from tests.support.notifications import PHONE, emit
from tests.support.statements import Headers, Scenario, Setup, Variables, counting_statements

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
        Scenario("MyNotifications", _one_and_four),
        Scenario("MyInbox", _one_and_four),
        Scenario("UnreadCount", _one_and_four),
        Scenario("NotificationPreferences", _one_and_four),
        Scenario("MyVault", _my_vault),
        Scenario("MyVaultShares", _my_vault_shares),
        Scenario("SharedWithMe", _shared_with_me),
    )
}


#: Statements per operation, the same on PostgreSQL and SQLite (counted at the driver: hot statements too).
STATEMENTS: dict[str, int] = {
    "ApiInfo": 0,
    "Node": 1,
    "Organisations": 2,
    "OrganisationDoctors": 4,
    "Reference": 2,
    "Me": 3,
    "MyAccessLog": 6,  # the page, and one aggregate of the security refusals
    "MyProxies": 2,
    "MyPrincipals": 2,
    "SearchSlots": 3,
    "DoctorSlots": 3,
    "NearestFreeSlots": 1,
    "MyAppointments": 2,
    "SlotHold": 1,
    "RemoteBookingShare": 2,
    "MyNotifications": 3,
    "MyInbox": 3,
    "UnreadCount": 1,
    "NotificationPreferences": 4,
    "MyVault": 3,  # the files, the bytes used; the audit row is written alone
    "MyVaultShares": 1,
    "SharedWithMe": 4,  # the reader's SNILS, the shares, their owners, their files
}


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
