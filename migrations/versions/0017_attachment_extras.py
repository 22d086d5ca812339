"""attachment extras: the patient's registration and residence addresses from ESIA (issue 18)

Revision ID: 0017_attachment_extras
Revises: 0016_call_record
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017_attachment_extras"
down_revision: str | None = "0016_call_record"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("registration_address", JSON, nullable=True))
        batch.add_column(sa.Column("residence_address", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("residence_address")
        batch.drop_column("registration_address")
