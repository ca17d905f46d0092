"""A trainee's hours certificates (学时证明, CONTRACT §8): the list, the printable page and its PDF.

The page and the PDF are one template: WeasyPrint renders the HTML the phone shows, with the print
media rules of the same CSS. Another trainee's number answers 404, as an unknown one does. A cancelled
certificate still opens, stamped 已作废 with the date it was cancelled: the trainee sees why it no
longer counts, and a copy printed anyway says so on its face (and its QR code leads to the same answer).
"""
from __future__ import annotations

import logging
import time
from urllib.parse import quote

from flask import g, make_response, render_template, request

from services.completion import certificates
from services.completion.pdf import render_pdf
from wxapp import config
from wxapp.extensions import db, limiter, links
from wxapp.h5 import bp
from wxapp.h5.auth import current_openid, error_page, trainee_required
from wxapp.logs import kv

log = logging.getLogger(__name__)

NOT_FOUND = "没有找到这份学时证明。请从“我的学时证明”进入。"
# A PDF costs a tenth of a second of CPU: plenty for printing, not for a loop. Counted per WeChat user,
# since a whole company may share one address.
PDF_LIMIT = "20 per minute"


def _openid_or_address() -> str:
    return current_openid() or request.remote_addr or "-"


def _private(response):
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _certificate_html(cert: certificates.Certificate) -> str:
    url = links().verify(cert.number)
    return render_template("h5/certificate.html", cert=cert, school_name=config.current().school_name,
                           verify_url=url, qr=certificates.qr_svg(url), date_text=certificates.date_text)


@bp.get("/certificates")
@trainee_required
def certificate_list():
    items = certificates.certificates_of(db.session, g.trainee.id)
    return _private(make_response(render_template("h5/certificates.html", items=items,
                                                  date_text=certificates.date_text)))


@bp.get("/certificates/<number>.pdf")
@limiter.limit(PDF_LIMIT, key_func=_openid_or_address)
@trainee_required
def certificate_pdf(number: str):
    cert = certificates.certificate_of(db.session, g.trainee.id, number)
    if cert is None:
        return error_page(NOT_FOUND, 404)
    started = time.perf_counter()
    pdf = render_pdf(_certificate_html(cert))
    log.info(kv("certificate_pdf", number=cert.number, ms=round((time.perf_counter() - started) * 1000)))
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    filename = quote(f"学时证明-{cert.major}-{cert.number}.pdf")
    response.headers["Content-Disposition"] = (
        f"inline; filename=\"certificate-{cert.number}.pdf\"; filename*=UTF-8''{filename}")
    return _private(response)


@bp.get("/certificates/<number>")
@trainee_required
def certificate_page(number: str):
    cert = certificates.certificate_of(db.session, g.trainee.id, number)
    if cert is None:
        return error_page(NOT_FOUND, 404)
    return _private(make_response(_certificate_html(cert)))


@bp.app_template_global("my_certificates")
def my_certificates() -> list[certificates.Certificate]:
    """The signed-in trainee's valid certificates, for the portal's own block.

    A template global rather than one more argument of the portal's view: the portal template grows
    blocks from several features, and each reads its own data without touching the others' view code.
    """
    trainee = g.get("trainee")
    if trainee is None:
        return []
    return [c for c in certificates.certificates_of(db.session, trainee.id) if c.valid]
