"""The data model: typed SQLAlchemy 2 models, one module per aggregate.

`db` lives here so that models import nothing else of ours; the app binds it in create_app().
"""
from typing import TYPE_CHECKING

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase, Session

# Deterministic constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Database(SQLAlchemy):
    """Flask-SQLAlchemy's extension; for the type checker its `session` is the `Session` that
    services take: the scoped session the app uses proxies every method of the session it holds."""

    if TYPE_CHECKING:
        session: Session  # type: ignore[assignment]


db = Database(model_class=Base)

from models.attendance import AttendanceCheck, AttendanceRefusal  # noqa: E402
from models.audit import AuditEntry  # noqa: E402
from models.binding import BindingLog  # noqa: E402
from models.catalog import Course, Lesson, Major  # noqa: E402
from models.classes import ClassMember, TrainingClass  # noqa: E402
from models.completion import Completion  # noqa: E402
from models.exam import ExamAnswer, ExamAttempt, ExamQuestion  # noqa: E402
from models.exercises import ExerciseAttempt, ExerciseQuestion  # noqa: E402
from models.faces import FaceConsent, FaceEmbedding, FaceReview  # noqa: E402
from models.notices import Notice, OutboxMessage  # noqa: E402
from models.progress import HoursSummary, LessonProgress  # noqa: E402
from models.staff import StaffUser  # noqa: E402
from models.staff_session import StaffSession  # noqa: E402
from models.trainee import Enrollment, Trainee  # noqa: E402
from models.wechat import WechatUser  # noqa: E402

__all__ = [
    "db", "Base", "Major", "Course", "Lesson", "TrainingClass", "ClassMember",
    "Trainee", "Enrollment", "WechatUser", "BindingLog", "Notice", "OutboxMessage",
    "LessonProgress", "HoursSummary", "AttendanceCheck", "AttendanceRefusal", "ExerciseQuestion", "ExerciseAttempt",
    "StaffUser", "StaffSession", "Completion", "AuditEntry",
    "ExamQuestion", "ExamAttempt", "ExamAnswer",
    "FaceEmbedding", "FaceReview", "FaceConsent",
]
