"""booking: holds, appointments, idempotency keys

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = "status IN ('booked', 'cancel_pending')"
_HELD = "status = 'held'"


def upgrade() -> None:
    op.create_table(
        "booking_appointments",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("mo_id", sa.String(length=64), nullable=False),
        sa.Column("mo_name", sa.String(length=512), nullable=False),
        sa.Column("doctor_id", sa.String(length=64), nullable=False),
        sa.Column("doctor_name", sa.String(length=255), nullable=False),
        sa.Column("specialty_code", sa.String(length=32), nullable=False),
        sa.Column("specialty_name", sa.String(length=255), nullable=False),
        sa.Column("slot_id", sa.String(length=128), nullable=False),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("slot_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("room", sa.String(length=64), nullable=True),
        sa.Column("address", sa.String(length=512), nullable=True),
        sa.Column("hub_patient_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("source_type", sa.Integer(), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("on_behalf", sa.Boolean(), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=True),
        sa.Column("rescheduled_from_id", sa.Uuid(), nullable=True),
        sa.Column("replaced_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_appointments")),
    )
    op.create_index("ix_booking_appointments_created_at", "booking_appointments", ["created_at"], unique=False)
    op.create_index(
        "ix_booking_appointments_patient_start", "booking_appointments", ["patient_id", "slot_start"], unique=False
    )
    op.create_index(
        "ix_booking_appointments_status_start", "booking_appointments", ["status", "slot_start"], unique=False
    )
    op.create_index(
        "uq_booking_appointments_live_slot",
        "booking_appointments",
        ["mo_id", "slot_id"],
        unique=True,
        postgresql_where=sa.text(_LIVE),
        sqlite_where=sa.text(_LIVE),
    )
    op.create_index(
        "uq_booking_appointments_live_specialty",
        "booking_appointments",
        ["patient_id", "specialty_code"],
        unique=True,
        postgresql_where=sa.text(_LIVE),
        sqlite_where=sa.text(_LIVE),
    )
    op.create_table(
        "booking_holds",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("mo_id", sa.String(length=64), nullable=False),
        sa.Column("doctor_id", sa.String(length=64), nullable=False),
        sa.Column("specialty_code", sa.String(length=32), nullable=False),
        sa.Column("slot_id", sa.String(length=128), nullable=False),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("slot_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("room", sa.String(length=64), nullable=True),
        sa.Column("address", sa.String(length=512), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("reschedule_of_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_holds")),
    )
    op.create_index("ix_booking_holds_patient_id", "booking_holds", ["patient_id"], unique=False)
    op.create_index("ix_booking_holds_status_expires_at", "booking_holds", ["status", "expires_at"], unique=False)
    op.create_index(
        "uq_booking_holds_live_slot",
        "booking_holds",
        ["mo_id", "slot_id"],
        unique=True,
        postgresql_where=sa.text(_HELD),
        sqlite_where=sa.text(_HELD),
    )
    op.create_table(
        "booking_idempotency",
        sa.Column("actor_key", sa.String(length=160), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("result", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_idempotency")),
        sa.UniqueConstraint(
            "actor_key", "operation", "key", name=op.f("uq_booking_idempotency_actor_key_operation_key")
        ),
    )


def downgrade() -> None:
    op.drop_table("booking_idempotency")
    op.drop_index("uq_booking_holds_live_slot", table_name="booking_holds")
    op.drop_index("ix_booking_holds_status_expires_at", table_name="booking_holds")
    op.drop_index("ix_booking_holds_patient_id", table_name="booking_holds")
    op.drop_table("booking_holds")
    op.drop_index("uq_booking_appointments_live_specialty", table_name="booking_appointments")
    op.drop_index("uq_booking_appointments_live_slot", table_name="booking_appointments")
    op.drop_index("ix_booking_appointments_status_start", table_name="booking_appointments")
    op.drop_index("ix_booking_appointments_patient_start", table_name="booking_appointments")
    op.drop_index("ix_booking_appointments_created_at", table_name="booking_appointments")
    op.drop_table("booking_appointments")
