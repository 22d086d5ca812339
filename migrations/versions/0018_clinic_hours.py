"""clinic hours: the organisation's hours from the hub's GetLPUInfo (WorkTime) in the directory (issue 18)

``work_time`` keeps the hub's text as it came; ``opening_hours`` the week read from it (seven days, Monday
first: ``{"opens", "closes", "breaks"}``), null when the text is absent or not in a form the directory reads.

Revision ID: 0018_clinic_hours
Revises: 0017_attachment_extras
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018_clinic_hours"
down_revision: str | None = "0017_attachment_extras"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("medical_organisations") as batch:
        batch.add_column(sa.Column("email", sa.String(255), nullable=True))
        batch.add_column(sa.Column("work_time", sa.Text(), nullable=True))
        batch.add_column(sa.Column("opening_hours", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("medical_organisations") as batch:
        batch.drop_column("opening_hours")
        batch.drop_column("work_time")
        batch.drop_column("email")
