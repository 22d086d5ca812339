"""Booking tests: ``env`` is a small region on the hub simulator with the directory synced from it
(built by ``tests.support.booking.start_env``, which other domains' tests use too)."""

from __future__ import annotations

from tests.support.booking import env

__all__ = ["env"]
