"""The waitlist's constants."""

from __future__ import annotations

from datetime import timedelta

#: How long an offered slot is held for the person before it passes to the next in line.
OFFER_TTL = timedelta(minutes=15)
#: The offer's hold outlives the offer by this much, so that the slot is still kept when the expiry sweep
#: (every 30 s) closes the offer and passes the slot on: nobody outside the line takes it in between.
HOLD_GRACE = timedelta(minutes=2)
#: The longest date range one may wait for.
MAX_RANGE_DAYS = 60
#: How many of the line are tried for one freed slot in one go (the rest wait for the next pass).
CANDIDATES = 50

TOPIC_OFFER_NEXT = "waitlist.offer_next"
TOPIC_PUBLISH = "waitlist.publish"
OFFER_EVENT = "waitlist.offer"
