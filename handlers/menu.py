"""The custom menu's CLICK keys (CONTRACT §3). Every key but HELP needs a bound trainee."""
from __future__ import annotations

from functools import wraps

from handlers import router, texts
from handlers.replies import Text
from services.study import overview


def with_overview(handler):
    """Answers the binding link to a user not yet bound; else calls handler(overview, ctx)."""

    @wraps(handler)
    def wrapper(message, ctx):
        mine = overview.for_openid(ctx.session, ctx.redis, ctx.openid)
        if mine is None:
            return Text(texts.bind_prompt(ctx))
        return handler(mine, ctx)

    return wrapper


@router.click("ONLINE_LEARNING", pure=True)
@with_overview
def online_learning(mine, ctx):
    return Text(texts.learn_link(ctx, mine.name))


@router.click("MY_COURSES", pure=True)
@with_overview
def my_courses(mine, ctx):
    return Text(texts.course_list(ctx, mine.name, mine.courses, mine.exam))


@router.click("MY_CLASS", pure=True)
@with_overview
def my_class(mine, ctx):
    return Text(texts.class_list(mine.name, mine.classes))


@router.click("MY_EXAM", pure=True)
@with_overview
def my_exam(mine, ctx):
    return Text(texts.exam_text(ctx, mine.name, mine.exam))


@router.click("HELP", pure=True)
def help_(message, ctx):
    return Text(texts.help_text(ctx))
