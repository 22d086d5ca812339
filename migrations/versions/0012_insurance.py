"""insurance (issue 22): the policy snapshot, disputes and complaints, insurer changes, representative messages

Revision ID: 0012_insurance
Revises: 0009 (the head when written; the merger rechains it)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012_insurance"
down_revision: str | None = "0011_ambulance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "insurance_policy_snapshots",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("retry_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enp", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("region", sa.String(length=8), nullable=True),
        sa.Column("insurer_code", sa.String(length=16), nullable=True),
        sa.Column("insurer_name", sa.String(length=512), nullable=True),
        sa.Column("insurer_ogrn", sa.String(length=16), nullable=True),
        sa.Column("insurer_phone", sa.String(length=32), nullable=True),
        sa.Column("insurer_website", sa.String(length=256), nullable=True),
        sa.Column("insurer_address", sa.String(length=512), nullable=True),
        sa.Column("attachment_mo_oid", sa.String(length=128), nullable=True),
        sa.Column("history", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("esia_enp", sa.String(length=16), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_policy_snapshots")),
    )
    op.create_index(
        "uq_insurance_policy_snapshots_patient_id", "insurance_policy_snapshots", ["patient_id"], unique=True
    )
    op.create_table(
        "insurance_representative_messages",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("citation", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_representative_messages")),
        sa.UniqueConstraint(
            "patient_id",
            "rule",
            "period_key",
            name=op.f("uq_insurance_representative_messages_patient_id_rule_period_key"),
        ),
    )
    op.create_index(
        "ix_insurance_representative_messages_created_at",
        "insurance_representative_messages",
        ["created_at"],
        unique=False,
    )
    op.create_table(
        "insurance_ticket_events",
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_ticket_events")),
        sa.UniqueConstraint("ticket_id", "seq", name=op.f("uq_insurance_ticket_events_ticket_id_seq")),
    )
    op.create_index("ix_insurance_ticket_events_ticket_id", "insurance_ticket_events", ["ticket_id"], unique=False)
    op.create_table(
        "insurance_tickets",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("upstream_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("addressee", sa.String(length=8), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("service_name", sa.String(length=512), nullable=True),
        sa.Column("service_date", sa.Date(), nullable=True),
        sa.Column("service_cost", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("attachments", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("upheld", sa.Boolean(), nullable=True),
        sa.Column("reopened", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_tickets")),
    )
    op.create_index("ix_insurance_tickets_patient_id", "insurance_tickets", ["patient_id"], unique=False)
    op.create_index("ix_insurance_tickets_upstream_id", "insurance_tickets", ["upstream_id"], unique=True)
    op.create_table(
        "insurer_change_events",
        sa.Column("change_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurer_change_events")),
        sa.UniqueConstraint("change_id", "status", name=op.f("uq_insurer_change_events_change_id_status")),
    )
    op.create_table(
        "insurer_changes",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("upstream_id", sa.String(length=64), nullable=False),
        sa.Column("insurer_code", sa.String(length=16), nullable=False),
        sa.Column("insurer_name", sa.String(length=512), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("new_address", sa.String(length=512), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("certificate_number", sa.String(length=64), nullable=True),
        sa.Column("certificate_valid_until", sa.Date(), nullable=True),
        sa.Column("rejection", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurer_changes")),
    )
    op.create_index("ix_insurer_changes_patient_id", "insurer_changes", ["patient_id"], unique=False)
    op.create_index("ix_insurer_changes_upstream_id", "insurer_changes", ["upstream_id"], unique=True)
    op.create_index(
        "uq_insurer_changes_open_patient",
        "insurer_changes",
        ["patient_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('submitted', 'accepted')"),
        sqlite_where=sa.text("status IN ('submitted', 'accepted')"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_insurer_changes_open_patient",
        table_name="insurer_changes",
        postgresql_where=sa.text("status IN ('submitted', 'accepted')"),
        sqlite_where=sa.text("status IN ('submitted', 'accepted')"),
    )
    op.drop_index("ix_insurer_changes_upstream_id", table_name="insurer_changes")
    op.drop_index("ix_insurer_changes_patient_id", table_name="insurer_changes")
    op.drop_table("insurer_changes")
    op.drop_table("insurer_change_events")
    op.drop_index("ix_insurance_tickets_upstream_id", table_name="insurance_tickets")
    op.drop_index("ix_insurance_tickets_patient_id", table_name="insurance_tickets")
    op.drop_table("insurance_tickets")
    op.drop_index("ix_insurance_ticket_events_ticket_id", table_name="insurance_ticket_events")
    op.drop_table("insurance_ticket_events")
    op.drop_index("ix_insurance_representative_messages_created_at", table_name="insurance_representative_messages")
    op.drop_table("insurance_representative_messages")
    op.drop_index("uq_insurance_policy_snapshots_patient_id", table_name="insurance_policy_snapshots")
    op.drop_table("insurance_policy_snapshots")
