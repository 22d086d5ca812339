"""Vault tests: a runtime whose blob store is the filesystem under the test's tmp dir, or (``store="s3"``)
an S3 bucket on moto's standalone server started once per session over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.runtime import Runtime
from backend.settings import Settings
from backend.vault.store import S3BlobStore
from tests.conftest import make_settings
from tests.support.vault import moto_s3_server


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with moto_s3_server() as endpoint:
        yield endpoint


def vault_settings(database_url: str, redis_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    return make_settings(database_url, redis_url, var_dir=tmp_path / "var", **overrides)


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return vault_settings(database_url, redis_url, tmp_path)


async def build_runtime(settings: Settings) -> Runtime:
    runtime = Runtime.build(settings)
    store = runtime.adapters.vault_store
    if isinstance(store, S3BlobStore):
        await store.ensure_bucket()
    return runtime


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = await build_runtime(settings)
    try:
        yield rt
    finally:
        await rt.close()
