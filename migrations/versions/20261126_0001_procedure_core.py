"""The procedure core: directory, cases, meetings, orientations, and their keys.

Nominative values exist only as ciphertexts (the *_enc columns); case_key holds each case's
data key wrapped by a key-encryption key; identity_index the blind index of identities.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 02:21:14.686570
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cell",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("arrondissement", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('cenomed', 'recidivism')", name=op.f("ck_cell_kind_known")),
        sa.CheckConstraint(
            "arrondissement BETWEEN 1 AND 20", name=op.f("ck_cell_arrondissement_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cell")),
        sa.UniqueConstraint("name", name=op.f("uq_cell_name")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("organisation", sa.String(length=30), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
    )
    op.create_table(
        "meeting",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cell_id"], ["cell.id"], name=op.f("fk_meeting_cell_id_cell")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_meeting_created_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting")),
    )
    op.create_index(op.f("ix_meeting_cell_id"), "meeting", ["cell_id"], unique=False)

    op.create_table(
        "membership",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["cell.id"], name=op.f("fk_membership_cell_id_cell"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_membership_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "cell_id", name=op.f("pk_membership")),
    )
    op.create_index(op.f("ix_membership_cell_id"), "membership", ["cell_id"], unique=False)

    op.create_table(
        "case_file",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("origin", sa.String(length=30), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("age_bracket", sa.String(length=10), nullable=False),
        sa.Column("submitted_by", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retained", sa.Boolean(), nullable=True),
        sa.Column("parquet_decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("meeting_id", sa.Uuid(), nullable=True),
        sa.Column("presentation_meeting_id", sa.Uuid(), nullable=True),
        sa.Column("review_decision", sa.String(length=20), nullable=True),
        sa.Column("family_informed_on", sa.Date(), nullable=True),
        sa.Column("family_information_means", sa.String(length=20), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "state IN ('submitted', 'parquet_review', 'not_retained', 'research', 'cell_review', 'oriented', 'feedback', 'closed', 'purged')",
            name=op.f("ck_case_file_state_known"),
        ),
        sa.ForeignKeyConstraint(["cell_id"], ["cell.id"], name=op.f("fk_case_file_cell_id_cell")),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_case_file_meeting_id_meeting")
        ),
        sa.ForeignKeyConstraint(
            ["presentation_meeting_id"],
            ["meeting.id"],
            name=op.f("fk_case_file_presentation_meeting_id_meeting"),
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"],
            ["user_account.id"],
            name=op.f("fk_case_file_submitted_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_file")),
    )
    op.create_index(
        "ix_case_file_cell_submitted", "case_file", ["cell_id", "submitted_at", "id"], unique=False
    )
    op.create_index(op.f("ix_case_file_meeting_id"), "case_file", ["meeting_id"], unique=False)
    op.create_index(
        op.f("ix_case_file_presentation_meeting_id"),
        "case_file",
        ["presentation_meeting_id"],
        unique=False,
    )
    op.create_index(op.f("ix_case_file_state"), "case_file", ["state"], unique=False)

    op.create_table(
        "case_key",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rewrapped_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_case_key_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_key")),
    )
    op.create_index(op.f("ix_case_key_kek_id"), "case_key", ["kek_id"], unique=False)

    op.create_table(
        "case_motif",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("motif", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_case_motif_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "motif", name=op.f("pk_case_motif")),
    )
    op.create_table(
        "case_personal",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("last_name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("first_name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("birth_date_enc", sa.LargeBinary(), nullable=False),
        sa.Column("address_enc", sa.LargeBinary(), nullable=True),
        sa.Column("school_enc", sa.LargeBinary(), nullable=True),
        sa.Column("facts_enc", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_case_personal_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_personal")),
    )
    op.create_table(
        "case_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user_account.id"], name=op.f("fk_case_step_actor_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_case_step_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_step")),
    )
    op.create_index(op.f("ix_case_step_case_id"), "case_step", ["case_id"], unique=False)

    op.create_table(
        "guardian",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("relationship", sa.String(length=20), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_guardian_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardian")),
    )
    op.create_index(op.f("ix_guardian_case_id"), "guardian", ["case_id"], unique=False)

    op.create_table(
        "identity_index",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_identity_index_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_identity_index")),
    )
    op.create_index(op.f("ix_identity_index_digest"), "identity_index", ["digest"], unique=False)

    op.create_table(
        "orientation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("destination", sa.String(length=30), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transmitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transmitted_by", sa.Integer(), nullable=True),
        sa.Column("feedback_outcome", sa.String(length=30), nullable=True),
        sa.Column("reoriented_to", sa.String(length=20), nullable=True),
        sa.Column("feedback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("feedback_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_orientation_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["feedback_by"],
            ["user_account.id"],
            name=op.f("fk_orientation_feedback_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["transmitted_by"],
            ["user_account.id"],
            name=op.f("fk_orientation_transmitted_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orientation")),
    )
    op.create_index(op.f("ix_orientation_case_id"), "orientation", ["case_id"], unique=False)

    op.create_table(
        "research_note",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("author_organisation", sa.String(length=30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_enc", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user_account.id"], name=op.f("fk_research_note_author_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_research_note_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_research_note")),
    )
    op.create_index(op.f("ix_research_note_case_id"), "research_note", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_research_note_case_id"), table_name="research_note")

    op.drop_table("research_note")
    op.drop_index(op.f("ix_orientation_case_id"), table_name="orientation")

    op.drop_table("orientation")
    op.drop_index(op.f("ix_identity_index_digest"), table_name="identity_index")

    op.drop_table("identity_index")
    op.drop_index(op.f("ix_guardian_case_id"), table_name="guardian")

    op.drop_table("guardian")
    op.drop_index(op.f("ix_case_step_case_id"), table_name="case_step")

    op.drop_table("case_step")
    op.drop_table("case_personal")
    op.drop_table("case_motif")
    op.drop_index(op.f("ix_case_key_kek_id"), table_name="case_key")

    op.drop_table("case_key")
    op.drop_index(op.f("ix_case_file_state"), table_name="case_file")
    op.drop_index(op.f("ix_case_file_presentation_meeting_id"), table_name="case_file")
    op.drop_index(op.f("ix_case_file_meeting_id"), table_name="case_file")
    op.drop_index("ix_case_file_cell_submitted", table_name="case_file")

    op.drop_table("case_file")
    op.drop_index(op.f("ix_membership_cell_id"), table_name="membership")

    op.drop_table("membership")
    op.drop_index(op.f("ix_meeting_cell_id"), table_name="meeting")

    op.drop_table("meeting")
    op.drop_table("user_account")
    op.drop_table("cell")
