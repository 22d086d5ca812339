"""The README's first command, as a new user runs it: migrate SQLite, seed the demo region, serve.

Runs the real CLI in subprocesses on a fresh var directory, then talks HTTP to the Granian server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MZ_") and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"MZ_VAR_DIR": str(tmp_path / "var"), "MZ_LOG_JSON": "false", "MZ_PORT": str(_free_port())})
    return env


@pytest.fixture
def served(embedded_env: dict[str, str]) -> Iterator[str]:
    migrate = _cli(embedded_env, "migrate")
    assert migrate.returncode == 0, migrate.stderr
    seed = _cli(embedded_env, "seed-demo")
    assert seed.returncode == 0, seed.stderr
    assert '"organisations": {"seen": 6' in seed.stdout
    server = subprocess.Popen(
        [sys.executable, "-m", "backend", "serve"],
        env=embedded_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{embedded_env['MZ_PORT']}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            assert server.poll() is None, server.stdout.read() if server.stdout else "server exited"
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def test_embedded_default_serves_graphiql_and_the_demo_region(served: str) -> None:
    ready = httpx.get(f"{served}/health/ready", timeout=5)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"] == "ok"

    page = httpx.get(f"{served}/graphql", headers={"accept": "text/html"}, timeout=5)
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()

    answer = httpx.post(
        f"{served}/graphql",
        json={"query": "{ apiInfo { region { name } } organisations(first: 10) { edges { node { name } } } }"},
        timeout=10,
    ).json()
    assert "errors" not in answer, answer
    assert answer["data"]["apiInfo"]["region"]["name"] == "Ставропольский край"
    names = [e["node"]["name"] for e in answer["data"]["organisations"]["edges"]]
    assert len(names) == 6
    assert any("поликлиника" in name.lower() for name in names)
