"""The catalogue of notification events and their Russian texts (Jinja2 files in ``templates/``).

Each event has one template that extends ``base.j2`` and fills the blocks ``title`` and ``text`` (and
may override ``email_body``). Data is the JSON the producing domain passed to ``notify``; dates and
times in it are ISO 8601 strings and are shown in the region's local time (filters ``dt``, ``date``,
``time``). A template that needs a key the data lacks fails at ``notify`` time, in the producer's
transaction, not later in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2


@dataclass(frozen=True)
class EventSpec:
    name: str
    urgent: bool = False  # urgent events ignore quiet hours and go by SMS at once as well as by push
    expires_key: str | None = None  # a data key (ISO time) after which sending is pointless
    # data keys that hold a secret (a link carrying a one-time token): blanked in the outbox payload once
    # the notification is planned, and never stored with the messages (their rendered text carries it)
    secret_keys: tuple[str, ...] = ()


EVENTS: dict[str, EventSpec] = {
    spec.name: spec
    for spec in (
        EventSpec("appointment.booked"),
        EventSpec("appointment.cancelled"),
        EventSpec("appointment.moved"),
        EventSpec("appointment.rescheduled"),
        EventSpec("appointment.reminder_24h", expires_key="starts_at"),
        EventSpec("appointment.reminder_2h", expires_key="starts_at"),
        EventSpec("appointment.hold_expiring", expires_key="expires_at"),
        EventSpec("appointment.no_show_contest_decided"),
        EventSpec("home_visit.scheduled"),
        EventSpec("home_visit.cancelled"),
        EventSpec("home_visit.status_changed"),
        EventSpec("attachment.status_changed"),
        EventSpec("ambulance.dispatched", urgent=True),
        EventSpec("ambulance.arrived", urgent=True),
        EventSpec("document.ready"),
        EventSpec("vaccination.due"),
        EventSpec("policy.updated"),
        EventSpec("prescription.ready"),
        EventSpec("prescription.expiring"),
        EventSpec("prescription.drug_arrived"),
        EventSpec("drug_request.status_changed"),
        EventSpec("vault.share_opened"),
        EventSpec("vault.share_expiring", expires_key="expires_at"),
        EventSpec("insurance.ticket_changed"),
        EventSpec("insurance.change_status_changed"),
        EventSpec("insurance.representative"),
        EventSpec("waitlist.offer", urgent=True, expires_key="expires_at"),
        EventSpec("survey.invitation", expires_key="answer_until", secret_keys=("link",)),
    )
}

TEMPLATES_DIR = Path(__file__).parent / "templates"


class UnknownEvent(ValueError):
    pass


@dataclass(frozen=True)
class Rendered:
    title: str
    text: str
    email_body: str


def _parse(value: Any) -> datetime | date:
    if isinstance(value, datetime | date):
        return value
    text = str(value)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return date.fromisoformat(text)


@lru_cache(maxsize=8)
def _environment(timezone: str) -> jinja2.Environment:
    tz = ZoneInfo(timezone)

    def local(value: Any) -> datetime | date:
        parsed = _parse(value)
        if isinstance(parsed, datetime):
            if parsed.tzinfo is None:
                raise ValueError(f"naive datetime in notification data: {value!r}")
            return parsed.astimezone(tz)
        return parsed

    def fmt_dt(value: Any) -> str:
        parsed = local(value)
        if isinstance(parsed, datetime):
            return f"{parsed:%d.%m} в {parsed:%H:%M}"
        return f"{parsed:%d.%m.%Y}"

    def fmt_date(value: Any) -> str:
        return f"{local(value):%d.%m.%Y}"

    def fmt_time(value: Any) -> str:
        parsed = local(value)
        if not isinstance(parsed, datetime):
            raise ValueError(f"a time is needed, got a date: {value!r}")
        return f"{parsed:%H:%M}"

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - plain text for SMS/push/e-mail, never HTML
        keep_trailing_newline=False,
        auto_reload=False,  # package files: no stat() of the template on every render
    )
    env.filters.update({"dt": fmt_dt, "date": fmt_date, "time": fmt_time})
    return env


def spec_of(event: str) -> EventSpec:
    spec = EVENTS.get(event)
    if spec is None:
        raise UnknownEvent(f"unknown notification event {event!r}; known: {', '.join(sorted(EVENTS))}")
    return spec


def render(event: str, data: dict[str, Any], *, timezone: str) -> Rendered:
    """The texts of ``event`` for ``data``; raises ``UnknownEvent`` or ``ValueError`` on bad input."""
    spec_of(event)
    template = _environment(timezone).get_template(f"{event}.j2")
    # Empty values count as absent, so optional parts ({% if x is defined %}) drop out cleanly.
    present = {key: value for key, value in data.items() if value is not None and value != ""}
    try:
        parts = {part: template.render({**present, "part": part}).strip() for part in ("title", "text", "email_body")}
    except jinja2.UndefinedError as exc:
        raise ValueError(f"notification {event!r}: {exc.message}") from None
    if not parts["text"]:
        raise ValueError(f"notification {event!r} renders an empty text")
    return Rendered(title=parts["title"], text=parts["text"], email_body=parts["email_body"])
