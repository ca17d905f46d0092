"""考试复核 on the console (/admin/exams/review): flagged attempts riskiest first with their reasons
and the matched photos beside theirs, 确认无误 (recorded, leaves the queue), 取消成绩 (the existing
void), the dashboard's count, and 人脸比对未启用 where it is off; the `exam faces` commands."""
from __future__ import annotations

import re

import pytest

pytest.importorskip("dlib", reason="requirements-face.txt")

from models import AuditEntry, Completion, db  # noqa: E402
from models.exam import ExamAttempt  # noqa: E402
from models.faces import FaceEmbedding  # noqa: E402
from scheduler import jobs  # noqa: E402
from tests import factories  # noqa: E402
from tests.admin.conftest import console_on  # noqa: E402
from tests.exam_util import bank, full_hours  # noqa: E402
from tests.faces_util import astronaut, grace_hopper, jpeg, sit_with, variants  # noqa: E402
from tests.notify_util import id_card, phone  # noqa: E402


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(STORAGE_URL=str(tmp_path / "photos"), FACE_MATCH="on")


@pytest.fixture
def term(app):
    """周一 sat with her own face; 李梅 and 王强 sat with 周一's face (a proxy); 赵四 honestly."""
    ids = [factories.trainee(app, name=name, phone=phone(i + 1), id_card=id_card(i + 1))
           for i, name in enumerate(["周一", "李梅", "王强", "赵四"])]
    bank(app)
    for trainee_id in ids:
        full_hours(app, trainee_id)
    hopper = variants(grace_hopper())
    attempts = [sit_with(app, ids[0], jpeg(grace_hopper()), hopper["brighter"]),
                sit_with(app, ids[1], hopper["crop"], hopper["tilted"]),
                sit_with(app, ids[2], hopper["larger"], hopper["darker"]),
                sit_with(app, ids[3], jpeg(astronaut()), variants(astronaut())["crop"])]
    with app.app_context():
        jobs.analyse_exam_faces()
    return ids, attempts


def test_the_queue_shows_flagged_attempts_with_reasons_and_the_matched_photos(app, term):
    ids, attempts = term
    console = console_on(app)
    page = console.text("/admin/exams/review")
    assert "同一人出现在 3 名学员的考试照片中" in page and "距离 0." in page
    assert 'id="waiting">3<' in page and f"review-{attempts[3]}" not in page
    for attempt_id, trainee_id in zip(attempts[:3], ids[:3], strict=True):
        assert f'id="review-{attempt_id}"' in page
        assert f"/admin/trainees/{trainee_id}/attempts/{attempt_id}/before.jpg" in page  # own and linked photos
    assert "13900000001" not in page and "3205" in page  # masked
    photo = console.get(f"/admin/trainees/{ids[1]}/attempts/{attempts[1]}/before.jpg")
    assert photo.status_code == 200 and photo.headers["Content-Type"] == "image/jpeg"
    dashboard = console.text("/admin/")
    assert re.search(r'考试待复核 <a class="figure-link" href="/admin/exams/review">3</a>', dashboard)


def test_confirming_is_recorded_and_leaves_the_queue(app, term):
    _, attempts = term
    console = console_on(app)
    page = console.post(f"/admin/exams/review/{attempts[0]}/clear", follow_redirects=True).get_data(as_text=True)
    assert "已确认无误" in page and f'id="review-{attempts[0]}"' not in page and 'id="waiting">2<' in page
    with app.app_context():
        [entry] = db.session.query(AuditEntry).filter_by(action="exam_face_cleared").all()
        assert entry.actor == "wang" and entry.target == f"attempt:{attempts[0]}"
    again = console.post(f"/admin/exams/review/{attempts[0]}/clear", follow_redirects=True).get_data(as_text=True)
    assert "已由 wang 确认无误" in again


def test_cancelling_the_result_is_the_existing_void_and_leaves_the_queue(app, term):
    ids, attempts = term
    console = console_on(app)
    page = console.post(f"/admin/exams/review/{attempts[1]}/void", data={"reason": "考试照片与本人不符（替考）"},
                        follow_redirects=True).get_data(as_text=True)
    assert "已取消考试记录" in page and f'id="review-{attempts[1]}"' not in page
    with app.app_context():
        attempt = db.session.get(ExamAttempt, attempts[1])
        assert attempt.voided_by == "wang" and attempt.void_reason == "考试照片与本人不符（替考）"
        assert db.session.query(Completion).filter_by(trainee_id=ids[1]).one().state == "cancelled"
        assert db.session.query(AuditEntry).filter_by(action="exam_voided").count() == 1
    refused = console.post(f"/admin/exams/review/{attempts[2]}/void", data={"reason": " "}, follow_redirects=True)
    assert "请填写取消成绩的原因" in refused.get_data(as_text=True)


def test_the_console_says_when_face_comparison_is_off(make_app, tmp_path):
    app = make_app(STORAGE_URL=str(tmp_path / "photos"), FACE_MATCH="off")
    page = console_on(app).text("/admin/exams/review")
    assert "人脸比对未启用" in page and "没有待复核的考试" in page


def test_cli_shows_an_attempts_signals_masked(app, term):
    ids, attempts = term
    result = app.test_cli_runner().invoke(args=["exam", "faces", "show", str(attempts[1])])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "同一人出现在 3 名学员的考试照片中（距离 0." in out and "阈值 0.6" in out
    assert f"考试记录 #{attempts[0]}" in out and f"考试记录 #{attempts[2]}" in out and "周一" in out
    assert "139****0002" in out and "13900000002" not in out and "待复核" in out
    missing = app.test_cli_runner().invoke(args=["exam", "faces", "show", "99999"])
    assert missing.exit_code == 1 and "没有编号为 99999 的考试记录" in missing.output


def test_cli_backfill_analyses_photos_uploaded_before_the_feature(make_app, tmp_path):
    before = make_app(STORAGE_URL=str(tmp_path / "photos"), FACE_MATCH="off")
    trainee_id = factories.trainee(before)
    bank(before)
    full_hours(before, trainee_id)
    sit_with(before, trainee_id, jpeg(grace_hopper()), jpeg(astronaut()))
    refused = before.test_cli_runner().invoke(args=["exam", "faces", "backfill"])
    assert refused.exit_code == 1 and "人脸比对未启用" in refused.output
    after = make_app(STORAGE_URL=str(tmp_path / "photos"), FACE_MATCH="on")
    result = after.test_cli_runner().invoke(args=["exam", "faces", "backfill"])
    assert result.exit_code == 0, result.output
    assert "已分析照片 2 张" in result.output and "新进入待复核名单 1 次" in result.output
    with after.app_context():
        assert db.session.query(FaceEmbedding).count() == 2
    again = after.test_cli_runner().invoke(args=["exam", "faces", "backfill"])
    assert "已分析照片 0 张" in again.output
