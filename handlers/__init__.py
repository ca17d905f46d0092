"""What to answer each WeChat message or event: the router and one module per concern.

Importing this package registers every handler on `router`.
"""
from handlers.router import Context, router

# isort: split
# After `router`: the handler modules register on it as they are imported.
from handlers import account, keywords, menu  # noqa: F401
from handlers.fallback import unavailable

__all__ = ["router", "Context", "unavailable"]
