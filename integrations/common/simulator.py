"""What every upstream simulator app shares: its routes and its in-memory state, in one Litestar app
that leaves logging to the host process; tests and the scenario hooks read the state back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from litestar import Litestar

STATE_KEY = "simulator"  # app.state.simulator

S = TypeVar("S")


def simulator_app(
    route_handlers: Sequence[Any], state: object, *, exception_handlers: Mapping[Any, Any] | None = None
) -> Litestar:
    app = Litestar(
        route_handlers=list(route_handlers),
        exception_handlers=dict(exception_handlers or {}),
        logging_config=None,  # the host process owns logging
        openapi_config=None,
        debug=False,
    )
    app.state[STATE_KEY] = state
    return app


def state_of(app: Litestar, kind: type[S]) -> S:
    """The simulator state of ``app``, checked to be a ``kind``."""
    state = app.state.get(STATE_KEY)
    if not isinstance(state, kind):
        raise TypeError(f"the app is not a simulator with a {kind.__name__}")
    return state
