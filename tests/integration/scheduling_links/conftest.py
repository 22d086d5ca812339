"""SMART Scheduling Links tests: ``env`` is booking's small region on the hub simulator."""

from __future__ import annotations

from tests.support.booking import env

__all__ = ["env"]
