"""Upstream adapters, built once per :class:`~backend.runtime.Runtime` and kept in ``runtime.services``.

Domains ask for an adapter here and depend only on its Protocol. The base URL in the settings decides
whether the adapter talks to the real system or to the in-process simulator over the demo region.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from integrations.common.http import ASGIApp, build_http_client
from integrations.fer import BookingHub, FerClient

if TYPE_CHECKING:
    from backend.runtime import Runtime
    from backend.settings import Settings

FER = "fer"
# The httpx client under the FerClient, kept as a service of its own so that Runtime.close() closes it.
_FER_HTTP = "fer.http"


def demo_fer_simulator(settings: Settings) -> ASGIApp:
    """The in-process hub over the demo region; it accepts only the configured client guid."""
    from integrations.demo_region import RegionScale, get_region
    from integrations.fer.simulator import create_fer_simulator

    region = get_region(settings.demo_seed, RegionScale(settings.demo_scale))
    return create_fer_simulator(region, guid=settings.fer_guid)


def build_booking_hub(
    settings: Settings, *, simulator_app: Callable[[], ASGIApp] | None = None
) -> tuple[FerClient, httpx.AsyncClient]:
    """A FerClient for ``settings.fer_url`` and the httpx client it owns (the caller closes that).

    ``simulator_app`` replaces the demo simulator for an ``inprocess://`` URL (tests pass one with
    faults or a changed region).
    """
    http = build_http_client(
        settings.fer_url,
        simulator_app=simulator_app or (lambda: demo_fer_simulator(settings)),
        timeout_s=settings.upstream_timeout_s,
    )
    return FerClient(http, guid=settings.fer_guid, timeout_s=settings.upstream_timeout_s), http


def booking_hub(runtime: Runtime) -> BookingHub:
    """The regional booking hub (FER / N3 HubService) of this runtime."""
    hub: BookingHub | None = runtime.services.get(FER)
    if hub is None:
        hub, http = build_booking_hub(runtime.settings)
        runtime.services[FER] = hub
        runtime.services[_FER_HTTP] = http
    return hub


def set_booking_hub(runtime: Runtime, hub: BookingHub, *, http: httpx.AsyncClient | None = None) -> None:
    """Use ``hub`` from now on (tests: a simulator with faults or another region).

    ``http``, when given, is closed with the runtime. A client built earlier stays registered until
    the runtime closes, so nothing leaks.
    """
    runtime.services[FER] = hub
    if http is not None:
        runtime.services[f"{_FER_HTTP}.{id(http)}"] = http
