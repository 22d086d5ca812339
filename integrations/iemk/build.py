"""Building the iemk client for a URL: ``inprocess://iemk`` routes to the simulator, anything else to the network."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from integrations.common.http import ASGIApp, build_http_client
from integrations.demo_region import RegionScale, get_region
from integrations.iemk.client import IemkClient
from integrations.iemk.simulator import create_iemk_simulator


def build_iemk_client(
    base_url: str,
    *,
    timeout_s: float,
    api_key: str | None = None,
    simulator_app: Callable[[], ASGIApp] | None = None,
    demo_seed: int = 26,
    demo_scale: str = "small",
) -> tuple[IemkClient, httpx.AsyncClient]:
    """An :class:`IemkClient` for ``base_url`` and the httpx client it owns (the caller closes that).

    ``inprocess://iemk`` routes to ``simulator_app`` or, by default, to the register simulator over the
    demo region of (``demo_seed``, ``demo_scale``), accepting ``api_key``.
    """

    def demo() -> ASGIApp:
        return create_iemk_simulator(get_region(demo_seed, RegionScale(demo_scale)), api_key=api_key)

    http = build_http_client(base_url, simulator_app=simulator_app or demo, timeout_s=timeout_s)
    return IemkClient(http, timeout_s=timeout_s, api_key=api_key), http
