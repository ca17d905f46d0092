"""three-valued following state; outbox first send and delivery

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("wechat_users") as batch:
        batch.alter_column("subscribed", existing_type=sa.Boolean(), nullable=True)
    # A row never seen unfollowing was only never seen subscribing: its state is unknown.
    op.execute("UPDATE wechat_users SET subscribed = NULL WHERE subscribed = false AND unsubscribed_at IS NULL")
    op.add_column("outbox", sa.Column("first_sent_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox", sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_outbox_provider_message_id", "outbox", ["provider_message_id"])


def downgrade():
    op.drop_index("ix_outbox_provider_message_id", table_name="outbox")
    op.drop_column("outbox", "delivered_at")
    op.drop_column("outbox", "first_sent_at")
    op.execute("UPDATE wechat_users SET subscribed = false WHERE subscribed IS NULL")
    with op.batch_alter_table("wechat_users") as batch:
        batch.alter_column("subscribed", existing_type=sa.Boolean(), nullable=False)
