"""ambulance tracking: calls from the СМП feed, their timeline, ETA predictions, location consent, survey

Revision ID: 0011_ambulance
Revises: 0010_vaccination
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_ambulance"
down_revision: str | None = "0010_vaccination"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ambulance_calls",
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("caller_id", sa.Uuid(), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("caller_phone", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("district_id", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=512), nullable=False),
        sa.Column("place_lat", sa.Float(), nullable=False),
        sa.Column("place_lon", sa.Float(), nullable=False),
        sa.Column("brigade_id", sa.String(length=64), nullable=True),
        sa.Column("station_name", sa.String(length=512), nullable=True),
        sa.Column("hospital_name", sa.String(length=512), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("departed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("departure_km", sa.Float(), nullable=True),
        sa.Column("min_per_km", sa.Float(), nullable=True),
        sa.Column("pos_lat", sa.Float(), nullable=True),
        sa.Column("pos_lon", sa.Float(), nullable=True),
        sa.Column("pos_speed", sa.Float(), nullable=True),
        sa.Column("pos_heading", sa.Float(), nullable=True),
        sa.Column("pos_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("eta_minutes", sa.Integer(), nullable=True),
        sa.Column("eta_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatch_eta_minutes", sa.Integer(), nullable=True),
        sa.Column("seq_high", sa.Integer(), nullable=False),
        sa.Column("predicted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ambulance_calls")),
    )
    op.create_index("ix_ambulance_calls_arrived_at", "ambulance_calls", ["arrived_at"], unique=False)
    op.create_index("ix_ambulance_calls_caller_id", "ambulance_calls", ["caller_id"], unique=False)
    op.create_index("ix_ambulance_calls_patient_id", "ambulance_calls", ["patient_id"], unique=False)
    op.create_index("uq_ambulance_calls_call_id", "ambulance_calls", ["call_id"], unique=True)
    op.create_table(
        "ambulance_consents",
        sa.Column("call_ref", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("share_profile", sa.Boolean(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("profile_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_location_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ambulance_consents")),
    )
    op.create_index("uq_ambulance_consents_call_ref", "ambulance_consents", ["call_ref"], unique=True)
    op.create_table(
        "ambulance_locations",
        sa.Column("call_ref", sa.Uuid(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ambulance_locations")),
    )
    op.create_index("ix_ambulance_locations_call_ref", "ambulance_locations", ["call_ref"], unique=False)
    op.create_table(
        "ambulance_predictions",
        sa.Column("call_ref", sa.Uuid(), nullable=False),
        sa.Column("predicted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("eta_minutes", sa.Integer(), nullable=False),
        sa.Column("arrival_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatch_eta_minutes", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ambulance_predictions")),
    )
    op.create_index("ix_ambulance_predictions_call_ref", "ambulance_predictions", ["call_ref"], unique=False)
    op.create_table(
        "ambulance_steps",
        sa.Column("call_ref", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ambulance_steps")),
    )
    op.create_index("uq_ambulance_steps_call_status", "ambulance_steps", ["call_ref", "status"], unique=True)
    op.create_table(
        "ambulance_surveys",
        sa.Column("call_ref", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ambulance_surveys")),
    )
    op.create_index("uq_ambulance_surveys_call_ref", "ambulance_surveys", ["call_ref"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_ambulance_surveys_call_ref", table_name="ambulance_surveys")
    op.drop_table("ambulance_surveys")
    op.drop_index("uq_ambulance_steps_call_status", table_name="ambulance_steps")
    op.drop_table("ambulance_steps")
    op.drop_index("ix_ambulance_predictions_call_ref", table_name="ambulance_predictions")
    op.drop_table("ambulance_predictions")
    op.drop_index("ix_ambulance_locations_call_ref", table_name="ambulance_locations")
    op.drop_table("ambulance_locations")
    op.drop_index("uq_ambulance_consents_call_ref", table_name="ambulance_consents")
    op.drop_table("ambulance_consents")
    op.drop_index("uq_ambulance_calls_call_id", table_name="ambulance_calls")
    op.drop_index("ix_ambulance_calls_patient_id", table_name="ambulance_calls")
    op.drop_index("ix_ambulance_calls_caller_id", table_name="ambulance_calls")
    op.drop_index("ix_ambulance_calls_arrived_at", table_name="ambulance_calls")
    op.drop_table("ambulance_calls")
