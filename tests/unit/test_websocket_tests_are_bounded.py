"""No test opens a websocket through the bare Litestar TestClient: its ``receive_json()`` waits forever by
default and its shutdown waits for every app task, so one stuck task hangs the whole suite until
pytest-timeout (300 s). Tests use ``served``/``websocket`` of tests/support/client.py, which bound both and
fail with a message, or the in-loop ``asgi_websocket``."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
HELPERS = TESTS / "support" / "client.py"


def test_websockets_are_opened_only_through_the_bounded_helpers() -> None:
    offenders = [
        str(path.relative_to(TESTS))
        for path in sorted(TESTS.rglob("*.py"))
        if path != HELPERS and path != Path(__file__).resolve() and ".websocket_connect(" in path.read_text()
    ]
    assert offenders == [], f"use tests.support.client.served/websocket instead: {offenders}"
