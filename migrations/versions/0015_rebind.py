"""notice kinds of 更换绑定的微信 (the SMS code, the word to the WeChat left); registration expiry indexed

Revision ID: 0015_rebind
Revises: 0014_staff_sessions
Create Date: 2026-12-07 02:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0015_rebind"
down_revision = "0014_staff_sessions"
branch_labels = None
depends_on = None

OLD_KINDS = ("class_open", "class_reminder", "registration_expiry", "exam_result", "exam_voided", "hours_complete")
NEW_KINDS = OLD_KINDS + ("move_code", "binding_moved")


def _kinds(kinds) -> str:
    return f"kind IN ({', '.join(repr(k) for k in kinds)})"


def _set_notice_kinds(kinds) -> None:
    # batch mode: SQLite can only change a CHECK constraint by copying the table.
    with op.batch_alter_table("notices", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_notices_kind_known"), type_="check")
        batch.create_check_constraint("kind_known", _kinds(kinds))


def upgrade():
    _set_notice_kinds(NEW_KINDS)
    op.create_index(op.f("ix_enrollments_registration_expires"), "enrollments", ["registration_expires"])


def downgrade():
    op.drop_index(op.f("ix_enrollments_registration_expires"), table_name="enrollments")
    op.execute(sa.text("DELETE FROM notices WHERE kind IN ('move_code', 'binding_moved')"))
    _set_notice_kinds(OLD_KINDS)
