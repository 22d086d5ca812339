"""notifications: contact points, preferences, messages, delivery attempts, inbox

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_contacts",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_contacts")),
        sa.UniqueConstraint("patient_id", name=op.f("uq_notification_contacts_patient_id")),
    )
    op.create_table(
        "notification_messages",
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("provider_id", sa.String(length=128), nullable=True),
        sa.Column("provider_status", sa.String(length=32), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fallback_of", sa.Uuid(), nullable=True),
        sa.Column("fallback_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("final_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_messages")),
        sa.UniqueConstraint(
            "dedupe_key", "patient_id", "channel", name=op.f("uq_notification_messages_dedupe_key_patient_id_channel")
        ),
    )
    with op.batch_alter_table("notification_messages", schema=None) as batch_op:
        batch_op.create_index("ix_notification_messages_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_notification_messages_patient", ["patient_id", "created_at"], unique=False)
        batch_op.create_index("ix_notification_messages_provider_ref", ["provider_id"], unique=False)

    op.create_table(
        "notification_preferences",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_preferences")),
        sa.UniqueConstraint("patient_id", "channel", name=op.f("uq_notification_preferences_patient_id_channel")),
    )
    op.create_table(
        "notification_push_tokens",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invalidated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_push_tokens")),
        sa.UniqueConstraint("provider", "token", name=op.f("uq_notification_push_tokens_provider_token")),
    )
    with op.batch_alter_table("notification_push_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_notification_push_tokens_patient", ["patient_id"], unique=False)

    op.create_table(
        "notification_reminders",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_reminders")),
        sa.UniqueConstraint(
            "source", "object_id", "kind", name=op.f("uq_notification_reminders_source_object_id_kind")
        ),
    )
    op.create_table(
        "notification_delivery_attempts",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("provider_id", sa.String(length=128), nullable=True),
        sa.Column("provider_status", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["notification_messages.id"],
            name=op.f("fk_notification_delivery_attempts_message_id_notification_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_delivery_attempts")),
        sa.UniqueConstraint("message_id", "number", name=op.f("uq_notification_delivery_attempts_message_id_number")),
    )
    op.create_table(
        "notification_inbox",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["notification_messages.id"],
            name=op.f("fk_notification_inbox_message_id_notification_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_inbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_notification_inbox_message_id")),
    )
    with op.batch_alter_table("notification_inbox", schema=None) as batch_op:
        batch_op.create_index("ix_notification_inbox_patient", ["patient_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notification_inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_inbox_patient")

    op.drop_table("notification_inbox")
    op.drop_table("notification_delivery_attempts")
    op.drop_table("notification_reminders")
    with op.batch_alter_table("notification_push_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_push_tokens_patient")

    op.drop_table("notification_push_tokens")
    op.drop_table("notification_preferences")
    with op.batch_alter_table("notification_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_messages_provider_ref")
        batch_op.drop_index("ix_notification_messages_patient")
        batch_op.drop_index("ix_notification_messages_due")

    op.drop_table("notification_messages")
    op.drop_table("notification_contacts")
