"""The vault's demo as a new user tries it: ``seed-demo`` prints a share code, and the doctor opens the
shared analysis over real HTTP (Granian) with that code, no sign-in; the file streams back decrypted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.test_embedded_run import ROOT, _cli, _free_port


def test_demo_share_code_opens_the_shared_analysis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MZ_") and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"MZ_VAR_DIR": str(tmp_path / "var"), "MZ_LOG_JSON": "false", "MZ_PORT": str(_free_port())})
    assert _cli(env, "migrate").returncode == 0
    seed = _cli(env, "seed-demo")
    assert seed.returncode == 0, seed.stderr
    vault = json.loads(seed.stdout.strip().splitlines()[-1])["vault"]
    code = vault["share_code"]
    assert "СНИЛС" in vault["doctor"]

    server = subprocess.Popen(
        [sys.executable, "-m", "backend", "serve"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{env['MZ_PORT']}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        listing = httpx.get(f"{base}/api/v1/vault/shared/{code}", timeout=10)
        assert listing.status_code == 200, listing.text
        files = listing.json()["files"]
        assert [f["title"] for f in files] == ["Общий анализ крови"]
        got = httpx.get(f"{base}/api/v1/vault/shared/{code}/files/{files[0]['id']}", timeout=10)
        assert got.status_code == 200
        assert got.content.decode().startswith("Общий анализ крови")
        assert got.headers["content-disposition"].startswith("attachment;")
        assert (tmp_path / "var" / "vault" / "kek").exists()
        stored = b"".join(p.read_bytes() for p in (tmp_path / "var" / "vault" / "blobs").rglob("*-*"))
        assert "Общий анализ крови".encode() not in stored  # ciphertext at rest
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
