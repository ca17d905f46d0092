"""The domain rules: plain Python that takes plain values and knows no HTTP or WeChat XML."""


class ServiceError(Exception):
    """A refusal with a Chinese message that can be shown to the trainee or staff member."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
