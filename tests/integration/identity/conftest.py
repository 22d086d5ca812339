"""Identity tests: ``env`` (the booking region, for the on-behalf and sensitive-action tests) comes from
``tests.support.booking``; proxies, operators and kiosks set their own clocks in their modules."""

from __future__ import annotations

from tests.support.booking import env

__all__ = ["env"]
