"""Turns a handler's reply into the XML WeChat expects (a passive reply).

Written here rather than with wechatpy's reply classes, which put text into CDATA as it is: a
"]]>" in a trainee's name, a class's place or a lesson title (all typed into Excel by people)
would end the section early, and WeChat then shows the trainee "该公众号暂时无法提供服务".
Characters XML can't carry (Excel's stray control characters) are dropped.
"""
from __future__ import annotations

import re
import time

from handlers.replies import News, Reply, Text

_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def cdata(value: str) -> str:
    """`value` as CDATA that ends where it should: a "]]>" inside is split across two sections."""
    return "<![CDATA[" + _NOT_IN_XML.sub("", value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render(reply: Reply | None, message) -> str:
    """The reply's XML, or '' for no reply."""
    if reply is None:
        return ""
    head = (f"<xml><ToUserName>{cdata(message.source)}</ToUserName><FromUserName>{cdata(message.target)}"
            f"</FromUserName><CreateTime>{int(time.time())}</CreateTime>")
    if isinstance(reply, Text):
        return f"{head}<MsgType><![CDATA[text]]></MsgType><Content>{cdata(reply.content)}</Content></xml>"
    if isinstance(reply, News):
        items = "".join(
            f"<item><Title>{cdata(a.title)}</Title><Description>{cdata(a.description)}</Description>"
            f"<PicUrl>{cdata(a.image)}</PicUrl><Url>{cdata(a.url)}</Url></item>"
            for a in reply.articles
        )
        return (f"{head}<MsgType><![CDATA[news]]></MsgType><ArticleCount>{len(reply.articles)}</ArticleCount>"
                f"<Articles>{items}</Articles></xml>")
    raise TypeError(f"unknown reply type {type(reply).__name__}")
