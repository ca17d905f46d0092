"""The custom menu's CLICK keys (CONTRACT §3). Every key but HELP needs a bound trainee."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from handlers import texts
from handlers.replies import Reply, Text
from handlers.router import Context, Handler, Message, router
from services import menu as menu_keys
from services import overview
from services.completion.certificates import certificates_of
from services.overview import Overview


def mine(ctx: Context) -> Overview | None:
    """The sender's overview (None when not bound), from what the callback prefetched if it did."""
    return overview.for_openid(ctx.session, ctx.redis, ctx.openid, ctx.overview_cache)


def with_overview(handler: Callable[[Overview, Context], Reply]) -> Handler:
    """Answers the binding link to a user not yet bound; else calls handler(overview, ctx)."""

    @wraps(handler)
    def wrapper(message: Message, ctx: Context) -> Reply:
        found = mine(ctx)
        if found is None:
            return Text(texts.bind_prompt(ctx))
        return handler(found, ctx)

    return wrapper


@router.click(menu_keys.ONLINE_LEARNING, pure=True)
@with_overview
def online_learning(mine: Overview, ctx: Context) -> Reply:
    return Text(texts.learn_link(ctx, mine.name))


@router.click(menu_keys.MY_COURSES, pure=True)
@with_overview
def my_courses(mine: Overview, ctx: Context) -> Reply:
    return Text(texts.course_list(ctx, mine.name, mine.courses, mine.exam))


@router.click(menu_keys.MY_CLASS, pure=True)
@with_overview
def my_class(mine: Overview, ctx: Context) -> Reply:
    return Text(texts.class_list(mine.name, mine.classes))


@router.click(menu_keys.MY_EXAM, pure=True)
@with_overview
def my_exam(mine: Overview, ctx: Context) -> Reply:
    return Text(texts.exam_text(ctx, mine.name, mine.exam))


@router.click(menu_keys.MY_CERTIFICATES, pure=True)
@with_overview
def my_certificates(mine: Overview, ctx: Context) -> Reply:
    valid = [(c.major, c.number) for c in certificates_of(ctx.session, mine.trainee_id) if c.valid]
    return Text(texts.certificates_text(ctx, mine.name, valid, mine.exam))


@router.click(menu_keys.HELP, pure=True)
def help_(message: Message, ctx: Context) -> Reply:
    return Text(texts.help_text(ctx))
