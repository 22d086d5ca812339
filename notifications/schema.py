"""GraphQL of notifications: what was sent to me and whether it arrived, my inbox, my preferences.

Every resolver starts with ``require_subject(info, SCOPE_NOTIFICATIONS, acting_for=…)`` and touches only
that person's rows. Reads are audited; mutations are ``@atomic`` with typed Russian problems.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.api.problems import AccessDenied, InvalidInput, NotAuthenticated, Problem
from backend.audit import service as audit
from backend.identity.policy import SCOPE_NOTIFICATIONS, require_subject
from integrations.sms import InvalidPhone
from notifications import preferences as prefs
from notifications import service as notifications
from notifications.channels import InboxEvent
from notifications.models import InboxItem as InboxRow

MAX_PAGE = 100


def _page(first: int) -> int:
    return max(1, min(first, MAX_PAGE))


@strawberry.type(name="ChannelDelivery", description="Доставка уведомления по одному каналу.")
class ChannelDeliveryType:
    channel: str = strawberry.field(description="sms, push, email или inbox.")
    status: str = strawberry.field(
        description="queued, sending, sent, delivered, undelivered, failed или dead (попытки исчерпаны)."
    )
    attempts: int
    updated_at: datetime
    scheduled_for: datetime | None = strawberry.field(description="Когда будет отправлено (ночью SMS ждут утра).")
    error: str | None


@strawberry.type(name="Notification", description="Уведомление и его доставка по каналам.")
class NotificationType:
    key: str
    event: str
    title: str
    text: str
    created_at: datetime
    deliveries: list[ChannelDeliveryType]

    @classmethod
    def of(cls, view: notifications.NotificationView) -> NotificationType:
        return cls(
            key=view.key,
            event=view.event,
            title=view.title,
            text=view.text,
            created_at=view.created_at,
            deliveries=[ChannelDeliveryType(**d.__dict__) for d in view.deliveries],
        )


@strawberry.type(name="InboxItem", description="Сообщение во входящих приложения.")
class InboxItemType:
    id: strawberry.ID
    event: str
    title: str
    text: str
    created_at: datetime
    read_at: datetime | None

    @strawberry.field
    def read(self) -> bool:
        return self.read_at is not None

    @classmethod
    def of(cls, row: InboxRow) -> InboxItemType:
        return cls(
            id=strawberry.ID(str(row.id)),
            event=row.event,
            title=row.title,
            text=row.body,
            created_at=row.created_at,
            read_at=row.read_at,
        )

    @classmethod
    def of_event(cls, item: InboxEvent) -> InboxItemType:
        """A just-added item as the bus carried it (unread)."""
        return cls(
            id=strawberry.ID(str(item.id)),
            event=item.event,
            title=item.title,
            text=item.text,
            created_at=item.created_at,
            read_at=None,
        )


@strawberry.type(name="NotificationPreferences", description="Каналы уведомлений и контакты для них.")
class PreferencesType:
    sms: bool
    push: bool
    email: bool
    phone: str | None = strawberry.field(description="Телефон для SMS в формате E.164.")
    email_address: str | None
    push_devices: int = strawberry.field(description="Сколько устройств получают push-уведомления.")
    quiet_hours_from: int = strawberry.field(description="Начало «тихих часов» (час, местное время региона).")
    quiet_hours_to: int = strawberry.field(description="Конец «тихих часов»: несрочные SMS ждут этого часа.")
    timezone: str

    @classmethod
    def of(cls, value: prefs.Preferences, info: Info) -> PreferencesType:
        settings = info.context.runtime.settings
        return cls(
            sms=value.sms,
            push=value.push,
            email=value.email,
            phone=value.phone,
            email_address=value.email_address,
            push_devices=value.push_devices,
            quiet_hours_from=settings.notify_quiet_start_hour,
            quiet_hours_to=settings.notify_quiet_end_hour,
            timezone=settings.region_timezone,
        )


@strawberry.input(description="Что изменить; не указанные поля остаются как были.")
class NotificationPreferencesInput:
    sms: bool | None = None
    push: bool | None = None
    email: bool | None = None
    phone: str | None = strawberry.field(default=None, description="Телефон для SMS, например +7 912 345-67-89.")
    email_address: str | None = None


@strawberry.type(description="Номер телефона указан неверно; ничего не изменено.")
class InvalidPhoneNumber(Problem):
    field: str = "phone"


@strawberry.type
class PreferencesUpdated:
    preferences: PreferencesType


@strawberry.type
class InboxMarkedRead:
    updated: int
    unread_count: int


@strawberry.type
class PushDeviceRegistered:
    provider: str


UpdatePreferencesResult = Annotated[
    PreferencesUpdated | InvalidPhoneNumber | InvalidInput | NotAuthenticated | AccessDenied,
    strawberry.union("UpdateNotificationPreferencesResult"),
]
MarkReadResult = Annotated[
    InboxMarkedRead | InvalidInput | NotAuthenticated | AccessDenied, strawberry.union("MarkInboxReadResult")
]
RegisterPushResult = Annotated[
    PushDeviceRegistered | InvalidInput | NotAuthenticated | AccessDenied, strawberry.union("RegisterPushDeviceResult")
]


async def _audit_read(info: Info, patient_id: uuid.UUID, what: str) -> None:
    await audit.record_now(
        info.context.sessionmaker, info.context.ctx, f"notifications.{what}.read", subject_id=patient_id
    )


@strawberry.type
class Query:
    @strawberry.field(description="Что и по каким каналам мне отправлено, со статусом доставки.")
    async def my_notifications(
        self, info: Info, first: int = 20, before: datetime | None = None, acting_for: uuid.UUID | None = None
    ) -> list[NotificationType]:
        patient_id = await require_subject(info, SCOPE_NOTIFICATIONS, acting_for=acting_for)
        async with info.context.sessionmaker() as session:
            views = await notifications.list_notifications(session, patient_id, limit=_page(first), before=before)
        await _audit_read(info, patient_id, "history")
        return [NotificationType.of(v) for v in views]

    @strawberry.field(description="Входящие сообщения в приложении, новые сначала.")
    async def my_inbox(
        self,
        info: Info,
        first: int = 20,
        before: datetime | None = None,
        unread_only: bool = False,
        acting_for: uuid.UUID | None = None,
    ) -> list[InboxItemType]:
        patient_id = await require_subject(info, SCOPE_NOTIFICATIONS, acting_for=acting_for)
        async with info.context.sessionmaker() as session:
            rows = await notifications.list_inbox(
                session, patient_id, limit=_page(first), before=before, unread_only=unread_only
            )
        await _audit_read(info, patient_id, "inbox")
        return [InboxItemType.of(r) for r in rows]

    @strawberry.field(description="Сколько непрочитанных во входящих.")
    async def unread_count(self, info: Info, acting_for: uuid.UUID | None = None) -> int:
        patient_id = await require_subject(info, SCOPE_NOTIFICATIONS, acting_for=acting_for)
        async with info.context.sessionmaker() as session:
            return await notifications.unread_count(session, patient_id)

    @strawberry.field(description="Мои настройки уведомлений.")
    async def notification_preferences(self, info: Info, acting_for: uuid.UUID | None = None) -> PreferencesType:
        patient_id = await require_subject(info, SCOPE_NOTIFICATIONS, acting_for=acting_for)
        async with info.context.sessionmaker() as session:
            value = await prefs.get_preferences(session, patient_id)
        await _audit_read(info, patient_id, "preferences")
        return PreferencesType.of(value, info)


def _uuids(ids: list[strawberry.ID]) -> list[uuid.UUID] | None:
    try:
        return [uuid.UUID(str(i)) for i in ids]
    except ValueError:
        return None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Изменить каналы уведомлений и контакты для них.")
    @atomic
    async def update_notification_preferences(
        self, info: Info, input: NotificationPreferencesInput, acting_for: uuid.UUID | None = None
    ) -> UpdatePreferencesResult:
        patient_id = await require_subject(info, SCOPE_NOTIFICATIONS, acting_for=acting_for)
        uow = info.context.uow
        try:
            value = await prefs.update_preferences(
                uow.session,
                patient_id,
                sms=input.sms,
                push=input.push,
                email=input.email,
                phone=input.phone,
                email_address=input.email_address,
            )
        except InvalidPhone as exc:
            return InvalidPhoneNumber(code="INVALID_PHONE", message=exc.message)
        except prefs.InvalidEmail as exc:
            return InvalidInput.of("emailAddress", exc.message)
        changed = sorted(k for k, v in vars(input).items() if v is not None)
        uow.audit("notifications.preferences.update", subject_id=patient_id, details={"changed": changed})
        return PreferencesUpdated(preferences=PreferencesType.of(value, info))

    @strawberry.mutation(description="Отметить сообщения прочитанными (все, если ids не указаны).")
    @atomic
    async def mark_inbox_read(
        self, info: Info, ids: list[strawberry.ID] | None = None, acting_for: uuid.UUID | None = None
    ) -> MarkReadResult:
        patient_id = await require_subject(info, SCOPE_NOTIFICATIONS, acting_for=acting_for)
        item_ids = _uuids(ids) if ids is not None else None
        if ids is not None and item_ids is None:
            return InvalidInput.of("ids", "Неверный идентификатор сообщения.")
        if item_ids is not None and len(item_ids) > 500:
            return InvalidInput.of("ids", "Не больше 500 сообщений за раз.")
        uow = info.context.uow
        updated = await notifications.mark_read(uow.session, patient_id, item_ids, info.context.runtime.now())
        uow.audit("notifications.inbox.mark_read", subject_id=patient_id, details={"updated": updated})
        return InboxMarkedRead(updated=updated, unread_count=await notifications.unread_count(uow.session, patient_id))

    @strawberry.mutation(description="Получать push-уведомления на это устройство.")
    @atomic
    async def register_push_device(self, info: Info, provider: str, token: str) -> RegisterPushResult:
        patient_id = await require_subject(info, SCOPE_NOTIFICATIONS)
        uow = info.context.uow
        try:
            await prefs.register_push_token(uow.session, patient_id, provider=provider, token=token)
        except ValueError:
            return InvalidInput.of("token", "Неверный токен устройства или провайдер (ожидается fcm или apns).")
        uow.audit("notifications.push_device.register", subject_id=patient_id, details={"provider": provider})
        return PushDeviceRegistered(provider=provider)


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Новые сообщения во входящих, по мере поступления.")
    async def inbox_item_added(
        self, info: Info, acting_for: uuid.UUID | None = None
    ) -> AsyncGenerator[InboxItemType, Any]:
        patient_id = await require_subject(info, SCOPE_NOTIFICATIONS, acting_for=acting_for)
        # The bus carries the item itself (no database read per delivery); the patient's channel carries
        # only the patient's items, and an item of anyone else is never yielded.
        async for item in info.context.runtime.adapters.inbox_bus.subscribe(patient_id):
            if item.patient_id == patient_id:
                yield InboxItemType.of_event(item)


TYPES: tuple[type, ...] = (InvalidPhoneNumber,)
