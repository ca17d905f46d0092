"""HTML to PDF with WeasyPrint: the certificate's PDF is its printable page, rendered by the same HTML and CSS.

WeasyPrint draws text through Pango, so the host needs Pango and a CJK font (README: Debian packages);
without the font Chinese comes out as empty boxes. The HTML is ours and self-contained (inline CSS,
inline SVG), so nothing is fetched while rendering: a reference to anything outside is refused.
"""
from __future__ import annotations

import logging
from typing import NoReturn

# WeasyPrint narrates each rendering step at INFO; its warnings (a missing glyph, a bad rule) stay on.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


class OutsideResource(ValueError):
    """The HTML referred to a resource; certificates embed everything they show."""


def _refuse(url: str, *args: object, **kwargs: object) -> NoReturn:
    raise OutsideResource(f"refused to fetch {url[:80]!r} while rendering a PDF")


def render_pdf(html: str) -> bytes:
    # Imported here: WeasyPrint loads Pango when imported, and only this path needs it.
    from weasyprint import HTML

    pdf: bytes = HTML(string=html, url_fetcher=_refuse).write_pdf()
    return pdf
