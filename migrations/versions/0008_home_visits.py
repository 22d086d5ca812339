"""home visits (requests, status timeline) and attachment (applications to a clinic, their history)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachment_application_events",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment_application_events")),
        sa.UniqueConstraint(
            "application_id", "status", name=op.f("uq_attachment_application_events_application_id_status")
        ),
    )
    op.create_table(
        "attachment_applications",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("upstream_id", sa.String(length=64), nullable=False),
        sa.Column("mo_id", sa.String(length=64), nullable=False),
        sa.Column("mo_name", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rejection_reason", sa.String(length=64), nullable=True),
        sa.Column("rejection_message", sa.Text(), nullable=True),
        sa.Column("change_of_residence", sa.Boolean(), nullable=False),
        sa.Column("registration_address", sa.String(length=512), nullable=False),
        sa.Column("attached_on", sa.Date(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment_applications")),
    )
    with op.batch_alter_table("attachment_applications", schema=None) as batch_op:
        batch_op.create_index("ix_attachment_applications_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_attachment_applications_patient_id", ["patient_id"], unique=False)
        batch_op.create_index("ix_attachment_applications_upstream_id", ["upstream_id"], unique=True)
        batch_op.create_index(
            "uq_attachment_applications_pending_patient",
            ["patient_id"],
            unique=True,
            postgresql_where=sa.text("status IN ('submitted', 'accepted')"),
            sqlite_where=sa.text("status IN ('submitted', 'accepted')"),
        )

    op.create_table(
        "home_visit_events",
        sa.Column("visit_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_home_visit_events")),
    )
    with op.batch_alter_table("home_visit_events", schema=None) as batch_op:
        batch_op.create_index("ix_home_visit_events_visit_id", ["visit_id"], unique=False)
        batch_op.create_index("uq_home_visit_events_dedup_key", ["dedup_key"], unique=True)

    op.create_table(
        "home_visits",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("mo_id", sa.String(length=64), nullable=False),
        sa.Column("mo_name", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=False),
        sa.Column("reason_text", sa.Text(), nullable=True),
        sa.Column("symptoms", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("address", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("address_line", sa.String(length=512), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("doctor_name", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("on_behalf", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_home_visits")),
    )
    with op.batch_alter_table("home_visits", schema=None) as batch_op:
        batch_op.create_index("ix_home_visits_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_home_visits_patient_id", ["patient_id"], unique=False)
        batch_op.create_index("ix_home_visits_request_id", ["request_id"], unique=True)
        batch_op.create_index(
            "uq_home_visits_active_patient",
            ["patient_id"],
            unique=True,
            postgresql_where=sa.text("status IN ('new', 'doctor_assigned', 'on_the_way')"),
            sqlite_where=sa.text("status IN ('new', 'doctor_assigned', 'on_the_way')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("home_visits", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_home_visits_active_patient",
            postgresql_where=sa.text("status IN ('new', 'doctor_assigned', 'on_the_way')"),
            sqlite_where=sa.text("status IN ('new', 'doctor_assigned', 'on_the_way')"),
        )
        batch_op.drop_index("ix_home_visits_request_id")
        batch_op.drop_index("ix_home_visits_patient_id")
        batch_op.drop_index("ix_home_visits_created_at")

    op.drop_table("home_visits")
    with op.batch_alter_table("home_visit_events", schema=None) as batch_op:
        batch_op.drop_index("uq_home_visit_events_dedup_key")
        batch_op.drop_index("ix_home_visit_events_visit_id")

    op.drop_table("home_visit_events")
    with op.batch_alter_table("attachment_applications", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_attachment_applications_pending_patient",
            postgresql_where=sa.text("status IN ('submitted', 'accepted')"),
            sqlite_where=sa.text("status IN ('submitted', 'accepted')"),
        )
        batch_op.drop_index("ix_attachment_applications_upstream_id")
        batch_op.drop_index("ix_attachment_applications_patient_id")
        batch_op.drop_index("ix_attachment_applications_created_at")

    op.drop_table("attachment_applications")
    op.drop_table("attachment_application_events")
