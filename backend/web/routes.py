"""The pages and what they need from the server: their files, and each client's manifest.

* ``GET /console``, ``GET /kiosk``: the pages (``static/console.html``, ``static/kiosk.html``);
* ``GET /static/web/<file>``: their CSS and ES modules (the console's panels for other domains under
  ``services/``, the kiosk's extras under ``kiosk/``: each loaded when its document is registered);
* ``GET /web/<client>/manifest.json``: the client's registered documents (operation name → SHA-256 of the file),
  so a page sends ``{"extensions": {"persistedQuery": {"sha256Hash": …}}}`` and never a query text; and the
  token endpoint a kiosk signs its client assertion for (``aud``, RFC 7523).

Nothing here reads the database or calls a service: the pages talk to ``POST /graphql`` and the REST
endpoints like any other client.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from litestar import MediaType, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.static_files import create_static_files_router

from backend.identity.routes import token_endpoint
from backend.settings import Settings

if TYPE_CHECKING:
    from backend.api.trusted import TrustedDocuments

STATIC = Path(__file__).parent / "static"
PAGES = {"console": "console.html", "kiosk": "kiosk.html"}
CLIENTS = {"console": "callcentre", "kiosk": "kiosk"}
#: The pages revalidate every time (a kiosk runs for weeks; a new release must reach it).
NO_STALE = CacheControlHeader(no_cache=True)


def manifest(documents: TrustedDocuments, client: str) -> dict[str, str]:
    """Operation name → document hash for ``client``'s registered documents."""
    return {name: doc.hash for doc in documents.for_client(client) for name in doc.operations if name}


def routes_for(settings: Settings, documents: TrustedDocuments) -> list[Any]:
    pages = {name: (STATIC / file).read_text(encoding="utf-8") for name, file in PAGES.items()}
    manifests = {
        client: {"documents": manifest(documents, client), "tokenEndpoint": token_endpoint(settings)}
        for client in CLIENTS.values()
    }

    @get(["/console", "/kiosk"], include_in_schema=False, sync_to_thread=False, cache_control=NO_STALE)
    def page(request: Any) -> Response[str]:
        return Response(pages[request.url.path.strip("/")], media_type=MediaType.HTML)

    @get("/web/{client:str}/manifest.json", include_in_schema=False, sync_to_thread=False, cache_control=NO_STALE)
    def client_manifest(client: str) -> dict[str, Any]:
        found = manifests.get(client)
        if found is None:
            raise NotFoundException()
        return found

    assets = create_static_files_router(
        path="/static/web", directories=[STATIC], include_in_schema=False, name="web-assets", cache_control=NO_STALE
    )
    return [page, client_manifest, assets]
