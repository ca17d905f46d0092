"""The trainee's separate consent to face comparison (考试须知：人脸比对), given on the exam page.

`POST /api/exams/face-consent` (CSRF token in `X-CSRFToken`) records it: 200 `{"consented": true}`;
the exam start (`POST /api/exams/<id>/attempts`) also takes a form field `face_consent=1`.
`GET /api/exams/face-consent` says whether it is asked and given, and with what words.
"""
from __future__ import annotations

from flask import g, jsonify

from services.exam.faces.gate import consent_text
from services.timeutil import utcnow
from wxapp.api import bp
from wxapp.extensions import db, face_gate
from wxapp.h5.auth import trainee_required


@bp.get("/exams/face-consent")
@trainee_required
def face_consent_state():
    gate = face_gate()
    return jsonify(required=gate.enabled, consented=gate.has_consent(db.session, g.trainee.id),
                   text=consent_text(gate.settings) if gate.enabled else [])


@bp.post("/exams/face-consent")
@trainee_required
def face_consent_give():
    gate = face_gate()
    gate.give_consent(db.session, g.trainee.id, utcnow())
    return jsonify(required=gate.enabled, consented=True)
