"""The domain rules: plain Python that takes plain values and knows no HTTP or WeChat XML."""
from typing import Any

from services.errors import ServiceError

__all__ = ["JsonObject", "ServiceError"]

# A decoded JSON object (a WeChat answer, a cached entry): its shape is the contract of whoever wrote it.
JsonObject = dict[str, Any]
