"""face comparison of exam photos: embeddings (encrypted), reviews, consents

Revision ID: 0016_exam_faces
Revises: 0015_rebind
Create Date: 2026-12-07 02:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0016_exam_faces"
down_revision = "0015_rebind"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "face_embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("trainee_id", sa.Integer(), nullable=False),
        sa.Column("moment", sa.String(length=8), nullable=False),
        sa.Column("photo_key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("vector_enc", sa.LargeBinary(), nullable=True),
        sa.Column("analysed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("moment IN ('before', 'after')", name=op.f("ck_face_embeddings_moment_known")),
        sa.CheckConstraint("state IN ('ok', 'no_face', 'many_faces', 'unreadable')",
                           name=op.f("ck_face_embeddings_state_known")),
        sa.ForeignKeyConstraint(["attempt_id"], ["exam_attempts.id"],
                                name=op.f("fk_face_embeddings_attempt_id_exam_attempts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["trainee_id"], ["trainees.id"], name=op.f("fk_face_embeddings_trainee_id_trainees"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_embeddings")),
        sa.UniqueConstraint("attempt_id", "moment", name=op.f("uq_face_embeddings_attempt_id_moment")),
    )
    op.create_index(op.f("ix_face_embeddings_trainee_id"), "face_embeddings", ["trainee_id"], unique=False)
    op.create_table(
        "face_reviews",
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_signals", sa.String(length=2000), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('open', 'cleared')", name=op.f("ck_face_reviews_state_known")),
        sa.ForeignKeyConstraint(["attempt_id"], ["exam_attempts.id"],
                                name=op.f("fk_face_reviews_attempt_id_exam_attempts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_face_reviews")),
    )
    op.create_index("ix_face_reviews_state_risk", "face_reviews", ["state", "risk"], unique=False)
    op.create_table(
        "face_consents",
        sa.Column("trainee_id", sa.Integer(), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["trainee_id"], ["trainees.id"], name=op.f("fk_face_consents_trainee_id_trainees"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("trainee_id", name=op.f("pk_face_consents")),
    )


def downgrade():
    op.drop_table("face_consents")
    op.drop_index("ix_face_reviews_state_risk", table_name="face_reviews")
    op.drop_table("face_reviews")
    op.drop_index(op.f("ix_face_embeddings_trainee_id"), table_name="face_embeddings")
    op.drop_table("face_embeddings")
