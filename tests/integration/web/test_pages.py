"""The pages the app serves for people (GraphiQL, /console, /kiosk): nothing from another host, every asset
they name is served, and the pages run only operations registered for their client."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from backend.api.graphiql import ASSETS, ASSETS_PATH
from backend.runtime import Runtime
from backend.web.routes import STATIC
from tests.support.client import app_client

pytestmark = pytest.mark.dialect

_EXTERNAL = re.compile(r"https?://(?!127\.0\.0\.1|localhost)")
_ASSET = re.compile(r"""(?:src|href)=["'](/[^"']+)["']""")
# api.run("Operation" …), staff("Operation" …), forCaller("Operation" …), asPatient("Operation" …), api.has(…).
_OPERATION = re.compile(r"""\b(?:run|staff|forCaller|asPatient|has)\(\s*"([A-Z][A-Za-z]+)\"""")
_CLIENTS = {"console.js": "callcentre", "kiosk.js": "kiosk"}


async def _assets_of(client: httpx.AsyncClient, path: str) -> list[str]:
    page = await client.get(path, headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path
    assert not _EXTERNAL.search(page.text), f"{path} names another host"
    return _ASSET.findall(page.text)


async def test_graphiql_loads_only_the_apps_own_assets(runtime: Runtime) -> None:
    async with app_client(runtime) as client:
        assets = await _assets_of(client, "/graphql")
        assert sorted(assets) == sorted(f"{ASSETS_PATH}/{name}" for name in ASSETS)
        for asset in assets:
            served = await client.get(asset)
            assert served.status_code == 200 and len(served.content) > 500, asset


async def test_the_console_and_the_kiosk_are_served_with_their_assets(runtime: Runtime) -> None:
    async with app_client(runtime) as client:
        for page in ("/console", "/kiosk"):
            assets = await _assets_of(client, page)
            assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
            for asset in assets:
                served = await client.get(asset)
                assert served.status_code == 200, asset
                assert not _EXTERNAL.search(served.text), asset
        manifest = (await client.get("/web/kiosk/manifest.json")).json()
        assert manifest["tokenEndpoint"].endswith("/api/v1/oauth/token")
        assert len(manifest["documents"]["IdentifyAtKiosk"]) == 64
        assert (await client.get("/web/mobile/manifest.json")).status_code == 404


def test_the_pages_run_only_their_clients_registered_operations() -> None:
    root = Path(__file__).resolve().parents[3] / "graphql"
    for script, client in _CLIENTS.items():
        source = (STATIC / script).read_text(encoding="utf-8")
        named = set(_OPERATION.findall(source))
        registered = {p.stem for p in (root / client).glob("*.graphql")}
        assert {"MyAppointments", "BookAppointment", "SearchSlots"} <= named, script
        assert named <= registered, f"{script}: not registered for {client}: {sorted(named - registered)}"
