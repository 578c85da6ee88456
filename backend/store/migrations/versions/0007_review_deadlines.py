"""Reviews with assignees, edits and deadlines (the People issue's Reviews part).

Jobs get their per-job review terms; reviews get their assignees, the fields an edit may
change, a deadline with its action, the reminder, the edits and diff of the decision,
and `due_at`: the next pending timer (reminder, then deadline), indexed for the sweep
and cleared once nothing is pending. `job_assignees` lets a reviewer see the job.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-18
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("reviewers", sa.JSON, nullable=True))
        batch.add_column(sa.Column("review_timeout", sa.Float, nullable=True))
        batch.add_column(sa.Column("on_timeout", sa.String(64), nullable=True))
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("assignees", sa.JSON, nullable=True))
        batch.add_column(sa.Column("editable", sa.JSON, nullable=True))
        batch.add_column(sa.Column("deadline", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("on_timeout", sa.String(64), nullable=True))
        batch.add_column(sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("edits", sa.JSON, nullable=True))
        batch.add_column(sa.Column("diff", sa.JSON, nullable=True))
    # the deadline sweep: reviews with a pending reminder or deadline, soonest first
    op.create_index("ix_reviews_due_at", "reviews", ["due_at"])
    op.create_table(
        "job_assignees",
        sa.Column(
            "job_id",
            sa.String(40),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("principal", sa.String(200), primary_key=True),
    )
    # GET /api/jobs?assigned=me, newest first
    op.create_index("ix_job_assignees_principal", "job_assignees", ["principal", "job_id"])


def downgrade() -> None:
    op.drop_index("ix_job_assignees_principal", "job_assignees")
    op.drop_table("job_assignees")
    op.drop_index("ix_reviews_due_at", "reviews")
    with op.batch_alter_table("reviews") as batch:
        for name in (
            "diff",
            "edits",
            "due_at",
            "reminded_at",
            "remind_at",
            "on_timeout",
            "deadline",
            "editable",
            "assignees",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("on_timeout")
        batch.drop_column("review_timeout")
        batch.drop_column("reviewers")
