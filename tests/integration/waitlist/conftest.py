"""Waitlist tests: ``env`` is booking's small region on the hub simulator (``tests.support.booking``)."""

from __future__ import annotations

from tests.support.booking import env

__all__ = ["env"]
