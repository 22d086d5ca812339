"""Who is acting, for whom, through which channel: carried by every request and every action."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field


class Channel(enum.StrEnum):
    MOBILE = "mobile"
    EPGU = "epgu"
    CALLCENTRE = "callcentre"
    KIOSK = "kiosk"
    SYSTEM = "system"  # periodic jobs, upstream callbacks


class ActorKind(enum.StrEnum):
    PATIENT = "patient"
    OPERATOR = "operator"  # a 122 call-centre operator
    KIOSK = "kiosk"  # an infomat device
    SYSTEM = "system"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    channel: Channel
    id: str | None = None  # patient id, staff id, device id
    subject_id: uuid.UUID | None = None  # the patient acted for (on-behalf-of); None if not acting for one
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_authenticated(self) -> bool:
        return self.kind is not ActorKind.ANONYMOUS

    @classmethod
    def anonymous(cls, channel: Channel = Channel.MOBILE) -> Actor:
        return cls(kind=ActorKind.ANONYMOUS, channel=channel)

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(kind=ActorKind.SYSTEM, channel=Channel.SYSTEM, id=name)


@dataclass(frozen=True)
class RequestContext:
    """The part of a request that every service call needs, independent of the transport."""

    actor: Actor
    request_id: str
    client_ip: str | None = None
    user_agent: str | None = None

    @classmethod
    def for_system(cls, name: str, request_id: str | None = None) -> RequestContext:
        return cls(actor=Actor.system(name), request_id=request_id or uuid.uuid4().hex)
