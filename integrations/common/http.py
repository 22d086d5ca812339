"""One way to build the HTTP client of an upstream adapter.

An adapter never knows whether it talks to the real system or to its simulator: the base URL decides.
``inprocess://<name>`` routes requests to the simulator's ASGI app inside this process (through
``httpx.ASGITransport``); any ``http(s)://`` URL goes over the network, which is how a served simulator
or the real upstream is reached. Switching is a settings change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

INPROCESS_SCHEME = "inprocess://"

ASGIApp = Callable[..., Any]


def is_inprocess(base_url: str) -> bool:
    return base_url.startswith(INPROCESS_SCHEME)


def build_http_client(
    base_url: str,
    *,
    simulator_app: Callable[[], ASGIApp] | None = None,
    timeout_s: float = 10.0,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    verify: bool | str = True,
) -> httpx.AsyncClient:
    """Return an ``httpx.AsyncClient`` for ``base_url``.

    ``simulator_app`` is a factory of the simulator's ASGI app; it is only called for an
    ``inprocess://`` URL, and is required then.
    """
    timeout = httpx.Timeout(timeout_s)
    if is_inprocess(base_url):
        if simulator_app is None:
            raise ValueError(f"{base_url} names an in-process simulator, but none was given")
        host = base_url[len(INPROCESS_SCHEME) :].strip("/") or "simulator"
        transport = httpx.ASGITransport(app=simulator_app())
        return httpx.AsyncClient(
            transport=transport, base_url=f"http://{host}", timeout=timeout, headers=headers, auth=auth
        )
    return httpx.AsyncClient(base_url=base_url, timeout=timeout, headers=headers, auth=auth, verify=verify)
