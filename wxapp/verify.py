"""Public verification of an hours certificate, `/verify/<number>` (CONTRACT §8): the page a certificate's
QR code opens on a stranger's phone. No session; masked name and ID card only; limited per address,
so that the page can't be used to walk the number space (31^12 numbers make that hopeless anyway).
"""
from __future__ import annotations

from flask import Blueprint, make_response, render_template

from services.completion import certificates
from wxapp import config
from wxapp.extensions import db, limiter

bp = Blueprint("verify", __name__, template_folder="templates")


def _limit() -> str:
    return config.current().verify_rate_limit


@bp.get("/verify/<number>")
@limiter.limit(_limit)
def verify(number: str):
    found = certificates.verify(db.session, number)
    page = render_template("verify/verify.html", found=found, school_name=config.current().school_name,
                           date_text=certificates.date_text)
    response = make_response(page, 200 if found else 404)
    # The answer changes when a certificate is cancelled: nobody may keep a stale "genuine".
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
