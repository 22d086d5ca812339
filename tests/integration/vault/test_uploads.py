"""Uploads checked while they stream: each bad input refused clearly, nothing stored (no row, no blob)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.runtime import Runtime
from backend.settings import Settings
from backend.vault.models import VaultFile
from tests.integration.vault.conftest import vault_settings
from tests.support.client import gql
from tests.support.identity import auth_headers, identity_client, make_patient, token_for
from tests.support.vault import png, upload

LIMIT = 200_000
QUOTA = 300_000


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return vault_settings(database_url, redis_url, tmp_path, vault_max_file_bytes=LIMIT, vault_quota_bytes=QUOTA)


async def _nothing_stored(runtime: Runtime, rows: int = 0) -> None:
    async with runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(VaultFile)) == rows
    assert len(await runtime.adapters.vault_store.list()) == rows


GOOD = {
    "scan.pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
    "photo.jpg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200, "image/jpeg"),
    "photo.heic": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200, "image/heic"),
    "ct.dcm": (b"\x00" * 128 + b"DICM" + b"\x02\x00\x00\x00" * 50, "application/dicom"),
    "note.txt": ("Жалобы: кашель 3 дня.\r\nТемпература 37,2.\n".encode(), "text/plain"),
}


@pytest.mark.parametrize("name", sorted(GOOD))
async def test_allowed_types_by_magic_bytes(runtime: Runtime, name: str) -> None:
    me = await make_patient(runtime)
    headers = auth_headers(token_for(runtime, me.id))
    content, kind = GOOD[name]
    async with identity_client(runtime) as client:
        answer = await upload(client, headers, content, name=f"renamed-{name}.bin")
    assert answer.status_code == 201, answer.text
    assert answer.json()["contentType"] == kind  # by content, whatever the name says


BAD = {
    "renamed executable": (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 300, "report.pdf", 415, "TYPE_NOT_ALLOWED"),
    "ELF renamed": (b"\x7fELF\x02\x01\x01" + b"\x00" * 300, "scan.jpg", 415, "TYPE_NOT_ALLOWED"),
    "zip inside a PDF-named file": (b"PK\x03\x04\x14\x00" + b"\x00" * 5000, "выписка.pdf", 415, "TYPE_NOT_ALLOWED"),
    "text with NUL bytes": (b"hello" + b"\x00" * 200, "a.txt", 415, "TYPE_NOT_ALLOWED"),
    "text turning binary later": (b"a" * 5000 + b"\x00\x01\x02", "a.txt", 415, "TYPE_NOT_ALLOWED"),
    "empty file": (b"", "empty.pdf", 400, "EMPTY_FILE"),
    "too large": (png(LIMIT + 1), "big.png", 413, "FILE_TOO_LARGE"),
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_bad_uploads_are_refused_and_leave_nothing(runtime: Runtime, case: str) -> None:
    me = await make_patient(runtime)
    headers = auth_headers(token_for(runtime, me.id))
    content, name, status, code = BAD[case]
    async with identity_client(runtime) as client:
        answer = await upload(client, headers, content, name=name)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == code
    assert any("а" <= ch <= "я" for ch in body["message"].lower())  # a Russian message
    await _nothing_stored(runtime)


async def test_quota_per_patient(runtime: Runtime) -> None:
    me = await make_patient(runtime)
    headers = auth_headers(token_for(runtime, me.id))
    async with identity_client(runtime) as client:
        assert (await upload(client, headers, png(LIMIT - 10), name="a.png")).status_code == 201
        answer = await upload(client, headers, png(LIMIT - 10, seed=2), name="b.png")
        assert answer.status_code == 413 and answer.json()["code"] == "QUOTA_EXCEEDED"
        assert "места" in answer.json()["message"]
        # Another patient has their own quota.
        other = auth_headers(token_for(runtime, (await make_patient(runtime)).id))
        assert (await upload(client, other, png(LIMIT - 10, seed=3), name="c.png")).status_code == 201
    await _nothing_stored(runtime, rows=2)


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"title": "../../etc/passwd"}, "ok.pdf"),
        ({"title": "a\\b"}, "ok.pdf"),
        ({"title": "line\nbreak"}, "ok.pdf"),
        ({"clinic": "x/y"}, "ok.pdf"),
        ({}, "../evil.pdf"),
        ({}, "dir\\evil.pdf"),
    ],
)
async def test_path_characters_in_names(runtime: Runtime, fields: dict[str, str], name: str) -> None:
    me = await make_patient(runtime)
    headers = auth_headers(token_for(runtime, me.id))
    async with identity_client(runtime) as client:
        title = fields.pop("title", None)
        answer = await upload(client, headers, b"%PDF-1.4\nx", name=name, title=title, **fields)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "INVALID_NAME"
    await _nothing_stored(runtime)


async def test_truncated_upload(runtime: Runtime) -> None:
    me = await make_patient(runtime)
    headers = auth_headers(token_for(runtime, me.id))
    boundary = "mzboundary42"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="folder"\r\n\r\nanalyses\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="scan.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode() + png(50_000)
    # The closing boundary never arrives: the connection ended mid-file.
    async with identity_client(runtime) as client:
        answer = await client.post(
            "/api/v1/vault/files",
            content=body,
            headers=headers | {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert answer.status_code == 400
    assert answer.json()["code"] == "UPLOAD_INCOMPLETE"
    await _nothing_stored(runtime)


async def test_unknown_folder_and_no_file(runtime: Runtime) -> None:
    me = await make_patient(runtime)
    headers = auth_headers(token_for(runtime, me.id))
    async with identity_client(runtime) as client:
        answer = await upload(client, headers, b"%PDF-1.4\nx", name="a.pdf", folder="secret")
        assert answer.status_code == 400 and answer.json()["code"] == "INVALID_INPUT"
        plain = await client.post("/api/v1/vault/files", content=b"%PDF-1.4", headers=headers)
        assert plain.status_code == 415
        anonymous = await upload(client, {}, b"%PDF-1.4\nx", name="a.pdf")
        assert anonymous.status_code == 401
        listed = await gql(client, '{ myVault(folder: "secret") { usedBytes } }', headers=headers)
        assert listed["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
        assert "Такой папки нет" in listed["errors"][0]["message"]
    await _nothing_stored(runtime)
