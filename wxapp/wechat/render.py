"""Turns a handler's reply into the XML WeChat expects (passive reply)."""
from __future__ import annotations

import time

from wechatpy.replies import ArticlesReply, TextReply

from handlers.replies import News, Reply, Text


def render(reply: Reply | None, message) -> str:
    """The reply's XML, or '' for no reply."""
    if reply is None:
        return ""
    # wechatpy's CreateTime default is frozen at import time: always pass it.
    common = {"source": message.target, "target": message.source, "time": int(time.time())}
    if isinstance(reply, Text):
        return TextReply(content=reply.content, **common).render()
    if isinstance(reply, News):
        articles = [
            {"title": a.title, "description": a.description, "url": a.url, "image": a.image}
            for a in reply.articles
        ]
        return ArticlesReply(articles=articles, **common).render()
    raise TypeError(f"unknown reply type {type(reply).__name__}")
