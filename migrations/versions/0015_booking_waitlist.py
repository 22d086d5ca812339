"""waitlist with offers, the survey after a visit, SMART Scheduling Links' published parts

Revision ID: 0015_booking_waitlist
Revises: 0014_booking_referrals
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015_booking_waitlist"
down_revision: str | None = "0014_booking_referrals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduling_link_parts",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduling_link_parts")),
        sa.UniqueConstraint("kind", "key", name="uq_scheduling_link_parts_kind_key"),
    )
    op.create_table(
        "survey_answers",
        sa.Column("invitation_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("mo_id", sa.String(length=64), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("questionnaire", sa.String(length=32), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=False),
        sa.Column("booking_ease", sa.Integer(), nullable=False),
        sa.Column("booking_channel", sa.String(length=16), nullable=False),
        sa.Column("future_use", sa.Boolean(), nullable=False),
        sa.Column("recommend", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answers")),
    )
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.create_index("ix_survey_answers_mo_visited", ["mo_id", "visited_at"], unique=False)
        batch_op.create_index("uq_survey_answers_invitation", ["invitation_id"], unique=True)

    op.create_table(
        "survey_invitations",
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("mo_id", sa.String(length=64), nullable=False),
        sa.Column("mo_name", sa.String(length=512), nullable=False),
        sa.Column("specialty_name", sa.String(length=255), nullable=False),
        sa.Column("doctor_name", sa.String(length=255), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answer_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_invitations")),
    )
    with op.batch_alter_table("survey_invitations", schema=None) as batch_op:
        batch_op.create_index("ix_survey_invitations_mo_visited", ["mo_id", "visited_at"], unique=False)
        batch_op.create_index("ix_survey_invitations_patient", ["patient_id", "created_at"], unique=False)
        batch_op.create_index("uq_survey_invitations_appointment", ["appointment_id"], unique=True)
        batch_op.create_index("uq_survey_invitations_token", ["token_hash"], unique=True)

    op.create_table(
        "waitlist_counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_waitlist_counters")),
    )
    op.create_table(
        "waitlist_entries",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("mo_id", sa.String(length=64), nullable=False),
        sa.Column("mo_name", sa.String(length=512), nullable=False),
        sa.Column("specialty_code", sa.String(length=32), nullable=False),
        sa.Column("specialty_name", sa.String(length=255), nullable=False),
        sa.Column("doctor_id", sa.String(length=64), nullable=True),
        sa.Column("doctor_name", sa.String(length=255), nullable=True),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("claim_type", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("hub_claim_guid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
    )
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_waitlist_entries_line", ["mo_id", "specialty_code", "status", "priority", "seq"], unique=False
        )
        batch_op.create_index("ix_waitlist_entries_patient", ["patient_id"], unique=False)
        batch_op.create_index(
            "uq_waitlist_entries_active",
            ["patient_id", "mo_id", "specialty_code"],
            unique=True,
            postgresql_where=sa.text("status IN ('waiting', 'offered')"),
            sqlite_where=sa.text("status IN ('waiting', 'offered')"),
        )
        batch_op.create_index("uq_waitlist_entries_seq", ["seq"], unique=True)

    op.create_table(
        "waitlist_offers",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("mo_id", sa.String(length=64), nullable=False),
        sa.Column("doctor_id", sa.String(length=64), nullable=False),
        sa.Column("specialty_code", sa.String(length=32), nullable=False),
        sa.Column("slot_id", sa.String(length=128), nullable=False),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("slot_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_offers")),
        sa.UniqueConstraint("entry_id", "mo_id", "slot_id", name="uq_waitlist_offers_entry_slot"),
    )
    with op.batch_alter_table("waitlist_offers", schema=None) as batch_op:
        batch_op.create_index("ix_waitlist_offers_patient", ["patient_id"], unique=False)
        batch_op.create_index("ix_waitlist_offers_status_expires", ["status", "expires_at"], unique=False)
        batch_op.create_index(
            "uq_waitlist_offers_live_entry",
            ["entry_id"],
            unique=True,
            postgresql_where=sa.text("status = 'offered'"),
            sqlite_where=sa.text("status = 'offered'"),
        )
        batch_op.create_index(
            "uq_waitlist_offers_live_slot",
            ["mo_id", "slot_id"],
            unique=True,
            postgresql_where=sa.text("status = 'offered'"),
            sqlite_where=sa.text("status = 'offered'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("waitlist_offers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_waitlist_offers_live_slot",
            postgresql_where=sa.text("status = 'offered'"),
            sqlite_where=sa.text("status = 'offered'"),
        )
        batch_op.drop_index(
            "uq_waitlist_offers_live_entry",
            postgresql_where=sa.text("status = 'offered'"),
            sqlite_where=sa.text("status = 'offered'"),
        )
        batch_op.drop_index("ix_waitlist_offers_status_expires")
        batch_op.drop_index("ix_waitlist_offers_patient")

    op.drop_table("waitlist_offers")
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.drop_index("uq_waitlist_entries_seq")
        batch_op.drop_index(
            "uq_waitlist_entries_active",
            postgresql_where=sa.text("status IN ('waiting', 'offered')"),
            sqlite_where=sa.text("status IN ('waiting', 'offered')"),
        )
        batch_op.drop_index("ix_waitlist_entries_patient")
        batch_op.drop_index("ix_waitlist_entries_line")

    op.drop_table("waitlist_entries")
    op.drop_table("waitlist_counters")
    with op.batch_alter_table("survey_invitations", schema=None) as batch_op:
        batch_op.drop_index("uq_survey_invitations_token")
        batch_op.drop_index("uq_survey_invitations_appointment")
        batch_op.drop_index("ix_survey_invitations_patient")
        batch_op.drop_index("ix_survey_invitations_mo_visited")

    op.drop_table("survey_invitations")
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.drop_index("uq_survey_answers_invitation")
        batch_op.drop_index("ix_survey_answers_mo_visited")

    op.drop_table("survey_answers")
    op.drop_table("scheduling_link_parts")
