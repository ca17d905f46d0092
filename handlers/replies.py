"""What a handler answers, independent of XML: rendered by wxapp/wechat."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Text:
    content: str


@dataclass(frozen=True)
class Article:
    title: str
    description: str
    url: str
    image: str = ""


@dataclass(frozen=True)
class News:
    articles: list[Article] = field(default_factory=list)


Reply = Text | News
