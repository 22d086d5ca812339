"""directory: districts, medical organisations, specialties, doctors (synced from the booking hub)

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "districts",
        sa.Column("upstream_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("okato", sa.String(length=16), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_districts")),
        sa.UniqueConstraint("upstream_id", name=op.f("uq_districts_upstream_id")),
    )
    op.create_table(
        "specialties",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("direct_booking", sa.Boolean(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_specialties")),
        sa.UniqueConstraint("code", name=op.f("uq_specialties_code")),
    )
    op.create_table(
        "medical_organisations",
        sa.Column("upstream_id", sa.String(length=64), nullable=False),
        sa.Column("oid", sa.String(length=128), nullable=True),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("short_name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=True),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("part_of", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("address", sa.String(length=512), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_medical_organisations_district_id_districts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medical_organisations")),
        sa.UniqueConstraint("oid", name=op.f("uq_medical_organisations_oid")),
        sa.UniqueConstraint("upstream_id", name=op.f("uq_medical_organisations_upstream_id")),
    )
    with op.batch_alter_table("medical_organisations", schema=None) as batch_op:
        batch_op.create_index("ix_medical_organisations_district_id", ["district_id"], unique=False)
        batch_op.create_index("ix_medical_organisations_name_id", ["name", "id"], unique=False)

    op.create_table(
        "doctors",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("upstream_id", sa.String(length=64), nullable=False),
        sa.Column("specialty_id", sa.Uuid(), nullable=False),
        sa.Column("full_name", sa.String(length=255), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("middle_name", sa.String(length=100), nullable=True),
        sa.Column("snils", sa.String(length=14), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["medical_organisations.id"],
            name=op.f("fk_doctors_organisation_id_medical_organisations"),
        ),
        sa.ForeignKeyConstraint(["specialty_id"], ["specialties.id"], name=op.f("fk_doctors_specialty_id_specialties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doctors")),
        sa.UniqueConstraint("organisation_id", "upstream_id", name=op.f("uq_doctors_organisation_id_upstream_id")),
    )
    with op.batch_alter_table("doctors", schema=None) as batch_op:
        batch_op.create_index("ix_doctors_specialty_id", ["specialty_id"], unique=False)

    op.create_table(
        "organisation_specialties",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("specialty_id", sa.Uuid(), nullable=False),
        sa.Column("upstream_id", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["medical_organisations.id"], name="fk_organisation_specialties_organisation_id"
        ),
        sa.ForeignKeyConstraint(
            ["specialty_id"], ["specialties.id"], name=op.f("fk_organisation_specialties_specialty_id_specialties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation_specialties")),
        sa.UniqueConstraint(
            "organisation_id",
            "specialty_id",
            name=op.f("uq_organisation_specialties_organisation_id_specialty_id"),
        ),
    )
    with op.batch_alter_table("organisation_specialties", schema=None) as batch_op:
        batch_op.create_index("ix_organisation_specialties_specialty_id", ["specialty_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("organisation_specialties", schema=None) as batch_op:
        batch_op.drop_index("ix_organisation_specialties_specialty_id")
    op.drop_table("organisation_specialties")

    with op.batch_alter_table("doctors", schema=None) as batch_op:
        batch_op.drop_index("ix_doctors_specialty_id")
    op.drop_table("doctors")

    with op.batch_alter_table("medical_organisations", schema=None) as batch_op:
        batch_op.drop_index("ix_medical_organisations_name_id")
        batch_op.drop_index("ix_medical_organisations_district_id")
    op.drop_table("medical_organisations")

    op.drop_table("specialties")
    op.drop_table("districts")
