"""What a handler answers, independent of XML: rendered by wxapp/wechat."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    content: str


Reply = Text
