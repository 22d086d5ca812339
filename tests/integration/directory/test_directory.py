"""The directory: sync from the in-process hub over the SMALL demo region, and the GraphQL reads."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import func, select
from strawberry.relay import to_base64

import backend.directory.schema as directory_schema
from backend.adapters import booking_hub, build_booking_hub, demo_fer_simulator, set_booking_hub
from backend.audit.models import AuditEvent
from backend.directory.models import District, Doctor, MedicalOrganisation, OrganisationSpecialty, Specialty
from backend.directory.service import SyncSummary, sync_directory
from backend.runtime import Runtime
from backend.settings import Settings
from integrations.common.faults import Fault
from integrations.demo_region import Region, RegionScale, get_region
from integrations.fer import FerClient, HubUnavailable
from integrations.fer.simulator import FerSimulatorState, create_fer_simulator, simulator_state
from integrations.fer.vaccination import with_vaccination_rooms
from tests.support.client import app_client, gql
from tests.support.statements import counting_statements

pytestmark = pytest.mark.dialect


def _region(runtime: Runtime) -> Region:
    """The demo region as the demo hub lists it: with its vaccination rooms."""
    return with_vaccination_rooms(get_region(runtime.settings.demo_seed, RegionScale(runtime.settings.demo_scale)))


def _use_simulator(runtime: Runtime, app: Litestar) -> FerClient:
    client, http = build_booking_hub(runtime.settings, simulator_app=lambda: app)
    set_booking_hub(runtime, client, http=http)
    return client


def _without(
    region: Region,
    *,
    districts: set[str] = frozenset(),
    organisations: set[str] = frozenset(),
    doctors: set[str] = frozenset(),
) -> Region:
    """The region as the hub lists it after things vanished upstream."""
    kept = tuple(
        dataclasses.replace(mo, doctors=tuple(d for d in mo.doctors if d.id not in doctors))
        for mo in region.organisations
        if mo.id not in organisations and mo.district_id not in districts
    )
    return dataclasses.replace(
        region, districts=tuple(d for d in region.districts if d.id not in districts), organisations=kept
    )


async def _count(runtime: Runtime, model: Any, *where: Any) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _sync_events(runtime: Runtime) -> list[AuditEvent]:
    async with runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == "directory.sync").order_by(AuditEvent.at)
        )
        return list(rows)


def _created(summary: SyncSummary) -> tuple[int, int, int, int]:
    return (
        summary.districts.created,
        summary.organisations.created,
        summary.specialties.created,
        summary.doctors.created,
    )


# -- sync ----------------------------------------------------------------------------------------


async def test_sync_copies_the_region_and_a_second_run_changes_nothing(runtime: Runtime) -> None:
    region = _region(runtime)
    codes = {d.specialty_code for d in region.doctors()}
    calls: list[tuple[str, int, int]] = []

    first = await sync_directory(runtime, progress=lambda stage, done, total: calls.append((stage, done, total)))

    assert first.ok, first.failures
    assert _created(first) == (len(region.districts), len(region.organisations), len(codes), len(region.doctors()))
    assert (first.organisations.seen, first.doctors.seen) == (len(region.organisations), len(region.doctors()))
    assert await _count(runtime, District) == len(region.districts)
    assert await _count(runtime, MedicalOrganisation, MedicalOrganisation.active) == len(region.organisations)
    assert await _count(runtime, Specialty) == len(codes)
    assert await _count(runtime, Doctor, Doctor.active) == len(region.doctors())
    offered = {(mo.id, d.specialty_code) for mo in region.organisations for d in mo.doctors}
    assert await _count(runtime, OrganisationSpecialty, OrganisationSpecialty.active) == len(offered)
    assert calls[0] == ("districts", len(region.districts), len(region.districts))
    assert calls[-1] == ("doctors", len(region.organisations), len(region.organisations))

    mo = region.organisations[0]
    async with runtime.sessionmaker() as session:
        row = await session.scalar(select(MedicalOrganisation).where(MedicalOrganisation.upstream_id == mo.id))
        assert row is not None
        assert (row.oid, row.name, row.short_name, row.kind, row.address, row.phone) == (
            mo.oid,
            mo.name,
            mo.short_name,
            mo.kind,
            mo.address,
            mo.phone,
        )
        assert row.latitude == pytest.approx(mo.latitude, abs=1e-6)
        doctor = mo.doctors[0]
        doc_row = await session.scalar(
            select(Doctor).where(Doctor.organisation_id == row.id, Doctor.upstream_id == doctor.id)
        )
        assert doc_row is not None
        assert (doc_row.full_name, doc_row.last_name, doc_row.first_name, doc_row.middle_name, doc_row.snils) == (
            doctor.full_name,
            doctor.last_name,
            doctor.first_name,
            doctor.middle_name,
            doctor.snils,
        )
        synced_at = doc_row.synced_at

    second = await sync_directory(runtime)
    assert second.ok
    assert second.created == 0 and second.changed == 0
    assert second.doctors.seen == len(region.doctors())
    async with runtime.sessionmaker() as session:
        assert await session.scalar(select(Doctor.synced_at).where(Doctor.id == doc_row.id)) == synced_at

    events = await _sync_events(runtime)
    assert [e.outcome for e in events] == ["ok", "ok"]
    assert events[0].details["doctors"]["created"] == len(region.doctors())
    assert events[1].details["doctors"] == {"seen": len(region.doctors()), "created": 0, "updated": 0, "deactivated": 0}


async def test_what_vanishes_upstream_becomes_inactive_and_comes_back(runtime: Runtime) -> None:
    region = _region(runtime)
    await sync_directory(runtime)
    gone_district = region.districts[1].id
    gone_district_mos = [mo.id for mo in region.organisations if mo.district_id == gone_district]
    survivors = [mo for mo in region.organisations if mo.district_id != gone_district]
    gone_mo, thinned = survivors[-1], survivors[0]
    gone_doctor = thinned.doctors[0]
    _use_simulator(
        runtime,
        create_fer_simulator(
            _without(region, districts={gone_district}, organisations={gone_mo.id}, doctors={gone_doctor.id}),
            guid=runtime.settings.fer_guid,
        ),
    )

    summary = await sync_directory(runtime)

    assert summary.ok
    assert summary.created == 0
    assert summary.districts.deactivated == 1
    assert summary.organisations.deactivated == len(gone_district_mos) + 1
    assert summary.doctors.deactivated == 1
    inactive = {
        mo.upstream_id: mo.active
        for mo in (await _organisations(runtime))
        if mo.upstream_id in {*gone_district_mos, gone_mo.id}
    }
    assert inactive == dict.fromkeys([*gone_district_mos, gone_mo.id], False)
    assert await _count(runtime, Doctor, Doctor.upstream_id == gone_doctor.id, ~Doctor.active) == 1
    assert await _count(runtime, District, District.upstream_id == gone_district, ~District.active) == 1

    async with app_client(runtime, [directory_schema]) as client:
        listed = await gql(client, "{ organisations(first: 100) { edges { node { id } } } districts { name } }")
        node = await gql(
            client,
            "query($id: ID!) { node(id: $id) { ... on MedicalOrganisation { name isActive } } }",
            {"id": _gid("MedicalOrganisation", gone_mo.id)},
        )
    assert len(listed["data"]["organisations"]["edges"]) == len(survivors) - 1
    assert len(listed["data"]["districts"]) == len(region.districts) - 1
    assert node["data"]["node"] == {"name": gone_mo.name, "isActive": False}  # kept: appointments refer to it

    _use_simulator(runtime, create_fer_simulator(region, guid=runtime.settings.fer_guid))
    back = await sync_directory(runtime)
    assert back.ok and back.created == 0
    assert (back.districts.updated, back.organisations.updated, back.doctors.updated) == (
        1,
        len(gone_district_mos) + 1,
        1,
    )
    assert await _count(runtime, MedicalOrganisation, ~MedicalOrganisation.active) == 0
    assert await _count(runtime, Doctor, ~Doctor.active) == 0


async def _organisations(runtime: Runtime) -> list[MedicalOrganisation]:
    async with runtime.sessionmaker() as session:
        return list(await session.scalars(select(MedicalOrganisation)))


class _FaultFor:
    """The real client over the simulator; the hub answers with a SOAP Fault for one organisation."""

    def __init__(self, client: FerClient, state: FerSimulatorState, mo_id: str) -> None:
        self._client, self._state, self._mo_id = client, state, mo_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def get_specialties(self, mo_id: str, *, patient_id: str | None = None) -> Any:
        if mo_id == self._mo_id:
            self._state.faults.force(Fault.ERROR)
        return await self._client.get_specialties(mo_id, patient_id=patient_id)


async def test_a_hub_fault_for_one_organisation_spares_the_rest(runtime: Runtime) -> None:
    region = _region(runtime)
    broken = region.organisations[2]
    app = demo_fer_simulator(runtime.settings)
    client = _use_simulator(runtime, app)
    set_booking_hub(runtime, _FaultFor(client, simulator_state(app), broken.id))  # type: ignore[arg-type]

    summary = await sync_directory(runtime)

    assert [(f.stage, f.upstream_id, f.error, f.retryable) for f in summary.failures] == [
        ("doctors", broken.id, HubUnavailable.__name__, True)
    ]
    assert "временно недоступен" in summary.failures[0].message
    assert summary.organisations.created == len(region.organisations)
    assert summary.doctors.created == len(region.doctors()) - len(broken.doctors)
    assert await _count(runtime, Doctor) == len(region.doctors()) - len(broken.doctors)
    [event_row] = await _sync_events(runtime)
    assert event_row.outcome == "partial"
    assert event_row.details["failures"][0]["upstream_id"] == broken.id

    set_booking_hub(runtime, client)
    healed = await sync_directory(runtime)
    assert healed.ok
    assert healed.doctors.created == len(broken.doctors) and healed.doctors.deactivated == 0


async def test_failed_lists_leave_their_part_of_the_directory_alone(runtime: Runtime) -> None:
    region = _region(runtime)
    await sync_directory(runtime)
    app = demo_fer_simulator(runtime.settings)
    _use_simulator(runtime, app)
    state = simulator_state(app)

    state.faults.force(Fault.MALFORMED)  # GetDistrictList
    nothing = await sync_directory(runtime)
    assert [(f.stage, f.upstream_id) for f in nothing.failures] == [("districts", None)]
    assert nothing.changed == 0

    # GetDistrictList answers, the first district's GetLPUList does not: its organisations stay active.
    state.faults.force(Fault.NONE, Fault.ERROR)
    partial = await sync_directory(runtime)
    assert [(f.stage, f.upstream_id) for f in partial.failures] == [("organisations", region.districts[0].id)]
    assert partial.changed == 0
    assert await _count(runtime, MedicalOrganisation, MedicalOrganisation.active) == len(region.organisations)
    assert [e.outcome for e in await _sync_events(runtime)] == ["ok", "partial", "partial"]


async def test_booking_hub_is_built_once_with_the_configured_guid(settings: Settings) -> None:
    runtime = Runtime.build(settings.model_copy(update={"fer_guid": "guid-under-test"}))
    try:
        hub = booking_hub(runtime)
        assert booking_hub(runtime) is hub
        assert isinstance(hub, FerClient)
        assert simulator_state(demo_fer_simulator(runtime.settings)).guid == "guid-under-test"
        assert len(await hub.get_districts()) == len(_region(runtime).districts)  # the guid is accepted
        http = runtime.adapters.fer_http
    finally:
        await runtime.close()
    assert http.is_closed


# -- GraphQL -------------------------------------------------------------------------------------


def _gid(type_name: str, node_id: str) -> str:
    return to_base64(type_name, node_id)


PAGE = """
query($first: Int!, $after: String, $districtId: ID, $specialtyCode: String, $search: String) {
  organisations(first: $first, after: $after, districtId: $districtId, specialtyCode: $specialtyCode, search: $search) {
    edges { cursor node { id name } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""


async def _page(client: Any, **variables: Any) -> dict[str, Any]:
    body = await gql(client, PAGE, {"first": 20, **variables})
    assert "errors" not in body, body
    page: dict[str, Any] = body["data"]["organisations"]
    return page


def _ids(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


async def test_organisations_paginate_by_cursor(runtime: Runtime) -> None:
    region = _region(runtime)
    await sync_directory(runtime)
    async with app_client(runtime, [directory_schema]) as client:
        everything = await _page(client, first=100)
        assert len(everything["edges"]) == len(region.organisations)
        assert everything["pageInfo"]["hasNextPage"] is False

        walked: list[str] = []
        after = None
        pages = 0
        while True:
            page = await _page(client, first=2, after=after)
            pages += 1
            assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
            walked += _ids(page)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
            assert after == page["edges"][-1]["cursor"]
        assert walked == _ids(everything)
        assert pages == (len(region.organisations) + 1) // 2

        too_many = await gql(client, PAGE, {"first": 101})
        assert too_many["data"] is None
        assert too_many["errors"][0]["extensions"]["code"] == "PAGE_TOO_LARGE"
        assert "100" in too_many["errors"][0]["message"]
        zero = await gql(client, PAGE, {"first": 0})
        assert zero["errors"][0]["extensions"]["code"] == "INVALID_ARGUMENT"
        bad_cursor = await gql(client, PAGE, {"first": 2, "after": "not-a-cursor"})
        assert bad_cursor["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


async def test_organisation_filters(runtime: Runtime) -> None:
    region = _region(runtime)
    await sync_directory(runtime)

    def expected(ids: Any) -> set[str]:
        return {_gid("MedicalOrganisation", i) for i in ids}

    district = region.districts[0]
    paediatrics = "49"
    async with app_client(runtime, [directory_schema]) as client:
        by_global = await _page(client, districtId=_gid("District", district.id))
        by_upstream = await _page(client, districtId=district.id)
        in_district = expected(mo.id for mo in region.organisations if mo.district_id == district.id)
        assert set(_ids(by_global)) == set(_ids(by_upstream)) == in_district

        with_specialty = await _page(client, specialtyCode=paediatrics)
        assert set(_ids(with_specialty)) == expected(
            mo.id for mo in region.organisations if any(d.specialty_code == paediatrics for d in mo.doctors)
        )
        both = await _page(client, districtId=district.id, specialtyCode=paediatrics)
        assert set(_ids(both)) == set(_ids(with_specialty)) & in_district

        # Case-insensitive on Cyrillic, word by word, punctuation ignored: alike on every dialect.
        pyatigorsk = await _page(client, search="ПЯТИГОРСКА  поликлиника")
        assert set(_ids(pyatigorsk)) == expected(
            mo.id for mo in region.organisations if "пятигорска" in mo.name.lower() and "поликлиника" in mo.name.lower()
        )
        assert _ids(await _page(client, search="дгп № 2")) == [
            _gid("MedicalOrganisation", next(mo.id for mo in region.organisations if mo.short_name == "ДГП № 2"))
        ]
        assert _ids(await _page(client, search="%")) == _ids(await _page(client))  # no wildcard injection
        assert _ids(await _page(client, search="нет такой")) == []

        wrong_type = await gql(client, PAGE, {"first": 5, "districtId": _gid("Specialty", "49")})
        assert wrong_type["errors"][0]["extensions"]["code"] == "INVALID_ARGUMENT"


NESTED = """
query($first: Int!, $code: String) {
  organisations(first: $first) {
    edges { node {
      id name shortName oid kind address phone isActive location { latitude longitude }
      district { id name okato }
      specialties { id code name directBooking }
      doctors(specialtyCode: $code) { id fullName isActive specialty { code name } organisation { id } }
    } }
  }
}
"""


async def test_nested_district_specialties_and_doctors(runtime: Runtime) -> None:
    region = _region(runtime)
    await sync_directory(runtime)
    async with app_client(runtime, [directory_schema]) as client:
        body = await gql(client, NESTED, {"first": 100})
        therapists = await gql(client, NESTED, {"first": 100, "code": "76"})
    assert "errors" not in body, body
    nodes = {edge["node"]["id"]: edge["node"] for edge in body["data"]["organisations"]["edges"]}
    for mo in region.organisations:
        node = nodes[_gid("MedicalOrganisation", mo.id)]
        district = region.district(mo.district_id)
        assert node["district"] == {"id": _gid("District", district.id), "name": district.name, "okato": district.okato}
        assert (node["oid"], node["shortName"], node["phone"], node["isActive"]) == (
            mo.oid,
            mo.short_name,
            mo.phone,
            True,
        )
        assert node["location"]["latitude"] == pytest.approx(mo.latitude, abs=1e-6)
        assert {s["code"] for s in node["specialties"]} == {d.specialty_code for d in mo.doctors}
        assert all(s["directBooking"] is None for s in node["specialties"])  # the hub does not say
        assert sorted((d["fullName"], d["specialty"]["code"]) for d in node["doctors"]) == sorted(
            (d.full_name, d.specialty_code) for d in mo.doctors
        )
        assert {d["organisation"]["id"] for d in node["doctors"]} == {node["id"]}
        specialty_names = {s.code: s.name for s in region.specialties}
        assert all(d["specialty"]["name"] == specialty_names[d["specialty"]["code"]] for d in node["doctors"])

    filtered = {edge["node"]["id"]: edge["node"] for edge in therapists["data"]["organisations"]["edges"]}
    for mo in region.organisations:
        assert sorted(d["fullName"] for d in filtered[_gid("MedicalOrganisation", mo.id)]["doctors"]) == sorted(
            d.full_name for d in mo.doctors if d.specialty_code == "76"
        )


NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on MedicalOrganisation { name }
    ... on Doctor { fullName organisation { id } specialty { code } }
    ... on Specialty { code name }
    ... on District { name }
  }
}
"""


async def test_node_resolves_every_directory_type(runtime: Runtime) -> None:
    region = _region(runtime)
    await sync_directory(runtime)
    mo = region.organisations[0]
    async with app_client(runtime, [directory_schema]) as client:
        doctors = await gql(client, NESTED, {"first": 1})
        first_org = doctors["data"]["organisations"]["edges"][0]["node"]
        doctor_id = first_org["doctors"][0]["id"]

        async def node(global_id: str) -> Any:
            body = await gql(client, NODE, {"id": global_id})
            assert "errors" not in body, body
            return body["data"]["node"]

        assert await node(_gid("MedicalOrganisation", mo.id)) == {
            "__typename": "MedicalOrganisation",
            "id": _gid("MedicalOrganisation", mo.id),
            "name": mo.name,
        }
        district = region.districts[0]
        assert await node(_gid("District", district.id)) == {
            "__typename": "District",
            "id": _gid("District", district.id),
            "name": district.name,
        }
        specialty = region.specialty("76")
        assert await node(_gid("Specialty", "76")) == {
            "__typename": "Specialty",
            "id": _gid("Specialty", "76"),
            "code": "76",
            "name": specialty.name,
        }
        doctor = await node(doctor_id)
        assert doctor["__typename"] == "Doctor" and doctor["id"] == doctor_id
        assert doctor["fullName"] == first_org["doctors"][0]["fullName"]
        assert doctor["organisation"]["id"] == first_org["id"]
        assert doctor["specialty"]["code"] == first_org["doctors"][0]["specialty"]["code"]

        for missing in (
            _gid("MedicalOrganisation", "no-such"),
            _gid("District", "no-such"),
            _gid("Specialty", "no-such"),
            _gid("Doctor", "not-a-uuid"),
            _gid("Doctor", "00000000-0000-4000-8000-000000000000"),
        ):
            assert await node(missing) is None

        lists = await gql(client, "{ specialties { code name } districts { id name okato } }")
    assert {s["code"] for s in lists["data"]["specialties"]} == {d.specialty_code for d in region.doctors()}
    assert {d["id"] for d in lists["data"]["districts"]} == {_gid("District", d.id) for d in region.districts}


async def test_nested_lists_cost_a_constant_number_of_statements(runtime: Runtime) -> None:
    region = _region(runtime)
    assert len(region.organisations) >= 6
    await sync_directory(runtime)
    counts: dict[int, int] = {}
    async with app_client(runtime, [directory_schema]) as client:
        await gql(client, NESTED, {"first": 1})  # warm up: connections, caches
        for first in (2, 6):
            with counting_statements(runtime) as seen:
                body = await gql(client, NESTED, {"first": first})
            assert "errors" not in body, body
            edges = body["data"]["organisations"]["edges"]
            assert len(edges) == first and all(edge["node"]["doctors"] for edge in edges)
            counts[first] = len(seen)
    assert counts[2] == counts[6], counts
    # page, district, specialties, doctors, doctors' specialty, doctors' organisation
    assert counts[6] <= 12, counts
    print(f"statements for 2 and 6 organisations: {counts}")
