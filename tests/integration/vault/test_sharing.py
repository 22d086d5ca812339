"""Sharing with a doctor end to end, the bin, idempotency, and who may touch a vault."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from backend.vault import service
from backend.vault.models import VaultFile
from tests.support.client import gql
from tests.support.identity import (
    auth_headers,
    grant_proxy,
    identity_client,
    kiosk_session_token,
    make_patient,
    operator_on_behalf_token,
    token_for,
)
from tests.support.vault import upload

SHARE = """mutation($i: ShareVaultInput!, $k: String!, $t: UUID) { shareVault(input: $i, idempotencyKey: $k,
  actingFor: $t) { __typename ... on VaultShared { shareCode link share { id status expiresAt } }
  ... on Problem { code message } } }"""
REVOKE = """mutation($s: UUID!, $k: String!) { revokeVaultShare(shareId: $s, idempotencyKey: $k) {
  __typename ... on VaultShareRevoked { share { status } } ... on Problem { code message } } }"""
SHARED_WITH_ME = "{ sharedWithMe { id patient files { id title downloadPath } } }"
ACCESS_LOG = "{ myAccessLog(first: 100) { action actor } }"


class Clock:
    def __init__(self, runtime: Runtime) -> None:
        self.offset = timedelta(0)
        self._wall = runtime.adapters.clock

    def __call__(self) -> Any:
        return self._wall() + self.offset


async def _share(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = await gql(client, SHARE, {"i": fields, "k": uuid.uuid4().hex}, headers=headers)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["shareVault"]
    return result


async def test_share_with_a_doctor_end_to_end(runtime: Runtime) -> None:
    clock = Clock(runtime)
    runtime.adapters.clock = clock
    patient = await make_patient(runtime, last_name="Пациентова")
    doctor = await make_patient(runtime, last_name="Врачев", first_name="Петр", middle_name="Ильич")
    mine, theirs = auth_headers(token_for(runtime, patient.id)), auth_headers(token_for(runtime, doctor.id))
    content = b"%PDF-1.7\n" + b"discharge summary " * 1000
    async with identity_client(runtime) as client:
        created = (await upload(client, mine, content, name="выписка.pdf", folder="discharges")).json()
        hidden = (await upload(client, mine, b"%PDF-1.4\nprivate", name="private.pdf", folder="other")).json()

        shared = await _share(client, mine, fileIds=[created["id"]], hours=1, recipientSnils=doctor.snils)
        assert shared["__typename"] == "VaultShared" and shared["shareCode"] is None
        share_id = shared["share"]["id"]

        incoming = (await gql(client, SHARED_WITH_ME, headers=theirs))["data"]["sharedWithMe"]
        assert [s["id"] for s in incoming] == [share_id]
        assert incoming[0]["patient"] == "Пациентова А. С."
        assert [f["id"] for f in incoming[0]["files"]] == [created["id"]]
        path = incoming[0]["files"][0]["downloadPath"]

        got = await client.get(path, headers=theirs)
        assert got.status_code == 200 and got.content == content
        # Only what is shared: another file of the patient is not reachable through the share.
        other = await client.get(f"/api/v1/vault/shares/{share_id}/files/{hidden['id']}", headers=theirs)
        assert other.status_code == 404
        # Someone else signed in cannot use the doctor's share.
        stranger = auth_headers(token_for(runtime, (await make_patient(runtime)).id))
        assert (await client.get(path, headers=stranger)).status_code == 404

        log = (await gql(client, ACCESS_LOG, headers=mine))["data"]["myAccessLog"]
        assert {"action": "Врач скачал документ", "actor": "Врач: Врачев П. И."} in log

        revoked = await gql(client, REVOKE, {"s": share_id, "k": "revoke-1"}, headers=mine)
        assert revoked["data"]["revokeVaultShare"]["share"]["status"] == "revoked"
        refused = await client.get(path, headers=theirs)
        assert refused.status_code == 410
        assert refused.json() == {"code": "SHARE_REVOKED", "message": "Пациент закрыл доступ к этим документам."}
        assert (await gql(client, SHARED_WITH_ME, headers=theirs))["data"]["sharedWithMe"] == []

        # An expired share is refused with a clear Russian message.
        again = await _share(client, mine, folders=["discharges"], hours=1, recipientSnils=doctor.snils)
        clock.offset = timedelta(hours=1, seconds=1)
        theirs = auth_headers(token_for(runtime, doctor.id))  # a token of the new hour
        expired = await client.get(f"/api/v1/vault/shares/{again['share']['id']}/files/{created['id']}", headers=theirs)
        assert expired.status_code == 410 and expired.json()["code"] == "SHARE_EXPIRED"
        assert "Срок доступа к документам истек" in expired.json()["message"]

    async with runtime.sessionmaker() as session:
        opened = list(await session.scalars(select(OutboxMessage)))
    events = [m.payload.get("event") for m in opened]
    assert events.count("vault.share_opened") == 1  # the first opening only


async def test_share_by_code_and_the_eve_of_expiry(runtime: Runtime) -> None:
    clock = Clock(runtime)
    runtime.adapters.clock = clock
    patient = await make_patient(runtime)
    mine = auth_headers(token_for(runtime, patient.id))
    async with identity_client(runtime) as client:
        created = (await upload(client, mine, b"Hemoglobin 138 g/l\n", name="blood.txt")).json()
        shared = await _share(client, mine, folders=["analyses"], hours=48)
        code = shared["shareCode"]
        assert len(code) == 9 and code[4] == "-" and shared["link"].endswith(code.replace("-", ""))

        listing = await client.get(f"/api/v1/vault/shared/{code.lower()}")
        assert listing.status_code == 200
        assert [f["id"] for f in listing.json()["files"]] == [created["id"]]
        got = await client.get(f"/api/v1/vault/shared/{code}/files/{created['id']}")
        assert got.status_code == 200 and got.content == b"Hemoglobin 138 g/l\n"
        assert got.headers["content-type"] == "text/plain; charset=utf-8"
        assert (await client.get("/api/v1/vault/shared/AAAA-AAAA")).status_code == 404
        for _ in range(service.CODE_ATTEMPTS - 1):  # guessing codes: refused for a while, the right one too
            await client.get("/api/v1/vault/shared/AAAA-AAAB")
        locked = await client.get(f"/api/v1/vault/shared/{code}")
        assert locked.status_code == 429 and locked.json()["code"] == "TOO_MANY_ATTEMPTS"
        await runtime.adapters.failure_counter.reset("vault-code:127.0.0.1")  # type: ignore[union-attr]

        log = (await gql(client, ACCESS_LOG, headers=mine))["data"]["myAccessLog"]
        assert {"action": "Врач скачал документ", "actor": "Получатель по коду доступа"} in log

        clock.offset = timedelta(hours=24, minutes=30)
        assert await service.notify_expiring(runtime) == 1
        assert await service.notify_expiring(runtime) == 0  # once per share
        clock.offset = timedelta(hours=49)
        expired = await client.get(f"/api/v1/vault/shared/{code}")
        assert expired.status_code == 410 and expired.json()["code"] == "SHARE_EXPIRED"


async def test_bad_share_requests(runtime: Runtime) -> None:
    patient = await make_patient(runtime)
    mine = auth_headers(token_for(runtime, patient.id))
    async with identity_client(runtime) as client:
        created = (await upload(client, mine, b"%PDF-1.4\nx", name="a.pdf")).json()
        cases = [
            ({"fileIds": [created["id"]], "hours": 0}, "BAD_SHARE_PERIOD"),
            ({"fileIds": [created["id"]], "hours": 721}, "BAD_SHARE_PERIOD"),
            ({"fileIds": [created["id"]], "hours": 1, "recipientSnils": patient.snils}, "SHARE_TO_SELF"),
            ({"hours": 1}, "NOTHING_TO_SHARE"),
            ({"fileIds": [str(uuid.uuid4())], "hours": 1}, "NOT_FOUND"),
            ({"folders": ["secret"], "hours": 1}, "INVALID_INPUT"),
        ]
        for fields, code in cases:
            answer = await _share(client, mine, **fields)
            assert answer["code"] == code, (fields, answer)
            assert answer["message"] and answer["message"].isascii() is False


async def test_bin_restore_and_erase(runtime: Runtime) -> None:
    clock = Clock(runtime)
    runtime.adapters.clock = clock
    patient = await make_patient(runtime)
    mine = auth_headers(token_for(runtime, patient.id))
    delete = "mutation($f: UUID!, $k: String!) { deleteVaultFile(fileId: $f, idempotencyKey: $k) { __typename } }"
    restore = """mutation($f: UUID!, $k: String!) { restoreVaultFile(fileId: $f, idempotencyKey: $k) {
      __typename ... on Problem { code message } } }"""
    async with identity_client(runtime) as client:
        created = (await upload(client, mine, b"%PDF-1.4\nold", name="old.pdf")).json()
        kept = (await upload(client, mine, b"%PDF-1.4\nkept", name="kept.pdf")).json()
        assert (await gql(client, delete, {"f": created["id"], "k": "d1"}, headers=mine))["data"]["deleteVaultFile"][
            "__typename"
        ] == "VaultFileChanged"
        assert (await client.get(f"/api/v1/vault/files/{created['id']}", headers=mine)).status_code == 404
        back = await gql(client, restore, {"f": created["id"], "k": "r1"}, headers=mine)
        assert back["data"]["restoreVaultFile"]["__typename"] == "VaultFileChanged"
        await gql(client, delete, {"f": created["id"], "k": "d2"}, headers=mine)

        clock.offset = timedelta(days=30, minutes=1)
        mine = auth_headers(token_for(runtime, patient.id))
        late = await gql(client, restore, {"f": created["id"], "k": "r2"}, headers=mine)
        assert late["data"]["restoreVaultFile"]["code"] == "NOT_RESTORABLE"
    async with runtime.sessionmaker() as session:
        row = await session.get(VaultFile, uuid.UUID(created["id"]))
        assert row is not None
        key = row.blob_key
    assert await service.erase_expired(runtime) == 1
    assert key not in {o.key for o in await runtime.adapters.vault_store.list()}
    assert len(await runtime.adapters.vault_store.list()) == 1  # the kept file's
    async with runtime.sessionmaker() as session:
        erased = await session.scalar(select(AuditEvent).where(AuditEvent.action == "vault.file_erased"))
    assert erased is not None and erased.subject_id == patient.id and erased.object_id == created["id"]
    assert kept["id"] != created["id"]


async def test_idempotent_upload_and_edit(runtime: Runtime) -> None:
    patient = await make_patient(runtime)
    mine = auth_headers(token_for(runtime, patient.id))
    edit = """mutation($i: UpdateVaultFileInput!, $k: String!) { updateVaultFile(input: $i, idempotencyKey: $k) {
      __typename ... on VaultFileChanged { file { folder title tags } } ... on Problem { code } } }"""
    async with identity_client(runtime) as client:
        first = await upload(client, mine, b"%PDF-1.4\nonce", name="once.pdf", key="upload-1")
        second = await upload(client, mine, b"%PDF-1.4\nonce", name="once.pdf", key="upload-1")
        assert first.json()["id"] == second.json()["id"]
        assert len(await runtime.adapters.vault_store.list()) == 1
        variables = {"i": {"fileId": first.json()["id"], "folder": "certificates", "tags": ["МРТ"]}, "k": "e1"}
        moved = await gql(client, edit, variables, headers=mine)
        assert moved["data"]["updateVaultFile"]["file"] == {
            "folder": "certificates",
            "title": "once.pdf",
            "tags": ["МРТ"],
        }
        replay = await gql(client, edit, variables, headers=mine)
        assert replay["data"]["updateVaultFile"]["file"]["folder"] == "certificates"
        variables["i"]["title"] = "../etc/passwd"
        reused = await gql(client, edit, variables, headers=mine)
        assert reused["data"]["updateVaultFile"]["code"] == "IDEMPOTENCY_KEY_REUSED"
        bad = await gql(client, edit, variables | {"k": "e2"}, headers=mine)
        assert bad["data"]["updateVaultFile"]["code"] == "INVALID_NAME"


async def test_proxies_manage_a_childs_vault_operators_and_kiosks_never_see_it(runtime: Runtime) -> None:
    child = await make_patient(runtime, last_name="Малышев")
    parent = await make_patient(runtime)
    await grant_proxy(runtime, child.id, parent.id, scopes={"documents"})
    parent_headers = auth_headers(token_for(runtime, parent.id))
    async with identity_client(runtime) as client:
        created = await upload(client, parent_headers, b"%PDF-1.4\nchild", name="c.pdf", acting_for=child.id)
        assert created.status_code == 201
        got = await client.get(
            f"/api/v1/vault/files/{created.json()['id']}", params={"actingFor": str(child.id)}, headers=parent_headers
        )
        assert got.status_code == 200
        for token in (
            await operator_on_behalf_token(runtime, child.id, sensitive=True),
            await kiosk_session_token(runtime, child.id),
        ):
            headers = auth_headers(token)
            assert (await client.get(f"/api/v1/vault/files/{created.json()['id']}", headers=headers)).status_code == 403
            assert (await upload(client, headers, b"%PDF-1.4\nx", name="x.pdf")).status_code == 403
            listed = await gql(client, "{ myVault { files { id } } }", headers=headers)
            assert listed["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
            assert (await gql(client, SHARED_WITH_ME, headers=headers))["errors"][0]["extensions"][
                "code"
            ] == "ACCESS_DENIED"


@pytest.mark.dialect
async def test_vault_on_this_dialect(runtime: Runtime) -> None:
    patient = await make_patient(runtime)
    mine = auth_headers(token_for(runtime, patient.id))
    async with identity_client(runtime) as client:
        created = (await upload(client, mine, b"%PDF-1.4\ndialect", name="d.pdf")).json()
        shared = await _share(client, mine, fileIds=[created["id"]], hours=2)
        got = await client.get(f"/api/v1/vault/shared/{shared['shareCode']}/files/{created['id']}")
        assert got.content == b"%PDF-1.4\ndialect"
        assert await service.rewrap_all(runtime, everything=True) == 1
        assert (await client.get(f"/api/v1/vault/files/{created['id']}", headers=mine)).content == b"%PDF-1.4\ndialect"
