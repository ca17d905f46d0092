"""Small habits shared by every service that talks to Redis."""
from __future__ import annotations


def text(value: bytes | str | None) -> str | None:
    """A stored value as text: the client answers bytes (no `decode_responses`), None when absent."""
    return value.decode() if isinstance(value, bytes) else value
