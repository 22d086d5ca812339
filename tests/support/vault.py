"""Vault test helpers: an S3-compatible server (moto's standalone server, a subprocess on a free port) and
multipart uploads as a client sends them."""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

S3_ACCESS_KEY = "testing"
S3_SECRET_KEY = "testing"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_s3_server() -> Iterator[str]:
    """Start ``moto_server`` (installed from the lock file) on 127.0.0.1 and yield its endpoint URL."""
    binary = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if binary is None:
        raise RuntimeError("moto_server is not installed (moto[server] is a dev dependency in requirements.lock)")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def s3_settings(endpoint: str) -> dict[str, Any]:
    return {
        "vault_store": "s3",
        "vault_s3_endpoint": endpoint,
        "vault_s3_bucket": f"vault-{uuid.uuid4().hex[:12]}",
        "vault_s3_access_key": S3_ACCESS_KEY,
        "vault_s3_secret_key": S3_SECRET_KEY,
        "vault_s3_region": "us-east-1",
    }


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    content: bytes,
    *,
    name: str = "scan.png",
    folder: str = "analyses",
    title: str | None = None,
    acting_for: uuid.UUID | None = None,
    key: str | None = None,
    **fields: str,
) -> httpx.Response:
    data = {"folder": folder, **fields}
    if title is not None:
        data["title"] = title
    params = {"actingFor": str(acting_for)} if acting_for else {}
    extra = {"Idempotency-Key": key} if key else {}
    return await client.post(
        "/api/v1/vault/files",
        data=data,
        files={"file": (name, content, "application/octet-stream")},
        params=params,
        headers=headers | extra,
    )


def png(size: int, seed: int = 1) -> bytes:
    """A PNG-signed body of ``size`` bytes (the vault checks the magic bytes, not the image)."""
    head = b"\x89PNG\r\n\x1a\n"
    return head + random.Random(seed).randbytes(size - len(head))
