"""An operator's on-behalf session ends with the staff session it was opened from."""

from __future__ import annotations

from datetime import date

import pytest

from backend.runtime import Runtime
from tests.support.client import gql
from tests.support.identity import auth_headers, identity_client, make_patient, operator_token

pytestmark = pytest.mark.dialect

OPEN = """mutation($b: Date!, $p: String) {
  openOnBehalfSession(birthDate: $b, omsPolicy: $p) {
    __typename ... on Problem { code } ... on OnBehalfSession { accessToken }
  }
}"""
ME = "query { me { id shortName: fullName } }"


async def test_the_on_behalf_token_is_refused_once_the_operator_logged_out(runtime: Runtime) -> None:
    patient = await make_patient(runtime, birth_date=date(1980, 1, 2))
    staff = await operator_token(runtime)
    async with identity_client(runtime) as client:
        opened = await gql(client, OPEN, {"b": "1980-01-02", "p": patient.oms_policy}, headers=auth_headers(staff))
        on_behalf = opened["data"]["openOnBehalfSession"]["accessToken"]
        before = await client.post("/graphql", json={"query": ME}, headers=auth_headers(on_behalf))
        logout = await client.post("/api/v1/auth/logout", headers=auth_headers(staff))
        after = await client.post("/graphql", json={"query": ME}, headers=auth_headers(on_behalf))
    assert before.status_code == 200 and before.json()["data"]["me"]["id"] == str(patient.id)
    assert logout.status_code == 200
    assert after.status_code == 401, after.text
    assert "data" not in after.json() or not after.json().get("data")
