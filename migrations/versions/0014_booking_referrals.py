"""booking referrals, no-show contests; dispanserization questionnaires and plans (issue 24)

Revision ID: 0014_booking_referrals
Revises: 0013_drugs
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_booking_referrals"
down_revision: str | None = "0013_drugs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "booking_referrals",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("target_specialty_code", sa.String(length=32), nullable=False),
        sa.Column("target_specialty_name", sa.String(length=200), nullable=False),
        sa.Column("target_mo_id", sa.String(length=64), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("issuer_name", sa.String(length=200), nullable=True),
        sa.Column("issuer_snils", sa.String(length=14), nullable=True),
        sa.Column("issuer_mo_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("added_by", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("checked_at", TS, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_referrals")),
        sa.UniqueConstraint("patient_id", "number", name=op.f("uq_booking_referrals_patient_id_number")),
    )
    op.create_index("ix_booking_referrals_patient_id", "booking_referrals", ["patient_id"])
    op.create_table(
        "booking_no_show_contests",
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("mo_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decision_note", sa.String(length=1000), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_no_show_contests")),
        sa.UniqueConstraint("appointment_id", name=op.f("uq_booking_no_show_contests_appointment_id")),
    )
    op.create_index("ix_booking_no_show_contests_patient_id", "booking_no_show_contests", ["patient_id"])
    op.create_index("ix_booking_no_show_contests_mo_status", "booking_no_show_contests", ["mo_id", "status"])
    op.create_table(
        "dispanserization_questionnaires",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("rules_version", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("answers", JSON, nullable=False),
        sa.Column("result", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispanserization_questionnaires")),
        sa.UniqueConstraint("patient_id", "year", name=op.f("uq_dispanserization_questionnaires_patient_id_year")),
    )
    op.create_table(
        "dispanserization_plans",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("rules_version", sa.String(length=32), nullable=False),
        sa.Column("mo_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("replaced_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispanserization_plans")),
    )
    live = sa.text("status = 'booked'")
    op.create_index(
        "uq_dispanserization_plans_live",
        "dispanserization_plans",
        ["patient_id", "year"],
        unique=True,
        postgresql_where=live,
        sqlite_where=live,
    )
    op.create_index("ix_dispanserization_plans_patient_id", "dispanserization_plans", ["patient_id"])
    op.create_table(
        "dispanserization_plan_items",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("resource_code", sa.String(length=32), nullable=False),
        sa.Column("exams", JSON, nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispanserization_plan_items")),
        sa.UniqueConstraint("plan_id", "position", name=op.f("uq_dispanserization_plan_items_plan_id_position")),
    )
    op.create_index("ix_dispanserization_plan_items_plan", "dispanserization_plan_items", ["plan_id"])


def downgrade() -> None:
    op.drop_table("dispanserization_plan_items")
    op.drop_index("uq_dispanserization_plans_live", table_name="dispanserization_plans")
    op.drop_table("dispanserization_plans")
    op.drop_table("dispanserization_questionnaires")
    op.drop_table("booking_no_show_contests")
    op.drop_table("booking_referrals")
