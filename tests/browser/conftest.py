"""Browser tests: the pages of /console, /kiosk and /graphql in headless Chromium, driven by Playwright.

The app runs once for this package (stopped after it) as a new user runs it: ``make run``'s migration and
``seed-demo`` of the embedded profile on a fresh var directory (in this process, which has imported everything
already), then ``moe-zdorovye serve`` in a subprocess, and one Chromium serves every test (each test
gets its own context). The browser is Debian's ``chromium`` (``/usr/bin/chromium``, installed by
``scripts/ensure-services.sh``, which ``make test`` runs); Playwright downloads no browser.

Every page state a test visits is audited for accessibility by axe-core (``audit``: the engine bundled in the
``axe-playwright-python`` package and injected into the page, so nothing is fetched): a serious or critical
violation (a missing label, too little contrast, a broken ARIA reference…) fails the test.

Screenshots are written to ``var/screenshots/`` (``MZ_SCREENSHOTS_DIR``); the README shows the copies kept in
``docs/screenshots/``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright

from backend.demo.seed import seed_demo_region
from backend.settings import Settings
from tests.conftest import run_alembic

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("MZ_CHROMIUM", "/usr/bin/chromium")
T = TypeVar("T")
SCREENSHOTS = Path(os.environ.get("MZ_SCREENSHOTS_DIR", ROOT / "var" / "screenshots"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _in_thread(fn: Callable[[], T]) -> T:
    """``fn`` on a thread of its own (Alembic's env.py and the seeding run event loops of their own)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


@dataclass(frozen=True)
class Demo:
    """The served app and what ``seed-demo`` printed for a newcomer."""

    base: str
    seed: dict[str, Any]

    @property
    def identity(self) -> dict[str, Any]:
        return dict(self.seed["identity"])

    def sms_code_for(self, phone: str) -> str:
        """The last one-time code "sent" to ``phone`` (GET /dev/sms, newest first)."""
        messages = httpx.get(f"{self.base}/dev/sms", timeout=10).json()["messages"]
        text = next(m["text"] for m in messages if m["to"] == phone and m["source"] == "коды подтверждения")
        return "".join(ch for ch in text.split(":")[0] if ch.isdigit())


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-services.sh (make test does) to install chromium")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MZ_") and k not in ("DATABASE_URL", "REDIS_URL")}
    port = _free_port()
    env.update(
        {
            "MZ_PROFILE": "embedded",
            "MZ_VAR_DIR": str(tmp_path_factory.mktemp("browser") / "var"),
            "MZ_LOG_JSON": "false",
            "MZ_PORT": str(port),
            "MZ_KIOSK_IDLE_TIMEOUT_S": "60",
        }
    )
    # `make run`'s migrate and seed-demo, here in this process (its imports are done): the same settings the
    # served app reads from ``env``.
    settings = Settings(_env_file=None, profile="embedded", var_dir=env["MZ_VAR_DIR"], port=port, log_json=False)
    _in_thread(lambda: run_alembic(settings.database_url, "upgrade", "head"))
    printed = _in_thread(
        lambda: asyncio.run(seed_demo_region(settings, scale=settings.demo_scale, seed=settings.demo_seed))
    )
    env["MZ_DATABASE_URL"] = settings.database_url  # the very database just seeded
    # The server's log goes to a file (a pipe nobody reads would fill and stall the server), kept beside the
    # screenshots: a masked INTERNAL_ERROR on a page is found there by its request id.
    log_path = SCREENSHOTS.parent / f"browser-server{os.environ.get('PYTEST_XDIST_WORKER', '')}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("w", encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-m", "backend", "serve"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            try:
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            assert server.poll() is None, log_path.read_text(encoding="utf-8")
        yield Demo(base=base, seed=printed)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def keep_screenshot(screenshots: Path, name: str, data: bytes) -> Path:
    """Write a screenshot artifact; ``name`` without the extension."""
    path = screenshots / f"{name}.png"
    path.write_bytes(data)
    return path


AXE = Axe()
#: The impacts that fail a test (axe-core's "minor" and "moderate" are reported by it, not failed).
FAILING_IMPACTS = frozenset({"serious", "critical"})


async def audit(page: Page, state: str) -> list[str]:
    """axe-core's WCAG 2.x A/AA rules over the page as it is now (``state`` names it in the failure); fails on
    a serious or critical violation; answers the ids of the lesser ones."""
    results = await AXE.run(
        page,
        options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}},
    )
    violations = results.response["violations"]
    failing = [v for v in violations if v.get("impact") in FAILING_IMPACTS]
    assert not failing, f"accessibility ({state}):\n" + "\n".join(
        f"{v['id']} [{v['impact']}] {v['help']}: {[n['target'] for n in v['nodes']][:5]}" for v in failing
    )
    return [v["id"] for v in violations]
