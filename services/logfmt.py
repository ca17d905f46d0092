"""The one log line format: `event key=value …`, shared by services, the scheduler and the app.

Values are passed already masked (services.identity.pii.mask_phone, short_openid); the app's
log filter (wxapp/logs.py) masks any phone or ID card number that slips through anyway.
"""
from __future__ import annotations


def kv(name: str, /, **fields: object) -> str:
    """`event a=1 b="x y"`: the shape of every log line we write."""
    parts = [name]
    for key, raw in fields.items():
        value = "-" if raw is None else str(raw)
        if not value or any(c in value for c in ' "='):
            value = '"' + value.replace('"', "'") + '"'
        parts.append(f"{key}={value}")
    return " ".join(parts)
