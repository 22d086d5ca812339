"""The waitlist (лист ожидания) with offers of freed slots.

Joining
-------
A patient (or a 122 operator for a caller, or a proxy) joins the line for a specialty at a clinic, for one
doctor or any, over a date range, when nothing suits (the hub's ``ClaimToWaitingListType``: no tickets, no
convenient time, no specialist). "No tickets" is checked: if the range has a free slot, the join is refused
(:class:`~backend.waitlist.problems.SlotsAvailable`) and the person books it instead. The claim goes to the
hub (``SetWaitingList`` → ``GuidClaim``, kept on the entry) so the clinic's registry sees it too.

Fairness (the rules, tested in ``tests/integration/waitlist/test_fairness.py``)
-------------------------------------------------------------------------------
1. **First come, first served within a priority.** The line of a freed slot is every active entry of its
   clinic and specialty whose doctor is that slot's doctor or "any", and whose date range holds the slot's
   day, ordered by ``priority`` (higher first), then by ``seq``: the order in which people joined, a number
   the database hands out once (unique), never the clock.
2. **Two priorities only**: regular, and out of turn (право на внеочередное оказание медицинской помощи,
   e.g. 5-ФЗ «О ветеранах»). A patient cannot give it to themselves: only a 122 operator marks it, having
   checked the right as the registry would.
3. **One offer at a time per slot and per entry**, and **never two offers of one slot to one entry**
   (database indexes, :mod:`backend.waitlist.models`). A person whose offer expired or who declined keeps
   their place for the next slot.
4. **An offer is a hold** of the slot (booking's hold, :data:`OFFER_TTL`): nobody else can book it
   meanwhile. The person accepts (the hold is confirmed at the hub: the appointment) or declines; when the
   time passes the offer expires. A declined or expired offer's hold becomes booking's bridge hold and the
   slot goes to the next in line, in the same order (the next offer takes the bridge over; nobody in line
   who can take it: the bridge is let go). The hold outlives the offer by :data:`HOLD_GRACE`, so the
   expiry sweep passes the slot on before anyone outside the line can take it; a freed slot is kept the
   same way from the moment it is freed (booking's ``keeps_slot`` hook) until the first offer.
5. **Someone who cannot take the slot is passed over, not dropped**: another live appointment of the
   specialty, an age or sex rule of the doctor. The offer is recorded as ``passed`` with the reason, so
   the same slot is never tried on them again; they stay in line.
6. **Too late to offer**: a slot starting within :data:`OFFER_TTL` of now is not offered (nobody could
   answer in time); it stays free for ordinary booking.

Concurrency: accepting is a conditional update of the offer (``status = 'offered' AND expires_at > now``):
of concurrent acceptances (one person's retries, a late click after expiry) one wins, the others get a
typed problem; expiring is the same update with ``expires_at <= now``, so an offer is either accepted or
expired, never both. The appointment itself is claimed by booking (its unique indexes): exactly one.

What frees a slot: booking's hook (:func:`backend.booking.service.on_slot_freed`) after a cancellation or
a reschedule reached the hub, or after the hub's history showed the clinic's cancellation; the next offer
after a decline or an expiry goes through the outbox (:data:`TOPIC_OFFER_NEXT`), by the slot's ids.
"""

from backend.waitlist.service.base import (
    CANDIDATES,
    HOLD_GRACE,
    MAX_RANGE_DAYS,
    OFFER_EVENT,
    OFFER_TTL,
    TOPIC_OFFER_NEXT,
    TOPIC_PUBLISH,
)
from backend.waitlist.service.joining import JoinRequest, join, leave
from backend.waitlist.service.offers import (
    accept,
    bus,
    decline,
    expire_offers,
    offer_next,
    on_offer_next,
    on_publish,
    on_slot_freed,
)
from backend.waitlist.service.reads import EntryView, UnmetDemand, entries_of, unmet_demand_since

__all__ = [
    "CANDIDATES",
    "HOLD_GRACE",
    "MAX_RANGE_DAYS",
    "OFFER_EVENT",
    "OFFER_TTL",
    "TOPIC_OFFER_NEXT",
    "TOPIC_PUBLISH",
    "EntryView",
    "JoinRequest",
    "UnmetDemand",
    "accept",
    "bus",
    "decline",
    "entries_of",
    "expire_offers",
    "join",
    "leave",
    "offer_next",
    "on_offer_next",
    "on_publish",
    "on_slot_freed",
    "unmet_demand_since",
]
