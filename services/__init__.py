"""The domain rules: plain Python that takes plain values and knows no HTTP or WeChat XML."""
from typing import Any

# A decoded JSON object (a WeChat answer, a cached entry): its shape is the contract of whoever wrote it.
JsonObject = dict[str, Any]


class ServiceError(Exception):
    """A refusal with a Chinese message that can be shown to the trainee or staff member."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
