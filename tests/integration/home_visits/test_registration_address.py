"""Issue 18: a home visit is offered for the patient's address from ESIA (``addresses``: PLV residence, else
PRG registration) when none is given, not only the previous visit's; the answer says which address it is."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from backend.home_visits.models import HomeVisit
from backend.identity import service as identity
from backend.identity.routes import patient_data
from integrations.esia.protocol import EsiaAddress, EsiaPerson
from tests.support.client import app_client, gql
from tests.support.home_visits import REQUEST, VisitEnv, key, visit_input
from tests.support.identity import auth_headers, token_for

WINDOWS = (
    "query($a: HomeVisitAddressInput) { homeVisitWindows(address: $a) { __typename"
    " ... on HomeVisitWindows { addressLine addressSource windows { id } } ... on Problem { code } } }"
)
REGISTRATION = "355000, Ставропольский край, г. Ставрополь, ул. Ленина, д. 1, кв. 2"
RESIDENCE = "355000, Ставропольский край, г. Ставрополь, ул. Мира, д. 7, кв. 9"


def _person(*addresses: EsiaAddress) -> EsiaPerson:
    return EsiaPerson(
        oid="1000299",
        last_name="Адресова",
        first_name="Мария",
        middle_name=None,
        birth_date=date(1980, 1, 2),
        sex="F",
        snils=None,
        inn=None,
        trusted=True,
        status="REGISTERED",
        etag=None,
        addresses=addresses,
    )


def test_esia_addresses_are_kept_as_registration_and_residence() -> None:
    data = patient_data(
        _person(EsiaAddress("1", "PRG", REGISTRATION, zip_code="355000"), EsiaAddress("2", "PLV", RESIDENCE))
    )
    assert data is not None
    assert data.registration_address == {"line": REGISTRATION, "fias_code": None, "postcode": "355000"}
    assert data.residence_address == {"line": RESIDENCE, "fias_code": None, "postcode": None}
    only_registered = patient_data(_person(EsiaAddress("1", "PRG", REGISTRATION)))
    assert only_registered is not None and only_registered.residence_address is None


async def _with_addresses(visits: VisitEnv, i: int, **addresses: Any) -> Any:
    patient = await visits.adult(i)
    async with visits.runtime.sessionmaker() as session, session.begin():
        fields = {k: getattr(patient, k) for k in ("esia_oid", "last_name", "first_name", "middle_name")}
        fields |= {k: getattr(patient, k) for k in ("birth_date", "sex", "snils", "oms_policy")}
        await identity.upsert_patient(session, identity.PatientData(**fields, **addresses), at=datetime.now(UTC))
    return patient


async def test_windows_and_the_request_use_the_esia_address_when_none_is_given(visits: VisitEnv) -> None:
    runtime = visits.runtime
    registered = await _with_addresses(visits, 12, registration_address={"line": REGISTRATION})
    both = await _with_addresses(
        visits, 13, registration_address={"line": REGISTRATION}, residence_address={"line": RESIDENCE}
    )
    async with app_client(runtime) as client:
        offered = (await gql(client, WINDOWS, {}, headers=auth_headers(token_for(runtime, registered.id))))["data"]
        assert offered["homeVisitWindows"]["addressSource"] == "REGISTRATION", offered
        assert offered["homeVisitWindows"]["addressLine"] == REGISTRATION
        lives = (await gql(client, WINDOWS, {}, headers=auth_headers(token_for(runtime, both.id))))["data"]
        assert lives["homeVisitWindows"]["addressSource"] == "RESIDENCE"
        assert lives["homeVisitWindows"]["addressLine"] == RESIDENCE
        given = await gql(
            client, WINDOWS, {"a": {"line": "ул. Другая, 3"}}, headers=auth_headers(token_for(runtime, both.id))
        )
        assert given["data"]["homeVisitWindows"]["addressSource"] == "GIVEN"

        window = offered["homeVisitWindows"]["windows"][0]["id"]
        no_address = {k: v for k, v in visit_input(window).items() if k != "address"}
        headers = auth_headers(token_for(runtime, registered.id))
        requested = (await gql(client, REQUEST, {"i": no_address, "k": key()}, headers=headers))["data"]
    assert requested["requestHomeVisit"]["__typename"] == "HomeVisitRequested", requested
    async with runtime.sessionmaker() as session:
        visit = await session.get(HomeVisit, uuid.UUID(requested["requestHomeVisit"]["visit"]["id"]))
    assert visit is not None and visit.address_line == REGISTRATION
