"""Booking: search, holds, appointments over the regional hub; one ledger for every channel."""

from backend.booking import reminders as _reminders  # noqa: F401 - registers booking's reminder sources
