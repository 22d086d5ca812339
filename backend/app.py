"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
from collections.abc import AsyncIterator, Sequence
from types import ModuleType
from typing import Any

import structlog
from litestar import Litestar, Request, Router
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.plugins.prometheus import PrometheusConfig
from litestar.types import Scope
from strawberry.litestar import make_graphql_controller
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from backend.ambulance import service as ambulance
from backend.api.boundary import EXCEPTION_HANDLERS
from backend.api.context import GraphQLContext
from backend.api.graphiql import GRAPHIQL_HTML
from backend.api.graphiql import assets_router as graphiql_assets
from backend.api.live import SharedSubscriptions
from backend.api.pages import (
    contract_route,
    document_refusals,
    landing_route,
    metrics_controller,
    openapi_config,
)
from backend.api.schema import build_schema
from backend.api.transport import thin_controller
from backend.attachment import service as attachment
from backend.core import aio
from backend.dev.routes import routes_for as dev_routes_for
from backend.documents import service as documents
from backend.drugs import service as drugs
from backend.health.routes import live, ready
from backend.home_visits import service as home_visits
from backend.identity import live_sessions
from backend.identity.authn import graphql_context, with_websocket_auth
from backend.identity.routes import jwks
from backend.logging import configure_logging
from backend.middleware import RequestIdMiddleware
from backend.outbox import service as outbox
from backend.runtime import Runtime
from backend.settings import Settings, get_settings
from backend.system.schema import _version
from backend.vault import service as vault
from backend.web.routes import routes_for as web_routes
from notifications import delivery, reminders

log = structlog.get_logger(__name__)

API_V1 = "/api/v1"
SWEEP_INTERVAL_S = 15.0
#: A client needs a few live feeds (the inbox, a heartbeat); more on one socket is refused with an error.
MAX_SUBSCRIPTIONS_PER_CONNECTION = 10

# REST routers of the domains, mounted under /api/v1 (OAuth redirects, file transfer, webhooks).
REST_MODULES: tuple[str, ...] = (
    "backend.identity.routes",
    "backend.booking.routes",
    "notifications.routes",
    "backend.documents.routes",
    "backend.home_visits.routes",
    "backend.vault.routes",
    "backend.ambulance.routes",
    "backend.vaccination.routes",
    "backend.insurance.routes",
    "backend.drugs.routes",
    "backend.surveys.routes",
    "backend.scheduling_links.routes",
)


def _context_getter() -> Any:
    async def get_context(scope: Scope, state: State) -> GraphQLContext:
        # A bad token: HTTP answers 401 INVALID_TOKEN; a websocket is refused at connection_init.
        return await graphql_context(scope, state.runtime)

    return get_context


async def _periodic_jobs(runtime: Runtime) -> None:
    """The embedded profile's stand-in for Celery beat (production runs these from beat on workers):
    re-relay missed outbox rows, notification retries and morning sends, reminders, push→SMS fallback, the
    documents sync (each patient at most every ``SYNC_INTERVAL``), home visits and attachment applications in
    step with their upstreams, the vault's housekeeping (shares expiring, the bin emptied), the ЛЛО event feed,
    the clinic's answers to requests without a visit and the prescriptions' expiry reminders."""
    jobs = (
        outbox.sweep,
        delivery.tick,
        reminders.scan_reminders,
        delivery.scan_push_fallback,
        documents.sync_due,
        home_visits.sync,
        attachment.sync,
        vault.housekeeping,
        ambulance.sync,
        drugs.sync_events,
        drugs.sync_requests,
        drugs.remind_expiring,
    )
    while not aio.cancel_requested():  # a cancellation a library swallowed still ends it (backend/core/aio.py)
        await asyncio.sleep(SWEEP_INTERVAL_S)
        for job in jobs:
            try:
                await job(runtime)
            except Exception:
                log.exception("periodic_job_failed", job=job.__qualname__)


# Young collections every 50,000 net new container objects instead of 700, a full one considered after 10
# middle ones instead of 10 × 10 young: a burst of 10,000 subscription deliveries no longer promotes its
# in-flight objects into a full collection that walks every open connection (bench P4; bench/README.md).
GC_THRESHOLDS = (50_000, 20, 10)


def create_served_app() -> Litestar:
    """The app of a server worker (``moe-zdorovye serve``): :func:`create_app` whose startup, once the
    runtime is built, moves every object alive then (modules, the schema, the runtime) out of the cyclic
    garbage collector's sight (``gc.freeze``), so a full collection walks only what requests and
    connections allocate, and sets :data:`GC_THRESHOLDS`. Not for tests, which build many apps in one
    process."""
    app = create_app()
    app.on_startup.append(tune_gc)
    return app


def tune_gc() -> None:
    """What a server worker does once its long-lived objects exist (also called by bench.booking's workers):
    collect, freeze the survivors out of the collector's sight, and set :data:`GC_THRESHOLDS`."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class LiveHandler(SharedSubscriptions, live_sessions.SessionBoundTransportWSHandler):
    """The websocket handler: shared subscriptions served once per event, every socket bound to its session."""


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    extra_schema_modules: Sequence[ModuleType] = (),
) -> Litestar:
    settings = settings or (runtime.settings if runtime else get_settings())
    configure_logging(settings.log_level, json=settings.log_json)
    schema = build_schema(settings, extra_schema_modules)
    owns_runtime = runtime is None

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        rt = runtime or Runtime.build(settings)
        app.state.runtime = rt
        sweeper = asyncio.create_task(_periodic_jobs(rt)) if settings.celery_eager else None
        try:
            yield
        finally:
            await aio.cancel_and_wait(sweeper)
            if owns_runtime:
                await rt.close()

    graphql = make_graphql_controller(
        schema,
        path="/graphql",
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=False,
        context_getter=_context_getter(),
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_CONNECTION,
    )

    async def http_context(request: Request[Any, Any, Any]) -> GraphQLContext:
        return await graphql_context(request.scope, request.app.state.runtime)

    # Strawberry's controller (GraphiQL, websockets, and every request that is not a registered document)
    # with the thin POST path for registered documents (backend/api/transport.py).
    # GraphiQL's page loads its assets from an installed package, not a CDN (backend/api/graphiql.py).
    # Websockets: the session-bound graphql-transport-ws handler, serving registered documents of shared
    # subscriptions once per event (backend/api/live.py).
    authenticated = with_websocket_auth(graphql, LiveHandler)
    GraphQLController = thin_controller(authenticated, schema, http_context, ide_html=GRAPHIQL_HTML)
    rest = [route for name in REST_MODULES for route in importlib.import_module(name).ROUTES]
    # HTTP only: a websocket is no request (its "duration" is the connection's life, and it would share the
    # /graphql labels with POST), and each of its messages would pass one more send wrapper.
    prometheus = PrometheusConfig(
        app_name="moe_zdorovye",
        prefix="moe_zdorovye",
        exclude=["/metrics", "/health"],
        scopes={ScopeType.HTTP},
    )
    app = Litestar(
        route_handlers=[
            live,
            ready,
            jwks,
            metrics_controller(settings),
            landing_route(settings),
            contract_route(schema, settings),
            GraphQLController,
            graphiql_assets(),
            *web_routes(settings, schema.trusted_documents),
            Router(path=API_V1, route_handlers=rest),
            *dev_routes_for(settings),
        ],
        middleware=[RequestIdMiddleware, prometheus.middleware],
        exception_handlers=EXCEPTION_HANDLERS,  # one Russian error body with the request id (backend/api/boundary.py)
        lifespan=[lifespan],
        request_max_body_size=settings.max_request_body_bytes,
        openapi_config=openapi_config(
            settings,
            title="«Мое здоровье»: REST API",
            version=_version(),
            description="REST endpoints for what GraphQL does not fit (OAuth redirects, files, webhooks).",
        ),
        state=State({"runtime": runtime} if runtime is not None else {}),
        debug=False,
        logging_config=None,  # structlog owns logging (configure_logging)
    )
    document_refusals(app.openapi_schema)  # the refusals every REST operation may answer (backend/api/pages.py)
    return app
