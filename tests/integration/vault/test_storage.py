"""The vault's storage on both blob stores: round trip over the API, ciphertext at rest, tamper detection,
key rotation, and a crash between the blob write and the commit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.core.context import RequestContext
from backend.runtime import Runtime
from backend.vault import crypto, service
from backend.vault import problems as p
from backend.vault.crypto import KeyRing
from backend.vault.models import VaultFile
from backend.vault.service import files as files_service
from backend.vault.store import BlobStore, FileBlobStore, S3BlobStore
from tests.integration.vault.conftest import build_runtime, vault_settings
from tests.support.client import gql
from tests.support.identity import auth_headers, identity_client, make_patient, token_for
from tests.support.vault import png, s3_settings, upload

LIST = "query($f: String) { myVault(folder: $f) { files { id title fileName contentType size sha256 } usedBytes } }"


@pytest.fixture(params=["file", "s3"])
async def any_store(
    request: pytest.FixtureRequest, database_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[Runtime]:
    extra = s3_settings(request.getfixturevalue("s3_endpoint")) if request.param == "s3" else {}
    runtime = await build_runtime(vault_settings(database_url, redis_url, tmp_path, **extra))
    try:
        yield runtime
    finally:
        await runtime.close()


async def _raw(store: BlobStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.get(key)])


async def _overwrite(store: BlobStore, key: str, data: bytes) -> None:
    async def once() -> AsyncIterator[bytes]:
        yield data

    if isinstance(store, FileBlobStore):
        store.path_of(key).write_bytes(data)
    else:
        await store.put(key, once())


async def _row(runtime: Runtime, file_id: str) -> VaultFile:
    async with runtime.sessionmaker() as session:
        row = await session.get(VaultFile, uuid.UUID(file_id))
    assert row is not None
    return row


@pytest.mark.parametrize("size", [300_000, 12 * 1024 * 1024 + 5])
async def test_round_trip_on_both_stores(any_store: Runtime, size: int) -> None:
    runtime = any_store
    me = await make_patient(runtime)
    headers = auth_headers(token_for(runtime, me.id))
    content = png(size, seed=size)
    async with identity_client(runtime) as client:
        answer = await upload(client, headers, content, name="снимок легких.png", title="Рентген")
        assert answer.status_code == 201, answer.text
        created = answer.json()
        assert created["contentType"] == "image/png" and created["size"] == size

        listed = await gql(client, LIST, {"f": "analyses"}, headers=headers)
        files = listed["data"]["myVault"]["files"]
        assert [f["id"] for f in files] == [created["id"]]
        assert files[0]["title"] == "Рентген" and files[0]["fileName"] == "снимок легких.png"
        assert listed["data"]["myVault"]["usedBytes"] == size

        download = await client.get(f"/api/v1/vault/files/{created['id']}", headers=headers)
        assert download.status_code == 200
        assert download.content == content
        assert download.headers["content-type"] == "image/png"
        disposition = download.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="')
        assert "filename*=UTF-8''%D1%81%D0%BD%D0%B8%D0%BC%D0%BE%D0%BA" in disposition

    row = await _row(runtime, created["id"])
    assert "снимок" not in row.blob_key and row.blob_key.startswith("blobs/")
    stored = await _raw(runtime.adapters.vault_store, row.blob_key)
    assert len(stored) == crypto.stored_size(size)
    assert content[:4096] not in stored and content[-4096:] not in stored


async def test_flipped_byte_fails_clearly_never_wrong_bytes(any_store: Runtime) -> None:
    runtime = any_store
    me = await make_patient(runtime)
    headers = auth_headers(token_for(runtime, me.id))
    content = png(crypto.SEGMENT * 2 + 1000, seed=7)
    async with identity_client(runtime) as client:
        created = (await upload(client, headers, content)).json()
        row = await _row(runtime, created["id"])
        store = runtime.adapters.vault_store
        original = await _raw(store, row.blob_key)

        # A byte flipped in the first segment: refused before any byte is sent.
        first = bytearray(original)
        first[100] ^= 0x01
        await _overwrite(store, row.blob_key, bytes(first))
        answer = await client.get(f"/api/v1/vault/files/{created['id']}", headers=headers)
        assert answer.status_code == 500
        assert answer.json()["code"] == "FILE_CORRUPTED"
        assert "поврежден" in answer.json()["message"]

    # A byte flipped in a later segment: the stream stops at that segment; what came before is authentic.
    later = bytearray(original)
    later[crypto.STORED_SEGMENT + 50] ^= 0x80
    await _overwrite(store, row.blob_key, bytes(later))
    body = await files_service.open_blob(runtime, await _row(runtime, created["id"]))
    received = bytearray()
    with pytest.raises(crypto.BlobCorrupted):
        async for piece in body:
            received += piece
    assert bytes(received) == content[: crypto.SEGMENT]

    # Truncated after a segment boundary: the last segment left is not the final one.
    await _overwrite(store, row.blob_key, original[: crypto.STORED_SEGMENT * 2])
    body = await files_service.open_blob(runtime, await _row(runtime, created["id"]))
    with pytest.raises(crypto.BlobCorrupted):
        async for _ in body:
            pass


async def test_key_rotation_rewraps_every_data_key(any_store: Runtime) -> None:
    runtime = any_store
    old = KeyRing([("old", b"o" * 32)])
    runtime.adapters.vault_keys = old
    me = await make_patient(runtime)
    headers = auth_headers(token_for(runtime, me.id))
    contents = [png(50_000, seed=i) for i in range(3)]
    async with identity_client(runtime) as client:
        ids = [(await upload(client, headers, c, name=f"f{i}.png")).json()["id"] for i, c in enumerate(contents)]
        blobs_before = {i: await _raw(runtime.adapters.vault_store, (await _row(runtime, i)).blob_key) for i in ids}

        runtime.adapters.vault_keys = KeyRing([("new", b"n" * 32), ("old", b"o" * 32)])
        assert await service.rewrap_all(runtime) == 3
        assert await service.rewrap_all(runtime) == 0  # nothing left under the old key

        runtime.adapters.vault_keys = KeyRing([("new", b"n" * 32)])  # the old key is gone
        for file_id, content in zip(ids, contents, strict=True):
            row = await _row(runtime, file_id)
            assert row.key_id == "new"
            assert await _raw(runtime.adapters.vault_store, row.blob_key) == blobs_before[file_id]  # untouched
            answer = await client.get(f"/api/v1/vault/files/{file_id}", headers=headers)
            assert answer.status_code == 200 and answer.content == content


class _Crash(BaseException):
    """The process dying: no cleanup code runs after it."""


async def _count(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(VaultFile)) or 0)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.mark.parametrize("store_kind", ["file", "s3"])
async def test_crash_between_blob_and_commit_is_swept(
    request: pytest.FixtureRequest,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    store_kind: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra = s3_settings(request.getfixturevalue("s3_endpoint")) if store_kind == "s3" else {}
    runtime = await build_runtime(vault_settings(database_url, redis_url, tmp_path, **extra))
    try:
        store = runtime.adapters.vault_store
        assert isinstance(store, FileBlobStore | S3BlobStore)
        me = await make_patient(runtime)
        ctx = RequestContext.for_system("test")
        meta = service.FileMeta(folder="other", title="Справка", file_name="spravka.txt")

        async def crash(*args: object, **kwargs: object) -> None:
            raise _Crash

        async def no_cleanup(*args: object) -> None:
            return None

        monkeypatch.setattr(files_service, "_commit_row", crash)
        monkeypatch.setattr(files_service, "_discard_blob", no_cleanup)
        with pytest.raises(_Crash):
            await service.upload(runtime, ctx, me.id, meta, _once(b"plain text of a certificate\n"))
        monkeypatch.undo()

        assert await _count(runtime) == 0  # no visible file
        assert len(await store.list()) == 1  # the blob the crash left
        assert await service.sweep_orphans(runtime) == 0  # younger than the grace period: maybe in flight
        assert await service.sweep_orphans(runtime, grace=timedelta(0)) == 1
        assert await store.list() == []

        # A failing transaction (not a crash) removes its blob at once.
        async def failing(*args: object, **kwargs: object) -> None:
            raise RuntimeError("database went away")

        monkeypatch.setattr(files_service, "_commit_row", failing)
        with pytest.raises(RuntimeError):
            await service.upload(runtime, ctx, me.id, meta, _once(b"plain text of a certificate\n"))
        monkeypatch.undo()
        assert await store.list() == [] and await _count(runtime) == 0
    finally:
        await runtime.close()


async def test_refused_stream_leaves_nothing(runtime: Runtime) -> None:
    me = await make_patient(runtime)
    ctx = RequestContext.for_system("test")
    meta = service.FileMeta(folder="other", title="x", file_name="x.pdf")
    with pytest.raises(p.VaultError) as refused:
        await service.upload(runtime, ctx, me.id, meta, _once(b"PK\x03\x04" + b"\x00" * 500))
    assert refused.value.problem.code == "TYPE_NOT_ALLOWED"
    assert await runtime.adapters.vault_store.list() == [] and await _count(runtime) == 0
