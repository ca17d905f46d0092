"""`trainee recount-hours`: after SQL run by hand on the progress rows, the summary is recounted."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text

from models import db
from services.study import learning
from tests import factories
from tests.services.test_earned_hours import complete
from tests.study_util import lesson


def test_recount_hours_catches_up_with_sql_run_by_hand(app, runner):
    lesson_id = lesson(app, hours=6)
    trainee_id = factories.trainee(app)
    complete(app, trainee_id, lesson_id)
    with app.app_context():
        db.session.execute(text("UPDATE lessons SET hours = 7"))  # by hand: the summary doesn't know
        db.session.commit()
        assert learning.courses(db.session, trainee_id)[0].hours_earned == Decimal(6)
    result = runner.invoke(args=["trainee", "recount-hours"])
    assert result.exit_code == 0 and "重新统计 1 名学员" in result.output
    with app.app_context():
        assert learning.courses(db.session, trainee_id)[0].hours_earned == Decimal(7)
