"""What to answer each WeChat message or event: the router and one module per concern.

Importing this package registers every handler on `router`.
"""
from handlers.router import Context, Router

router = Router()

from handlers import account, menu, keywords  # noqa: E402,F401  (registration by import)

__all__ = ["router", "Context"]
