"""Face comparison in the background (CONTRACT §7) on real photos: the scheduler's job embeds new
photos (encrypted at rest) and flags a trainee whose exam photos show another trainee's face, with
that trainee linked; staff's 确认无误 is recorded and holds until new evidence; the retention rule
deletes photos and embeddings together."""
from __future__ import annotations

from datetime import timedelta

import pytest

pytest.importorskip("dlib", reason="requirements-face.txt")

from models import AuditEntry, db  # noqa: E402
from models.exam import ExamAttempt  # noqa: E402
from models.faces import FaceEmbedding, FaceReview  # noqa: E402
from scheduler import jobs  # noqa: E402
from services.exam.faces import review  # noqa: E402
from services.exam.faces import signals as sig  # noqa: E402
from services.timeutil import utcnow  # noqa: E402
from tests import factories  # noqa: E402
from tests.exam_util import bank, full_hours  # noqa: E402
from tests.faces_util import astronaut, grace_hopper, jpeg, sit_with, variants  # noqa: E402
from tests.notify_util import id_card, phone  # noqa: E402

NAMES = ["周一", "李梅", "王强", "赵四"]


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(STORAGE_URL=str(tmp_path / "photos"), FACE_MATCH="on")


@pytest.fixture
def trainees(app):
    ids = [factories.trainee(app, name=name, phone=phone(i + 1), id_card=id_card(i + 1)) for i, name in enumerate(NAMES)]
    bank(app)
    for trainee_id in ids:
        full_hours(app, trainee_id)
    return ids


def analyse(app):
    with app.app_context():
        jobs.analyse_exam_faces()


def reviews(app) -> dict[int, FaceReview]:
    with app.app_context():
        return {r.attempt_id: r for r in db.session.query(FaceReview)}


def test_the_job_embeds_each_photo_encrypted_and_an_honest_attempt_raises_nothing(app, trainees):
    hopper = variants(grace_hopper())
    attempt = sit_with(app, trainees[0], hopper["crop"], hopper["brighter"])
    analyse(app)
    with app.app_context():
        rows = db.session.query(FaceEmbedding).filter_by(attempt_id=attempt).all()
        assert sorted((r.moment, r.state) for r in rows) == [("after", "ok"), ("before", "ok")]
        assert all(len(r.vector_enc) == 12 + 512 + 16 for r in rows)
        assert review.waiting_count(db.session) == 0
    assert attempt not in reviews(app) or reviews(app)[attempt].risk == 0


def test_a_trainee_whose_photos_show_another_trainees_face_is_flagged_with_that_trainee_linked(app, trainees):
    honest = sit_with(app, trainees[0], jpeg(grace_hopper()), variants(grace_hopper())["tilted"])
    other = sit_with(app, trainees[1], jpeg(astronaut()), variants(astronaut())["darker"])
    analyse(app)
    assert reviews(app) == {}
    proxied = sit_with(app, trainees[2], variants(grace_hopper())["crop"], variants(grace_hopper())["recompressed"])
    analyse(app)
    found = reviews(app)
    assert set(found) == {honest, proxied} and other not in found
    [shared] = [sig.Signal.from_json(s) for s in found[proxied].signals]
    assert (shared.kind, shared.count, shared.attempts, shared.trainees) == ("shared_face", 2, [honest], [trainees[0]])
    assert shared.text == "同一人出现在 2 名学员的考试照片中" and shared.distance < 0.6
    [back] = [sig.Signal.from_json(s) for s in found[honest].signals]
    assert (back.kind, back.attempts, back.trainees) == ("shared_face", [proxied], [trainees[2]])
    with app.app_context():
        [first, second] = review.queue(db.session)
        assert {first.attempt.id, second.attempt.id} == {honest, proxied} and first.linked


def test_before_and_after_of_different_people_is_flagged_with_its_distance(app, trainees):
    attempt = sit_with(app, trainees[3], jpeg(astronaut()), jpeg(grace_hopper()))
    analyse(app)
    kinds = {s["kind"]: s for s in reviews(app)[attempt].signals}
    assert kinds["before_after"]["distance"] > 0.6
    assert sig.Signal.from_json(kinds["before_after"]).text == "考前考后照片不是同一人"


def test_cleared_attempts_leave_the_queue_recorded_and_come_back_only_with_new_evidence(app, trainees):
    first = sit_with(app, trainees[0], jpeg(grace_hopper()), jpeg(grace_hopper()))
    second = sit_with(app, trainees[1], variants(grace_hopper())["crop"], variants(grace_hopper())["darker"])
    analyse(app)
    with app.app_context():
        review.clear(db.session, second, "wang", utcnow())
        assert [i.attempt.id for i in review.queue(db.session)] == [first]
        [entry] = db.session.query(AuditEntry).filter_by(action="exam_face_cleared").all()
        assert entry.actor == "wang" and entry.target == f"attempt:{second}" and "李梅" in entry.detail
        review.clear(db.session, first, "wang", utcnow())
        assert review.waiting_count(db.session) == 0
    third = sit_with(app, trainees[2], variants(grace_hopper())["larger"], variants(grace_hopper())["tilted"])
    analyse(app)
    with app.app_context():
        queued = {i.attempt.id: i for i in review.queue(db.session)}
        assert set(queued) == {first, second, third}  # a third trainee with the same face: new evidence
        assert queued[third].signals[0].count == 3


def test_the_job_takes_the_newest_photos_first_and_stops_at_its_budget(app, trainees):
    from services.exam.faces import analysis
    from wxapp.extensions import face_tools

    old = sit_with(app, trainees[0], jpeg(grace_hopper()), None)
    new = sit_with(app, trainees[1], jpeg(astronaut()), None)
    ticks = iter(range(100))
    with app.app_context():
        report = analysis.run(face_tools(), utcnow(), budget_s=2, clock=lambda: next(ticks))
        assert report.analysed == 1 and report.left
        assert [r.attempt_id for r in db.session.query(FaceEmbedding)] == [new]
        analysis.run(face_tools(), utcnow())
        assert {r.attempt_id for r in db.session.query(FaceEmbedding)} == {old, new}


def test_retention_deletes_old_photos_with_their_embeddings_and_keeps_recent_ones(app, trainees, tmp_path):
    old = sit_with(app, trainees[0], jpeg(grace_hopper()), jpeg(grace_hopper()), when=utcnow() - timedelta(days=400))
    recent = sit_with(app, trainees[1], jpeg(astronaut()), jpeg(astronaut()))
    analyse(app)
    with app.app_context():
        jobs.purge_exam_photos()
        gone = db.session.get(ExamAttempt, old)
        assert (gone.photo_before, gone.photo_after) == (None, None)
        assert {r.attempt_id for r in db.session.query(FaceEmbedding)} == {recent}
    left = [p.name for p in (tmp_path / "photos").rglob("*.jpg")]
    assert len(left) == 2 and not list((tmp_path / "photos" / "exam" / str(old)).glob("*.jpg"))


def test_an_attempt_deleted_with_its_trainee_takes_its_embeddings(app, trainees, database_url):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite enforces no foreign keys here; the cascade is PostgreSQL's")
    attempt = sit_with(app, trainees[0], jpeg(grace_hopper()), None)
    analyse(app)
    with app.app_context():
        db.session.execute(db.delete(ExamAttempt).where(ExamAttempt.id == attempt))
        db.session.commit()
        assert db.session.query(FaceEmbedding).count() == 0
