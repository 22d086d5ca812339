"""The Celery app and the names of every task: it imports no runtime and no domain.

Domains declare their tasks in ``<domain>/tasks.py`` with :func:`backend.worker.async_task` under a
name from :class:`TaskName`; the worker imports those modules (:data:`TASK_MODULES`) when it starts.
Anything may send a task by name (``celery_app.send_task(TaskName.X, ...)``) without importing it.
"""

from __future__ import annotations

from celery import Celery
from celery.schedules import crontab

from backend.settings import Settings, get_settings


class TaskName:
    """Every Celery task's name (the beat schedule and senders use these)."""

    OUTBOX_DISPATCH = "outbox.dispatch"
    OUTBOX_SWEEP = "outbox.sweep"
    DIRECTORY_SYNC = "directory.sync"
    IDENTITY_PURGE = "identity.purge_expired"
    BOOKING_SYNC_STATUSES = "booking.sync_statuses"
    BOOKING_EXPIRE_HOLDS = "booking.expire_holds"
    HOME_VISITS_SYNC = "home_visits.sync"
    ATTACHMENT_SYNC = "attachment.sync"
    NOTIFICATIONS_DELIVER = "notifications.deliver"
    NOTIFICATIONS_TICK = "notifications.tick"
    NOTIFICATIONS_REMINDERS = "notifications.scan_reminders"
    NOTIFICATIONS_PUSH_FALLBACK = "notifications.scan_push_fallback"
    DOCUMENTS_SYNC = "documents.sync_due"
    VAULT_HOUSEKEEPING = "vault.housekeeping"
    AMBULANCE_SYNC = "ambulance.sync"
    VACCINATION_REMINDERS = "vaccination.reminders"
    VACCINATION_IMPORT = "vaccination.import_register"
    INSURANCE_SYNC = "insurance.sync"
    INSURANCE_REPRESENTATIVE = "insurance.representative"
    DRUGS_SYNC = "drugs.sync"
    DRUGS_REMINDERS = "drugs.expiry_reminders"
    WAITLIST_EXPIRE_OFFERS = "waitlist.expire_offers"
    SCHEDULING_LINKS_REGENERATE = "scheduling_links.regenerate"


# The domains' task modules: the worker imports them (by name) when it starts, so their tasks register.
TASK_MODULES: tuple[str, ...] = (
    "backend.worker",
    "backend.directory.tasks",
    "backend.identity.tasks",
    "backend.booking.tasks",
    "backend.home_visits.tasks",
    "backend.attachment.tasks",
    "notifications.tasks",
    "backend.documents.tasks",
    "backend.vault.tasks",
    "backend.ambulance.tasks",
    "backend.vaccination.tasks",
    "backend.insurance.tasks",
    "backend.drugs.tasks",
    "backend.waitlist.tasks",
    "backend.scheduling_links.tasks",
)

BEAT_SCHEDULE = {
    "outbox-sweep": {"task": TaskName.OUTBOX_SWEEP, "schedule": 15.0},
    "directory-sync": {"task": TaskName.DIRECTORY_SYNC, "schedule": crontab(hour=3, minute=15)},
    "identity-purge": {"task": TaskName.IDENTITY_PURGE, "schedule": 3600.0},
    "booking-sync-statuses": {"task": TaskName.BOOKING_SYNC_STATUSES, "schedule": 300.0},
    "booking-expire-holds": {"task": TaskName.BOOKING_EXPIRE_HOLDS, "schedule": 60.0},
    "home-visits-sync": {"task": TaskName.HOME_VISITS_SYNC, "schedule": 120.0},
    "attachment-sync": {"task": TaskName.ATTACHMENT_SYNC, "schedule": 600.0},
    "notifications-tick": {"task": TaskName.NOTIFICATIONS_TICK, "schedule": 15.0},
    "notifications-reminders": {"task": TaskName.NOTIFICATIONS_REMINDERS, "schedule": 60.0},
    "notifications-push-fallback": {"task": TaskName.NOTIFICATIONS_PUSH_FALLBACK, "schedule": 60.0},
    "documents-sync": {"task": TaskName.DOCUMENTS_SYNC, "schedule": 300.0},
    "vault-housekeeping": {"task": TaskName.VAULT_HOUSEKEEPING, "schedule": 900.0},
    "ambulance-sync": {"task": TaskName.AMBULANCE_SYNC, "schedule": 60.0},
    # 07:00 UTC is 10:00 in Moscow: reminders go out by day (SMS also wait out quiet hours).
    "vaccination-reminders": {"task": TaskName.VACCINATION_REMINDERS, "schedule": crontab(hour=7, minute=0)},
    "insurance-sync": {"task": TaskName.INSURANCE_SYNC, "schedule": 900.0},
    "insurance-representative": {"task": TaskName.INSURANCE_REPRESENTATIVE, "schedule": 3600.0},
    "drugs-sync": {"task": TaskName.DRUGS_SYNC, "schedule": 60.0},
    "drugs-expiry-reminders": {"task": TaskName.DRUGS_REMINDERS, "schedule": 3600.0},
    "waitlist-expire-offers": {"task": TaskName.WAITLIST_EXPIRE_OFFERS, "schedule": 30.0},
    "scheduling-links-regenerate": {"task": TaskName.SCHEDULING_LINKS_REGENERATE, "schedule": 300.0},
}


def configure_celery(app: Celery, settings: Settings) -> None:
    app.conf.update(
        broker_url=settings.celery_broker_url,
        task_always_eager=bool(settings.celery_eager),
    )


#: Everything that does not come from the settings.
STATIC_CONFIG = {
    "task_acks_late": True,  # a worker killed mid-task leaves the message to another worker
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
    "task_ignore_result": True,
    "broker_connection_retry_on_startup": True,
    "broker_transport_options": {"visibility_timeout": 600},
    "timezone": "UTC",
    "beat_schedule": BEAT_SCHEDULE,
}


class _App(Celery):
    def on_configure(self) -> None:
        """Read the settings when the configuration is first used, not at import (so a command that
        fails on its settings fails with its one line, and importing a task module reads nothing)."""
        configure_celery(self, get_settings())


def make_celery() -> Celery:
    return _App("moe_zdorovye", include=list(TASK_MODULES), config_source=STATIC_CONFIG)


celery_app = make_celery()


def send_outbox_task(message_id: str) -> None:
    """Hand one outbox id to a worker (the Celery relay's ``send``)."""
    celery_app.send_task(TaskName.OUTBOX_DISPATCH, args=[message_id])
