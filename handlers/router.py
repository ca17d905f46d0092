"""A registry of WeChat message handlers, chosen by decorator (in the manner of WeRoBot).

    @router.click("MY_COURSES")
    def my_courses(message, ctx): ...

Rules are tried in registration order; the first handler that matches answers. A handler
returns a `handlers.replies` object, or None for "no reply" (WeChat then gets `success`).

A handler registered with `pure=True` only reads: it changes nothing, so a retried delivery may
simply be answered afresh, and the callback skips retry dedup for it. So does one registered with
`repeatable=True`: its effect is harmless twice and it never replies (WeChat's own reports).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis import Redis
from sqlalchemy.orm import Session

from handlers.replies import Reply
from services.links import Links

# A message parsed by wechatpy (TextMessage, ClickEvent, …): the library ships no types.
Message = Any
Handler = Callable[[Message, "Context"], Reply | None]
Predicate = Callable[[Message], bool]
Registration = Callable[[Handler], Handler]


@dataclass(frozen=True)
class Context:
    """Plain values a handler needs besides the message."""

    openid: str
    session: Session
    redis: Redis
    links: Links  # the app's pages, as the chat links them
    contact: str
    # The values of the sender's overview cache keys, when the callback read them with its replay
    # check (a read-only rule only): saves the answer a Redis round trip.
    overview_cache: Sequence[bytes | None] | None = None


@dataclass(frozen=True)
class Rule:
    predicate: Predicate
    handler: Handler
    pure: bool = False
    repeatable: bool = False


class Router:
    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.fallbacks: list[Rule] = []  # tried only when no rule matches, whatever the import order

    def add(self, predicate: Predicate, pure: bool = False, repeatable: bool = False) -> Registration:
        def register(handler: Handler) -> Handler:
            self.rules.append(Rule(predicate, handler, pure, repeatable))
            return handler

        return register

    def event(self, *names: str, pure: bool = False, repeatable: bool = False) -> Registration:
        wanted = {n.lower() for n in names}
        return self.add(lambda m: m.type == "event" and getattr(m, "event", "").lower() in wanted, pure, repeatable)

    def click(self, *keys: str, pure: bool = False) -> Registration:
        wanted = set(keys)
        return self.add(
            lambda m: m.type == "event" and getattr(m, "event", "") == "click" and m.key in wanted, pure
        )

    def text(self, *keywords: str, pure: bool = False) -> Registration:
        """A text message equal to one of the keywords (spaces and case ignored)."""
        wanted = {k.strip().lower() for k in keywords}
        return self.add(lambda m: m.type == "text" and (m.content or "").strip().lower() in wanted, pure)

    def match(self, message: Message) -> Rule | None:
        found = next((rule for rule in self.rules if rule.predicate(message)), None)
        return found or next((rule for rule in self.fallbacks if rule.predicate(message)), None)

    def fallback(self, predicate: Predicate, pure: bool = False) -> Callable[[Handler], Handler]:
        """A handler for what no rule matches (a text the account doesn't understand)."""
        def register(handler: Handler) -> Handler:
            self.fallbacks.append(Rule(predicate, handler, pure))
            return handler

        return register


router = Router()  # every handler module registers on this one
