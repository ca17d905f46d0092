"""What every answer carries against a hostile client or page: security headers, redirects that
never leave the site, and URL numbers the database can hold.

- Headers: a Content-Security-Policy (scripts from this site and WeChat's JS-SDK origin only; no
  framing), X-Frame-Options, nosniff, a Referrer-Policy, HSTS in production, and `no-store` on
  the personal pages and JSON (WeChat's browser and shared phones must not keep them). A view that
  set its own header (the attendance page's no-referrer, the QR's private cache) keeps it.
- Redirects built by the routing itself (`/h5//learn` → `/h5/learn`) use the request's Host, which a
  client controls (`X-Forwarded-Host`, or `Host` through a lax proxy): such a Location on our
  own host is made relative, so it can't point anywhere else.
- `<int:…>` in a route accepts at most a 32-bit integer: `/h5/lesson/99999999999999999999` is a
  404, not a database overflow.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, Response, request
from werkzeug.routing import IntegerConverter

from wxapp import config
from wxapp.config import SANDBOX_API_PATH

INT_MAX = 2**31 - 1
JSSDK_ORIGINS = ("https://res.wx.qq.com", "https://res2.wx.qq.com")  # WeChat's JS-SDK and its backup
HSTS = "max-age=31536000"
# Personal pages and JSON: everything but static assets, health and the development sandbox.
_NO_STORE_PREFIXES = ("/h5/", "/api/", "/admin/")
_NO_CSP_PREFIXES = ("/dev/",)  # the development sandbox's own pages (never in production)


class BoundedIntConverter(IntegerConverter):
    """Werkzeug's `int`, capped at what an INTEGER column holds; a larger number matches no route."""

    def __init__(self, map, fixed_digits=0, min=None, max=INT_MAX, signed=False):  # noqa: A002 (werkzeug's names)
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def content_security_policy(jssdk_url: str, framed_by_self: bool = False) -> str:
    scripts = ["'self'", *JSSDK_ORIGINS]
    origin = _origin(jssdk_url)
    if origin and origin not in scripts:
        scripts.append(origin)
    return "; ".join([
        "default-src 'self'",
        "script-src " + " ".join(scripts),
        # Inline style attributes (progress bars, error pages); no inline script anywhere.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob: https:",
        "media-src 'self' blob: https: http:",  # lesson videos live on the school's video host
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'" if framed_by_self else "frame-ancestors 'none'",
    ])


def _origin(url: str) -> str:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def tel_href(phone: str | None) -> str:
    """The `tel:` target of a phone number as people write it (`0512-6888 8888`)."""
    return re.sub(r"[^\d+]", "", phone or "")


def _policy(app: Flask) -> tuple[str, str, bool]:
    """(Content-Security-Policy, X-Frame-Options, production) of this app's answers."""
    settings = config.of(app)
    production = settings.production
    # The development phone simulator (/dev/phone) opens the trainee pages inside its own frame;
    # only where the sandbox stands in for WeChat, which a production start refuses.
    framed_by_self = not production and SANDBOX_API_PATH in settings.wechat_api_base
    csp = content_security_policy(settings.wechat_jssdk_url, framed_by_self)
    return csp, "SAMEORIGIN" if framed_by_self else "DENY", production


def response_headers(app: Flask, path: str, mimetype: str) -> list[tuple[str, str]]:
    """Every header an answer of `path` carries, for the endpoints answered in front of Flask."""
    csp, frame_options, production = _policy(app)
    headers = [("Content-Type", mimetype)]
    if not path.startswith(_NO_CSP_PREFIXES):
        headers.append(("Content-Security-Policy", csp))
    headers += [("X-Frame-Options", frame_options), ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "strict-origin-when-cross-origin")]
    if production:
        headers.append(("Strict-Transport-Security", HSTS))
    if path.startswith(_NO_STORE_PREFIXES) or mimetype == "application/json":
        headers.append(("Cache-Control", "no-store"))
    return headers


def register(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    app.add_template_filter(tel_href, "tel_href")
    csp, frame_options, production = _policy(app)

    @app.after_request
    def secure_headers(response: Response) -> Response:
        headers = response.headers
        path = request.path
        if not path.startswith(_NO_CSP_PREFIXES):
            headers.setdefault("Content-Security-Policy", csp)
        headers.setdefault("X-Frame-Options", frame_options)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if production:
            headers.setdefault("Strict-Transport-Security", HSTS)
        if path.startswith(_NO_STORE_PREFIXES) or response.mimetype == "application/json":
            headers.setdefault("Cache-Control", "no-store")
        _relative_location(response)
        return response


def _relative_location(response: Response) -> None:
    """A redirect to this request's own host becomes a path: the Host came from the client."""
    location = response.headers.get("Location")
    if not location or not 300 <= response.status_code < 400:
        return
    parts = urlsplit(location)
    if parts.netloc and parts.netloc.lower() == request.host.lower():
        path = parts.path if parts.path.startswith("/") and not parts.path.startswith("//") else "/"
        response.headers["Location"] = path + (f"?{parts.query}" if parts.query else "")
