"""Building the nsi client for a URL: ``inprocess://nsi`` routes to the simulator, anything else to the network."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from integrations.common.http import ASGIApp, build_http_client
from integrations.nsi.client import NsiClient
from integrations.nsi.simulator import create_nsi_simulator


def build_nsi_client(
    base_url: str,
    *,
    user_key: str,
    timeout_s: float,
    simulator_app: Callable[[], ASGIApp] | None = None,
) -> tuple[NsiClient, httpx.AsyncClient]:
    """An :class:`NsiClient` for ``base_url`` and the httpx client it owns (the caller closes that).

    ``inprocess://nsi`` routes to ``simulator_app`` or, by default, to the ФНСИ simulator over the shipped
    snapshot, accepting ``user_key``.
    """

    def demo() -> ASGIApp:
        return create_nsi_simulator(user_key=user_key)

    http = build_http_client(base_url, simulator_app=simulator_app or demo, timeout_s=timeout_s)
    return NsiClient(http, user_key=user_key, timeout_s=timeout_s), http
