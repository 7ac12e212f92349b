"""Dates and decisions the cell can trust (issue 15).

* ``case_file.received_on_declared`` and ``received_via``: a signalement is received on the
  day it is submitted, by the server's clock, unless the coordinator declares an earlier day
  for one received outside the service, and how. The cases stored before kept the date their
  submitter typed: they are all marked as declared (the channel unknown), which is what they
  were.
* ``case_file.closure_reason``: why a case was closed. Earlier closures get ``no_action``
  where the review decision said so, ``feedback_received`` where every orientation has its
  feedback, ``other_legacy`` otherwise (a value only this migration writes). Purged cases
  keep their skeleton: they get theirs too.
* ``case_file.family_information_outcome``: the family's answer; the informations recorded
  before were recorded as "the family was informed".
* ``case_step.detail``: a code that says more of a step (a closure's reason, ...).
* ``partner_service`` and ``orientation.service_id``: the cell's named services.

Downgrade drops what this revision added (the closure reasons and the answers with it: the
previous code has nowhere to keep them).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner_service",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("destination", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["cell.id"], name=op.f("fk_partner_service_cell_id_cell")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_service")),
        sa.UniqueConstraint(
            "cell_id",
            "destination",
            "name",
            name=op.f("uq_partner_service_cell_id_destination_name"),
        ),
    )
    op.create_index(
        op.f("ix_partner_service_cell_id"), "partner_service", ["cell_id"], unique=False
    )
    # In place (no batch copy: a copy of case_file would cascade-delete the rows that refer to
    # it). SQLite adds a column with a REFERENCES clause in place when its default is NULL.
    op.add_column(
        "case_file",
        sa.Column(
            "received_on_declared", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    )
    op.add_column("case_file", sa.Column("received_via", sa.String(length=20), nullable=True))
    op.add_column(
        "case_file", sa.Column("family_information_outcome", sa.String(length=20), nullable=True)
    )
    op.add_column("case_file", sa.Column("closure_reason", sa.String(length=30), nullable=True))
    op.add_column("case_step", sa.Column("detail", sa.String(length=80), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # Alembic cannot ALTER a constraint on SQLite, which takes an inline REFERENCES.
        op.execute(
            "ALTER TABLE orientation ADD COLUMN service_id INTEGER "
            "CONSTRAINT fk_orientation_service_id_partner_service "
            "REFERENCES partner_service (id)"
        )
    else:
        op.add_column("orientation", sa.Column("service_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_orientation_service_id_partner_service",
            "orientation",
            "partner_service",
            ["service_id"],
            ["id"],
        )

    # Existing data: what the records already say.
    op.execute("UPDATE case_file SET received_on_declared = true")
    op.execute(
        "UPDATE case_file SET family_information_outcome = 'informed' "
        "WHERE family_informed_on IS NOT NULL"
    )
    op.execute(
        "UPDATE case_file SET closure_reason = 'no_action' "
        "WHERE closed_at IS NOT NULL AND review_decision = 'no_action'"
    )
    op.execute(
        "UPDATE case_file SET closure_reason = 'feedback_received' "
        "WHERE closed_at IS NOT NULL AND closure_reason IS NULL "
        "AND EXISTS (SELECT 1 FROM orientation o WHERE o.case_id = case_file.id) "
        "AND NOT EXISTS (SELECT 1 FROM orientation o WHERE o.case_id = case_file.id "
        "AND o.feedback_outcome IS NULL)"
    )
    op.execute(
        "UPDATE case_file SET closure_reason = 'other_legacy' "
        "WHERE closed_at IS NOT NULL AND closure_reason IS NULL"
    )


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+; a foreign key column can be dropped once nothing
    # indexes it), then the table the key referred to.
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(
            "fk_orientation_service_id_partner_service", "orientation", type_="foreignkey"
        )
    op.execute("ALTER TABLE orientation DROP COLUMN service_id")
    op.execute("ALTER TABLE case_step DROP COLUMN detail")
    for column in (
        "closure_reason",
        "family_information_outcome",
        "received_via",
        "received_on_declared",
    ):
        op.execute(f"ALTER TABLE case_file DROP COLUMN {column}")
    op.drop_index(op.f("ix_partner_service_cell_id"), table_name="partner_service")
    op.drop_table("partner_service")
