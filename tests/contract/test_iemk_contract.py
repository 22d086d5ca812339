"""Contract of the ИЭМК adapter: the real IemkClient against the in-process register simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from litestar import Litestar

from integrations.common.faults import Fault, FaultProfile
from integrations.common.http import build_http_client
from integrations.demo_region import get_region
from integrations.demo_region.model import Person, Region
from integrations.iemk import (
    SEMD_TYPES,
    DetachedSignature,
    DocumentMetadata,
    DocumentNotFound,
    IemkAccessDenied,
    IemkBadRequest,
    IemkClient,
    IemkMalformedReply,
    IemkRejected,
    IemkTimeout,
    IemkUnavailable,
    MedicalDocuments,
    PatientNotFound,
    RegistrationError,
    RegistrationNotFound,
    RegistrationStatus,
    SignatureRole,
    build_iemk_client,
    check_detached,
    parse_cda,
    validate_cda,
    verify_detached,
)
from integrations.iemk.simulator import IemkSimulatorState, create_iemk_simulator, simulator_state

API_KEY = "iemk-test-key"
START = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Register:
    client: IemkClient
    state: IemkSimulatorState
    http: httpx.AsyncClient
    clock: Clock


@pytest.fixture(scope="module")
def region() -> Region:
    return get_region()


@pytest.fixture
async def iemk(region: Region) -> AsyncIterator[Register]:
    clock = Clock(START)
    app = create_iemk_simulator(region, clock=clock, api_key=API_KEY, key_size=1024)
    async with build_http_client("inprocess://iemk", simulator_app=lambda: app) as http:
        yield Register(IemkClient(http, timeout_s=5.0, api_key=API_KEY), simulator_state(app), http, clock)


def _adult_with_rights(region: Region) -> Person:
    return next(p for p in region.people if p.drug_rights)


def _factory(app: Litestar) -> Callable[[], Litestar]:
    return lambda: app


def test_client_implements_the_port() -> None:
    assert isinstance(IemkClient(httpx.AsyncClient(), timeout_s=1), MedicalDocuments)


async def test_list_by_snils_and_by_oid_newest_first(iemk: Register, region: Region) -> None:
    person = region.people[0]
    by_snils = await iemk.client.list_documents(snils=person.snils, size=100)
    by_oid = await iemk.client.list_documents(esia_oid=person.esia_oid, size=100)
    assert by_snils == by_oid
    assert by_snils.total == len(by_snils.items) >= 4
    moments = [m.created_at for m in by_snils.items]
    assert moments == sorted(moments, reverse=True)
    for meta in by_snils.items:
        assert meta.patient_snils == person.snils
        assert meta.kind in SEMD_TYPES
        assert meta.status is RegistrationStatus.REGISTERED
        assert meta.registry_number.startswith("REMD-")
        assert meta.org_oid.startswith("1.2.643.5.1.13.13.12.2.26.")
        assert meta.signatures == (SignatureRole.DOCTOR, SignatureRole.ORGANIZATION)
        assert meta.author.position and meta.author.snils
        assert meta.created_at.utcoffset() == timedelta(hours=3)


async def test_list_is_paged(iemk: Register, region: Region) -> None:
    person = _adult_with_rights(region)
    everything = await iemk.client.list_documents(snils=person.snils, size=100)
    seen: list[DocumentMetadata] = []
    page_number = 1
    while True:
        page = await iemk.client.list_documents(snils=person.snils, page=page_number, size=2)
        assert page.total == everything.total
        seen.extend(page.items)
        if not page.has_next:
            break
        page_number += 1
    assert seen == list(everything.items)
    assert page_number == (everything.total + 1) // 2


async def test_filters_by_kind_dates_and_clinic(iemk: Register, region: Region) -> None:
    person = _adult_with_rights(region)
    everything = (await iemk.client.list_documents(snils=person.snils, size=100)).items
    kinds = {m.kind for m in everything}
    assert {"119", "122", "170", "141"} <= kinds

    vaccination = await iemk.client.list_documents(snils=person.snils, kinds=["170"])
    assert [m.kind for m in vaccination.items] == ["170"]
    two_kinds = await iemk.client.list_documents(snils=person.snils, kinds=["119", "141"])
    assert {m.kind for m in two_kinds.items} == {"119", "141"}

    pivot = sorted(m.created_at.date() for m in everything)[len(everything) // 2]
    later = await iemk.client.list_documents(snils=person.snils, created_from=pivot, size=100)
    earlier = await iemk.client.list_documents(snils=person.snils, created_to=pivot - timedelta(days=1), size=100)
    assert all(m.created_at.date() >= pivot for m in later.items)
    assert later.total + earlier.total == len(everything)
    one_day = await iemk.client.list_documents(snils=person.snils, created_from=pivot, created_to=pivot)
    assert one_day.items and all(m.created_at.date() == pivot for m in one_day.items)

    clinic = everything[0].org_oid
    at_clinic = await iemk.client.list_documents(snils=person.snils, org_oid=clinic, size=100)
    assert at_clinic.items and all(m.org_oid == clinic for m in at_clinic.items)
    assert at_clinic.total == sum(1 for m in everything if m.org_oid == clinic)
    nowhere = await iemk.client.list_documents(snils=person.snils, org_oid="1.2.643.5.1.13.13.12.2.26.1")
    assert nowhere.total == 0 and nowhere.items == ()


async def test_fetch_gives_the_cda_its_signatures_and_a_rendering(iemk: Register, region: Region) -> None:
    person = _adult_with_rights(region)
    listed = (await iemk.client.list_documents(snils=person.snils, kinds=["141"])).items[0]
    document = await iemk.client.fetch_document(listed.registry_number, snils=person.snils)
    assert document.metadata == listed
    assert validate_cda(document.cda, remd_code="141").ok
    parsed = parse_cda(document.cda)
    assert parsed.patient.snils == person.snils
    assert parsed.author.snils == listed.author.snils
    assert {s.role for s in document.signatures} == {SignatureRole.DOCTOR, SignatureRole.ORGANIZATION}
    for signature in document.signatures:
        ok, signer, signed_at = verify_detached(document.cda, signature.cms)
        assert ok and signer and signed_at
    doctor = next(s for s in document.signatures if s.role is SignatureRole.DOCTOR)
    assert check_detached(document.cda, doctor.cms).signer_name == listed.author.name
    rendering = await iemk.client.get_rendering(listed.registry_number, snils=person.snils)
    assert rendering.media_type.startswith("text/html")
    text = rendering.content.decode("utf-8")
    assert parsed.title in text and person.last_name in text


async def test_documents_of_another_patient_or_unknown_ones_are_not_found(iemk: Register, region: Region) -> None:
    owner, stranger = region.people[0], region.people[1]
    number = (await iemk.client.list_documents(snils=owner.snils)).items[0].registry_number
    for call in (iemk.client.get_metadata, iemk.client.get_cda, iemk.client.get_signatures, iemk.client.get_rendering):
        with pytest.raises(DocumentNotFound):
            await call(number, snils=stranger.snils)
    with pytest.raises(DocumentNotFound):
        await iemk.client.get_cda("REMD-0000000", snils=owner.snils)
    with pytest.raises(PatientNotFound):
        await iemk.client.list_documents(snils="000-000-000 00")
    with pytest.raises(PatientNotFound):
        await iemk.client.list_documents(esia_oid="1")


async def test_bad_requests_are_refused(iemk: Register, region: Region) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        await iemk.client.list_documents()
    with pytest.raises(ValueError, match="size"):
        await iemk.client.list_documents(snils=region.people[0].snils, size=1000)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    raw = await iemk.http.get(
        "/iemk/api/v1/documents", params={"snils": region.people[0].snils, "from": "12.01.2026"}, headers=headers
    )
    assert raw.status_code == 400
    assert raw.json()["errors"][0]["code"] == "BAD_REQUEST"


async def test_a_document_appears_after_the_register_registers_it(iemk: Register, region: Region) -> None:
    person = region.people[0]
    before = await iemk.client.list_documents(snils=person.snils, size=100)
    accepted = iemk.state.register_document(snils=person.snils, kind="119", delay=timedelta(minutes=10))
    assert accepted.status is RegistrationStatus.ACCEPTED

    iemk.clock.advance(timedelta(minutes=9))
    still = await iemk.client.list_documents(snils=person.snils, size=100)
    assert still.total == before.total
    pending = await iemk.client.get_registration(accepted.local_uid)
    assert pending.status is RegistrationStatus.ACCEPTED and pending.registry_number is None

    iemk.clock.advance(timedelta(minutes=1))
    after = await iemk.client.list_documents(snils=person.snils, size=100)
    assert after.total == before.total + 1
    newest = after.items[0]
    assert newest.kind == "119"
    assert newest.local_uid == accepted.local_uid
    assert newest.created_at == START
    registered = await iemk.client.get_registration(accepted.local_uid)
    assert registered.status is RegistrationStatus.REGISTERED
    assert registered.registry_number == newest.registry_number
    assert registered.registered_at == START + timedelta(minutes=10)

    document = await iemk.client.fetch_document(newest.registry_number, snils=person.snils)
    assert validate_cda(document.cda).ok
    assert all(verify_detached(document.cda, s.cms).ok for s in document.signatures)


async def test_a_rejected_registration_never_shows(iemk: Register, region: Region) -> None:
    person = region.people[0]
    before = await iemk.client.list_documents(snils=person.snils, size=100)
    error = RegistrationError("DUPLICATE_DOCUMENT", "Документ с такими реквизитами уже зарегистрирован")
    accepted = iemk.state.register_document(snils=person.snils, kind="170", delay=timedelta(minutes=1), reject=[error])
    iemk.clock.advance(timedelta(minutes=2))
    rejected = await iemk.client.get_registration(accepted.local_uid)
    assert rejected.status is RegistrationStatus.REJECTED
    assert rejected.errors == (error,)
    assert rejected.registry_number is None
    assert (await iemk.client.list_documents(snils=person.snils, size=100)).total == before.total


async def test_submitted_documents_are_checked_and_rejected_for_a_bad_signature_or_cda(
    iemk: Register, region: Region
) -> None:
    person = region.people[0]
    number = (await iemk.client.list_documents(snils=person.snils, kinds=["119"])).items[0].registry_number
    original = await iemk.client.fetch_document(number, snils=person.snils)
    doctor = next(s for s in original.signatures if s.role is SignatureRole.DOCTOR)

    changed = original.cda.replace(b"<title>", b"<title> ", 1)
    bad_signature = await iemk.client.submit_registration(
        local_uid="mis-0001", kind="119", patient_snils=person.snils, cda=changed, signatures=[doctor]
    )
    invalid = await iemk.client.submit_registration(
        local_uid="mis-0002",
        kind="119",
        patient_snils=person.snils,
        cda=original.cda.replace(b'<realmCode code="RU"/>', b""),
        signatures=[DetachedSignature(SignatureRole.DOCTOR, doctor.cms)],
    )
    good = await iemk.client.submit_registration(
        local_uid="mis-0003", kind="119", patient_snils=person.snils, cda=original.cda, signatures=[doctor]
    )
    assert {bad_signature.status, invalid.status, good.status} == {RegistrationStatus.ACCEPTED}
    with pytest.raises(IemkRejected) as duplicate:
        await iemk.client.submit_registration(
            local_uid="mis-0003", kind="119", patient_snils=person.snils, cda=original.cda, signatures=[doctor]
        )
    assert duplicate.value.code == "DUPLICATE_LOCAL_UID"

    iemk.clock.advance(iemk.state.registration_delay)
    outcome = {uid: await iemk.client.get_registration(uid) for uid in ("mis-0001", "mis-0002", "mis-0003")}
    assert outcome["mis-0001"].status is RegistrationStatus.REJECTED
    assert {e.code for e in outcome["mis-0001"].errors} == {"SIGNATURE_INVALID"}
    assert outcome["mis-0002"].status is RegistrationStatus.REJECTED
    assert "SEMD_INVALID" in {e.code for e in outcome["mis-0002"].errors}
    assert outcome["mis-0003"].status is RegistrationStatus.REGISTERED
    with pytest.raises(RegistrationNotFound):
        await iemk.client.get_registration("mis-9999")


async def test_broken_documents_stay_listed_and_fail_their_checks(iemk: Register, region: Region) -> None:
    person = region.people[0]
    items = (await iemk.client.list_documents(snils=person.snils, size=100)).items
    changed, malformed = items[0].registry_number, items[1].registry_number
    iemk.state.corrupt(changed, "cda-byte")
    iemk.state.corrupt(malformed, "cda-malformed")
    assert (await iemk.client.list_documents(snils=person.snils, size=100)).items == items

    document = await iemk.client.fetch_document(changed, snils=person.snils)
    assert not any(verify_detached(document.cda, s.cms).ok for s in document.signatures)
    broken = await iemk.client.get_cda(malformed, snils=person.snils)
    assert not validate_cda(broken).ok
    with pytest.raises(IemkRejected) as unreadable:
        await iemk.client.get_rendering(malformed, snils=person.snils)
    assert unreadable.value.code == "DOCUMENT_UNREADABLE"


async def test_wrong_api_key_is_access_denied(iemk: Register, region: Region) -> None:
    stranger = IemkClient(iemk.http, timeout_s=2.0, api_key="wrong")
    with pytest.raises(IemkAccessDenied):
        await stranger.list_documents(snils=region.people[0].snils)


async def test_upstream_error_timeout_and_malformed_replies_are_typed(region: Region) -> None:
    app = create_iemk_simulator(region, faults=FaultProfile(timeout_stall_s=5.0), key_size=1024)
    state = simulator_state(app)
    person = region.people[0]
    async with build_http_client("inprocess://iemk", simulator_app=lambda: app) as http:
        client = IemkClient(http, timeout_s=0.2)
        number = (await client.list_documents(snils=person.snils)).items[0].registry_number
        state.faults.force(Fault.ERROR)
        with pytest.raises(IemkUnavailable) as caught:
            await client.list_documents(snils=person.snils)
        assert caught.value.status_code == 503
        state.faults.force(Fault.MALFORMED)
        with pytest.raises(IemkMalformedReply):
            await client.list_documents(snils=person.snils)
        state.faults.force(Fault.MALFORMED)
        with pytest.raises(IemkMalformedReply):
            await client.get_cda(number, snils=person.snils)
        state.faults.force(Fault.TIMEOUT)
        with pytest.raises(IemkTimeout):
            await client.get_signatures(number, snils=person.snils)
        assert (await client.get_metadata(number, snils=person.snils)).registry_number == number


async def test_foreign_replies_are_malformed_or_mapped() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/documents"):
            return httpx.Response(200, json={"result": "OK", "total": 1, "items": [{"registryNumber": "x"}]})
        if request.url.path.endswith("/cda"):
            return httpx.Response(200, content=b"<html/>", headers={"content-type": "text/html"})
        return httpx.Response(400, json={"result": "ERROR", "errors": [{"code": "BAD_REQUEST", "message": "нет"}]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(reply), base_url="http://iemk") as http:
        client = IemkClient(http, timeout_s=1.0)
        with pytest.raises(IemkMalformedReply):
            await client.list_documents(snils="1")
        with pytest.raises(IemkMalformedReply):
            await client.get_cda("REMD-1", snils="1")
        with pytest.raises(IemkBadRequest):
            await client.get_metadata("REMD-1", snils="1")


async def test_the_same_seed_serves_the_same_documents(region: Region) -> None:
    person = region.people[3]
    bodies = []
    for _ in range(2):
        app = create_iemk_simulator(region, key_size=1024)
        async with build_http_client("inprocess://iemk", simulator_app=_factory(app)) as http:
            client = IemkClient(http, timeout_s=5.0)
            page = await client.list_documents(snils=person.snils, size=100)
            bodies.append([(m, await client.get_cda(m.registry_number, snils=person.snils)) for m in page.items])
    assert bodies[0] == bodies[1]
    assert date(2025, 1, 1) <= min(m.created_at.date() for m, _ in bodies[0])


async def test_a_document_submitted_for_someone_else_is_rejected(iemk: Register, region: Region) -> None:
    owner, other = region.people[0], region.people[1]
    number = (await iemk.client.list_documents(snils=owner.snils)).items[0].registry_number
    document = await iemk.client.fetch_document(number, snils=owner.snils)
    submitted = await iemk.client.submit_registration(
        local_uid="mis-0100", kind=document.metadata.kind, patient_snils=other.snils,
        cda=document.cda, signatures=list(document.signatures),
    )  # fmt: skip
    iemk.clock.advance(iemk.state.registration_delay)
    outcome = await iemk.client.get_registration(submitted.local_uid)
    assert outcome.status is RegistrationStatus.REJECTED
    assert [e.code for e in outcome.errors] == ["PATIENT_MISMATCH"]


async def test_the_scenario_endpoint_registers_a_document_over_http(iemk: Register, region: Region) -> None:
    person = region.people[1]
    headers = {"Authorization": f"Bearer {API_KEY}"}
    before = (await iemk.client.list_documents(esia_oid=person.esia_oid)).total
    reply = await iemk.http.post(
        "/iemk/scenario/documents",
        json={"oid": person.esia_oid, "kind": "174", "delaySeconds": 60},
        headers=headers,
    )
    assert reply.status_code == 202
    local_uid = reply.json()["localUid"]
    refused = await iemk.http.post(
        "/iemk/scenario/documents", json={"oid": person.esia_oid, "kind": "999"}, headers=headers
    )
    assert refused.status_code == 400
    iemk.clock.advance(timedelta(seconds=60))
    after = await iemk.client.list_documents(esia_oid=person.esia_oid, kinds=["174"], size=100)
    assert (await iemk.client.list_documents(esia_oid=person.esia_oid)).total == before + 1
    assert after.items[0].local_uid == local_uid


async def test_the_builder_reaches_the_demo_register_in_process(region: Region) -> None:
    client, http = build_iemk_client("inprocess://iemk", timeout_s=5.0, api_key=API_KEY)
    async with http:
        page = await client.list_documents(snils=region.people[0].snils)
        assert page.total >= 4
        with pytest.raises(IemkAccessDenied):
            await IemkClient(http, timeout_s=5.0, api_key="other").list_documents(snils=region.people[0].snils)
