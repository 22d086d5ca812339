"""The composition root's wiring, run by :meth:`backend.runtime.Runtime.build`: the outbox handlers of
the domains, registered explicitly, and the hooks one part of the house gives another (injection instead
of imports that would make a cycle).

A new domain with outbox topics adds its handlers to :data:`OUTBOX_HANDLERS`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from backend.ambulance import service as ambulance
from backend.booking import service as booking
from backend.documents import service as documents
from backend.home_visits import service as home_visits
from backend.identity import service as identity
from backend.insurance.service import policy as insurance_policy
from backend.outbox import service as outbox
from backend.scheduling_links import service as scheduling_links
from backend.surveys import service as surveys
from backend.vault.register import RegisterDocumentRef
from backend.waitlist import service as waitlist
from notifications import routes as notification_routes
from notifications import service as notifications

if TYPE_CHECKING:
    from backend.runtime import Runtime


async def on_patient_login(envelope: outbox.Envelope, runtime: Runtime) -> None:
    """A login fans out: the documents' sync, then the policy refresh (each idempotent: a retry redoes both)."""
    await documents.on_login(envelope, runtime)
    await insurance_policy.on_login(envelope, runtime)


#: topic → handler: every outbox topic of every domain, registered here and nowhere else.
OUTBOX_HANDLERS: Mapping[str, outbox.Handler] = {
    notifications.TOPIC: notifications.on_requested,
    identity.SMS_TOPIC: identity.send_sms_code,
    booking.TOPIC_CANCEL_UPSTREAM: booking.on_cancel_upstream,
    booking.TOPIC_COMPENSATE: booking.on_compensate,
    identity.LOGIN_TOPIC: on_patient_login,
    home_visits.TOPIC_CHANGED: home_visits.on_changed,
    ambulance.TOPIC_LIVE: ambulance.on_live,
    ambulance.TOPIC_RECOVER: ambulance.on_recover,
    ambulance.TOPIC_LOCATION: ambulance.on_location,
    ambulance.TOPIC_PROFILE: ambulance.on_profile,
    waitlist.TOPIC_OFFER_NEXT: waitlist.on_offer_next,
    waitlist.TOPIC_PUBLISH: waitlist.on_publish,
}


#: topic → payload keys blanked once sent: the one-time code's text (the codes table keeps only a hash).
OUTBOX_SECRETS: Mapping[str, tuple[str, ...]] = {
    identity.SMS_TOPIC: ("text", "sealed"),
}
#: topic → a redactor of payloads whose secrets depend on the payload: a notification's data keys its event
#: names secret (the survey's link with its one-time token).
OUTBOX_REDACTORS: Mapping[str, outbox.Redactor] = {
    notifications.TOPIC: notifications.redact,
}


class RegisterDocumentsOfDocuments:
    """The register's documents (the documents domain's copy) as the vault lists them: references, never copies."""

    #: The vault lists at most this many of the newest (the documents list itself is paged).
    LIMIT = 100

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def list_for(self, patient_id: uuid.UUID) -> list[RegisterDocumentRef]:
        rows = await documents.list_documents(self._runtime, patient_id, first=self.LIMIT)
        return [
            RegisterDocumentRef(
                id=str(row.id),
                title=row.title,
                document_date=row.created_at.date(),
                clinic=row.org_name,
                kind=f"Документ из ЕГИСЗ (СЭМД {row.kind})",
            )
            for row in rows[: self.LIMIT]
        ]


def register_outbox_handlers() -> None:
    for topic, fn in OUTBOX_HANDLERS.items():
        outbox.register(topic, fn)
    for topic, keys in OUTBOX_SECRETS.items():
        outbox.keep_secret(topic, *keys)
    for topic, redactor in OUTBOX_REDACTORS.items():
        outbox.keep_secret_with(topic, redactor)


def wire(runtime: Runtime) -> None:
    """Register the outbox handlers and plug the runtime's hooks."""
    register_outbox_handlers()
    runtime.adapters.sms_status_callback = partial(notification_routes.handle_twilio_callback, runtime)
    runtime.adapters.homecall_push = partial(home_visits.handle_push, runtime)
    runtime.adapters.vault_register = RegisterDocumentsOfDocuments(runtime)
    runtime.adapters.smp_push = partial(ambulance.handle_push, runtime)
    booking.on_slot_freed("waitlist", waitlist.on_slot_freed, keeps_slot=True)
    booking.on_visited("surveys", surveys.on_visited)
    booking.on_slot_freed("scheduling_links", scheduling_links.on_slot_freed)
