"""An archive access's purpose from a closed list (issue 19, the auditor's journal).

* ``archive_access.purpose``: why a closed case was opened again (``ArchivePurpose``), which
  the audit event carries too and the auditor reads; the free-text reason stays sealed with
  the case. Accesses granted before have none (NULL): their purpose was never asked.

Downgrade drops the column; the audit events keep the purposes they recorded.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("archive_access") as batch:
        batch.add_column(sa.Column("purpose", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("archive_access") as batch:
        batch.drop_column("purpose")
