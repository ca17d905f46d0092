"""`GET /api/courses`: the trainee's courses with hours and lessons."""
from __future__ import annotations

from flask import g, jsonify

from services.study import learning
from wxapp.api import bp
from wxapp.extensions import db
from wxapp.h5.auth import trainee_required


@bp.get("/courses")
@trainee_required
def courses():
    return jsonify([
        {
            "id": c.id, "name": c.name, "kind": c.kind, "major": c.major,
            "hours_required": float(c.hours_required), "hours_earned": float(c.hours_earned),
            "lessons": [
                {"id": le.id, "title": le.title, "duration_s": le.duration_s, "hours": float(le.hours),
                 "completed": le.completed}
                for le in c.lessons
            ],
        }
        for c in learning.course_details(db.session, g.trainee.id)
    ])
