"""Small habits shared by every service that talks to Redis: reading values as text, and the one
compare-and-set retry loop.

A compare-and-set reads a key, decides, and writes back only if nobody wrote in between (the
player's hash carries a version its Lua write checks). The loser reads again; `compare_and_set`
is that loop, bounded, so that a key fought over by too many writers fails as `Contended` (a 503
in Chinese) instead of spinning.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from services.errors import ServiceError

T = TypeVar("T")
TRIES = 5


def text(value: bytes | str | None) -> str | None:
    """A stored value as text: the client answers bytes (no `decode_responses`), None when absent."""
    return value.decode() if isinstance(value, bytes) else value


class Lost:
    """What an attempt returns when its write found the key changed since it read: it runs again."""


LOST = Lost()


class Contended(ServiceError):
    """Every attempt lost its race: too many writers on one key at once; worth retrying later."""

    status = 503

    def __init__(self) -> None:
        super().__init__("系统繁忙，请稍后再试", "compare-and-set lost every try")


def compare_and_set(attempt: Callable[[], T | Lost], tries: int = TRIES) -> T:
    """Runs `attempt` (read, decide, write if unchanged) until it returns anything but `LOST`.

    An attempt may also return without writing (nothing to change) or raise; what it returns is
    the result. After `tries` lost races, raises `Contended`."""
    for _ in range(tries):
        result = attempt()
        if not isinstance(result, Lost):
            return result
    raise Contended()
