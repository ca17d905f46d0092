"""Alembic environment, run through Flask-Migrate (`flask --app wsgi db upgrade`)."""
import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

# Tables that belong to other owners (APScheduler's job store) are never touched by autogenerate.
FOREIGN_TABLES = {"apscheduler_jobs"}


def include_name(name, type_, parent_names):
    return not (type_ == "table" and name in FOREIGN_TABLES)


def render_item(type_, obj, autogen_context):
    """Migrations stay free of our code: UTCDateTime is a plain timezone-aware DateTime there."""
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


def get_engine():
    return current_app.extensions["migrate"].db.engine


target_db = current_app.extensions["migrate"].db
config.set_main_option(
    "sqlalchemy.url", get_engine().url.render_as_string(hide_password=False).replace("%", "%%")
)


def configure_args(**extra):
    args = dict(current_app.extensions["migrate"].configure_args)
    args.update(
        target_metadata=target_db.metadata,
        include_name=include_name,
        render_item=render_item,
        compare_type=True,
        render_as_batch=True,  # SQLite alters tables by copying them
    )
    args.update(extra)
    return args


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **configure_args())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context_, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    with get_engine().connect() as connection:
        args = configure_args()
        args.setdefault("process_revision_directives", process_revision_directives)
        if args["process_revision_directives"] is None:
            args["process_revision_directives"] = process_revision_directives
        context.configure(connection=connection, **args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
