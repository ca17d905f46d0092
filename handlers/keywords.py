"""Text keywords a trainee may type instead of using the menu; any other text gets the help text
and the list of keywords (`texts.KEYWORDS`), so a message never goes unanswered."""
from __future__ import annotations

from handlers import menu, texts
from handlers.replies import Reply, Text
from handlers.router import Context, Message, router


@router.text("帮助", "help", "?", "？", pure=True)
def help_keyword(message: Message, ctx: Context) -> Reply | None:
    return menu.help_(message, ctx)


@router.text("绑定", "认证", "认证登录", pure=True)
def bind_keyword(message: Message, ctx: Context) -> Reply:
    mine = menu.mine(ctx)
    if mine is None:
        return Text(texts.bind_prompt(ctx))
    return Text(texts.already_bound(ctx, mine.name))


@router.text("课程", "我的课程", "学时", "学习进度", pure=True)
def courses_keyword(message: Message, ctx: Context) -> Reply | None:
    return menu.my_courses(message, ctx)


@router.text("证书", "学时证明", pure=True)
def certificates_keyword(message: Message, ctx: Context) -> Reply | None:
    return menu.my_certificates(message, ctx)


@router.text("考试", "考试成绩", "成绩", pure=True)
def exam_keyword(message: Message, ctx: Context) -> Reply | None:
    return menu.my_exam(message, ctx)


@router.text("班级", "我的班级", "开班", pure=True)
def class_keyword(message: Message, ctx: Context) -> Reply | None:
    return menu.my_class(message, ctx)


@router.text("客服", "电话", "联系", "联系方式", "人工", "人工客服", pure=True)
def contact_keyword(message: Message, ctx: Context) -> Reply:
    return Text(texts.contact_text(ctx))


@router.fallback(lambda m: m.type == "text", pure=True)
def not_understood(message: Message, ctx: Context) -> Reply:
    return Text(texts.not_understood(ctx))
