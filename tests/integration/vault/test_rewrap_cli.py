"""``moe-zdorovye vault-rewrap``: after a new key is put first in MZ_VAULT_KEYS, every data key is re-wrapped
under it (the blobs untouched) and every file still opens once the old key is removed."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from backend.cli import app
from backend.core.context import RequestContext
from backend.runtime import Runtime
from backend.vault import service
from backend.vault.crypto import KeyRing
from backend.vault.models import VaultFile
from backend.vault.service import files as files_service
from tests.integration.vault.conftest import build_runtime, vault_settings
from tests.support.identity import make_patient

OLD = "old:" + base64.b64encode(b"o" * 32).decode()
NEW = "new:" + base64.b64encode(b"n" * 32).decode()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _read(runtime: Runtime, file_id: object) -> bytes:
    async with runtime.sessionmaker() as session:
        row = await session.get(VaultFile, file_id)
    assert row is not None
    opened = await files_service.open_blob(runtime, row)
    return b"".join([piece async for piece in opened])


async def test_vault_rewrap_command(database_url: str, redis_url: str, tmp_path: Path) -> None:
    settings = vault_settings(database_url, redis_url, tmp_path, vault_keys=OLD)
    runtime = await build_runtime(settings)
    try:
        me = await make_patient(runtime)
        ctx = RequestContext.for_system("test")
        ids = []
        for i in range(3):
            meta = service.FileMeta(folder="other", title=f"Файл {i}", file_name=f"{i}.txt")
            ids.append((await service.upload(runtime, ctx, me.id, meta, _once(f"text {i}\n".encode()))).id)
        before = {o.key: o.modified_at for o in await runtime.adapters.vault_store.list()}

        env = {
            "MZ_PROFILE": "test",
            "DATABASE_URL": database_url,
            "MZ_VAR_DIR": str(settings.var_dir),
            "MZ_VAULT_KEYS": f"{NEW},{OLD}",
        }
        result = await asyncio.to_thread(CliRunner().invoke, app, ["vault-rewrap"], env=env)
        assert result.exit_code == 0, result.output
        assert "re-wrapped 3 data keys under new" in result.output

        async with runtime.sessionmaker() as session:
            assert set(await session.scalars(select(VaultFile.key_id))) == {"new"}
        assert {o.key: o.modified_at for o in await runtime.adapters.vault_store.list()} == before
        runtime.adapters.vault_keys = KeyRing.parse(NEW)  # the old key retired
        for i, file_id in enumerate(ids):
            assert await _read(runtime, file_id) == f"text {i}\n".encode()
    finally:
        await runtime.close()
