"""Contract of the НСИ adapter: the real NsiClient against the in-process ФНСИ simulator (offline snapshot)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from litestar import Litestar

from integrations.common.faults import Fault, FaultProfile
from integrations.common.http import build_http_client
from integrations.nsi import (
    NsiAccessDenied,
    NsiBookNotFound,
    NsiClient,
    NsiMalformedReply,
    NsiTimeout,
    NsiUnavailable,
    ReferenceBooks,
    Terminology,
    build_nsi_client,
    fetch_all_rows,
    load_books,
)
from integrations.nsi.simulator import NsiSimulatorState, create_nsi_simulator, simulator_state

USER_KEY = "0f1e2d3c-test-user-key"
REMD_TYPES = "1.2.643.5.1.13.13.11.1520"
ICD10 = "1.2.643.5.1.13.13.11.1005"
VACCINES = "1.2.643.5.1.13.13.11.1078"


@dataclass
class Nsi:
    client: NsiClient
    state: NsiSimulatorState
    http: httpx.AsyncClient


async def _nsi(profile: FaultProfile | None = None, timeout_s: float = 5.0) -> tuple[Nsi, Litestar]:
    app = create_nsi_simulator(user_key=USER_KEY, faults=profile)
    http = build_http_client("inprocess://nsi", simulator_app=lambda: app)
    return Nsi(NsiClient(http, user_key=USER_KEY, timeout_s=timeout_s), simulator_state(app), http), app


@pytest.fixture
async def nsi() -> AsyncIterator[Nsi]:
    made, _ = await _nsi()
    async with made.http:
        yield made


def test_client_implements_the_port() -> None:
    assert isinstance(NsiClient(httpx.AsyncClient(), user_key="k", timeout_s=1), ReferenceBooks)


async def test_passport_names_the_book_its_version_and_keys(nsi: Nsi) -> None:
    passport = await nsi.client.passport(ICD10)
    book = load_books()[ICD10]
    assert passport.oid == ICD10
    assert passport.version == book.current_version
    assert passport.full_name.startswith("Международная статистическая классификация болезней")
    assert passport.rows_count == len(book.rows_of())
    assert passport.code_field == "MKB_CODE"
    assert passport.name_field == "MKB_NAME"
    assert nsi.state.calls["passport"] == 1


async def test_data_rows_decode_the_column_value_cells(nsi: Nsi) -> None:
    page = await nsi.client.data(ICD10, size=2000)
    codes = {row["MKB_CODE"]: row["MKB_NAME"] for row in page.rows}
    assert codes["I10"] == "Эссенциальная [первичная] гипертензия"
    assert page.total == len(page.rows)
    assert not page.has_next


async def test_data_is_paged(nsi: Nsi) -> None:
    first = await nsi.client.data(ICD10, page=1, size=7)
    second = await nsi.client.data(ICD10, page=2, size=7)
    everything = await fetch_all_rows(nsi.client, ICD10, size=7)
    assert len(first.rows) == 7
    assert first.has_next
    assert first.total == len(everything)
    assert [r["ID"] for r in everything[:14]] == [r["ID"] for r in (*first.rows, *second.rows)]
    assert len({r["ID"] for r in everything}) == len(everything)


async def test_versions_and_data_of_an_older_version(nsi: Nsi) -> None:
    versions = await nsi.client.versions(REMD_TYPES)
    assert [v.version for v in versions] == ["3.1", "3.2"]
    old = await nsi.client.data(REMD_TYPES, version="3.1", size=100)
    new = await nsi.client.data(REMD_TYPES, size=100)
    old_codes = {r["ID"] for r in old.rows}
    new_codes = {r["ID"] for r in new.rows}
    assert new_codes - old_codes == {"166"}  # added in 3.2
    assert (await nsi.client.passport(REMD_TYPES, version="3.1")).rows_count == len(old_codes)


async def test_unknown_book_and_version_are_not_found(nsi: Nsi) -> None:
    with pytest.raises(NsiBookNotFound):
        await nsi.client.passport("1.2.643.5.1.13.13.11.9999")
    with pytest.raises(NsiBookNotFound):
        await nsi.client.data(VACCINES, version="0.1")


async def test_wrong_user_key_is_access_denied(nsi: Nsi) -> None:
    stranger = NsiClient(nsi.http, user_key="wrong", timeout_s=2.0)
    with pytest.raises(NsiAccessDenied) as caught:
        await stranger.data(VACCINES)
    assert "userKey" in caught.value.message


async def test_snapshot_terminology_names_every_code_it_serves(nsi: Nsi) -> None:
    terminology = Terminology.from_snapshot()
    page = await nsi.client.data(VACCINES, size=100)
    for row in page.rows:
        assert terminology.display(VACCINES, row["ID"] or "") == row["NAME"]
    concept = terminology.concept(ICD10, "E11.9")
    assert concept.display_name == "Инсулиннезависимый сахарный диабет без осложнений"
    assert concept.code_system_version == (await nsi.client.passport(ICD10)).version


async def test_upstream_error_timeout_and_malformed_reply_are_typed() -> None:
    made, _ = await _nsi(FaultProfile(timeout_stall_s=5.0), timeout_s=0.2)
    async with made.http:
        made.state.faults.force(Fault.ERROR)
        with pytest.raises(NsiUnavailable) as caught:
            await made.client.passport(ICD10)
        assert caught.value.status_code == 503
        made.state.faults.force(Fault.MALFORMED)
        with pytest.raises(NsiMalformedReply):
            await made.client.data(ICD10)
        made.state.faults.force(Fault.TIMEOUT)
        with pytest.raises(NsiTimeout):
            await made.client.versions(ICD10)


async def test_a_reply_without_the_envelope_is_malformed() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps({"list": []}).encode())

    async with httpx.AsyncClient(transport=httpx.MockTransport(reply), base_url="http://nsi") as http:
        with pytest.raises(NsiMalformedReply):
            await NsiClient(http, user_key="k", timeout_s=1.0).data(ICD10)


async def test_the_builder_reaches_the_snapshot_simulator_in_process() -> None:
    client, http = build_nsi_client("inprocess://nsi", user_key=USER_KEY, timeout_s=5.0)
    async with http:
        assert (await client.passport(VACCINES)).rows_count == len(load_books()[VACCINES].rows_of())
        with pytest.raises(NsiAccessDenied):
            await NsiClient(http, user_key="other", timeout_s=5.0).passport(VACCINES)
