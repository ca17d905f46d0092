"""a notice's premise; outbox rows withdrawn when it changed; the hours-complete notice

Revision ID: 0012_notice_premise
Revises: 0011_hours_summary
Create Date: 2026-12-07 02:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0012_notice_premise"
down_revision = "0011_hours_summary"
branch_labels = None
depends_on = None

OLD_KINDS = ("class_open", "class_reminder", "registration_expiry", "exam_result", "exam_voided")
NEW_KINDS = OLD_KINDS + ("hours_complete",)
OLD_STATES = ("pending", "sending", "sent", "failed", "unknown")
NEW_STATES = OLD_STATES + ("withdrawn",)


def _in(column, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _set_checks(kinds, states, state_length) -> None:
    # batch mode: SQLite can only change a CHECK constraint by copying the table.
    with op.batch_alter_table("notices", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_notices_kind_known"), type_="check")
        batch.create_check_constraint("kind_known", _in("kind", kinds))
    with op.batch_alter_table("outbox", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_outbox_state_known"), type_="check")
        batch.alter_column("state", existing_type=sa.String(length=16 if state_length == 8 else 8),
                           type_=sa.String(length=state_length), existing_nullable=False)
        batch.create_check_constraint("state_known", _in("state", states))


def upgrade():
    op.add_column("notices", sa.Column("premise", sa.JSON(), nullable=True))
    _set_checks(NEW_KINDS, NEW_STATES, 16)


def downgrade():
    # A withdrawn row was never sent: it reads as failed once the state no longer exists.
    op.execute("UPDATE outbox SET state = 'failed' WHERE state = 'withdrawn'")
    op.execute("DELETE FROM notices WHERE kind = 'hours_complete'")
    _set_checks(OLD_KINDS, OLD_STATES, 8)
    op.drop_column("notices", "premise")
