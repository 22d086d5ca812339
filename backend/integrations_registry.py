"""TEMPORARY compatibility for backend/booking (``service.hub``) until it reads ``runtime.adapters.fer``.

The adapters live in :mod:`backend.adapters`; this module imports nothing of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.runtime import Runtime
    from integrations.fer import BookingHub


def booking_hub(runtime: Runtime) -> BookingHub:
    """The regional booking hub of this runtime (``runtime.adapters.fer``)."""
    return runtime.adapters.fer
