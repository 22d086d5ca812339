"""The one clock of a runtime: aware UTC ``datetime`` from a callable that tests replace.

``runtime.adapters.clock`` is the clock every domain reads (booking, identity, notifications); a test
freezes time for all of them in one line: ``rt.adapters.clock = lambda: moment``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from backend.core.db import utcnow

Clock = Callable[[], datetime]

#: The wall clock (aware UTC).
wall_clock: Clock = utcnow
