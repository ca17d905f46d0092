"""A seeded term (issue 23's "done when"): 500 honest attempts and three planted proxies, one real
face (Grace Hopper's, embedded by dlib from three different photos) on three trainees' photos.
The queue shows the three at the top, and no honest attempt above them.

Few real faces ship in packages, so the honest trainees' embeddings are drawn at random at the
distances dlib gives real people: different people around 0.9 apart (LFW), the same person's
photos around 0.35 apart. Honest false alarms are planted too, as dlib's 0.6 % error rate makes
them in a real term: look-alike pairs of trainees just under the threshold, and blurred photos
whose before and after lie just over it; they may be queued, but below the proxies.
"""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

pytest.importorskip("dlib", reason="requirements-face.txt")

from models import Enrollment, Trainee, db  # noqa: E402
from models.exam import ExamAttempt  # noqa: E402
from models.faces import FaceEmbedding  # noqa: E402
from services.exam import photos  # noqa: E402
from services.exam.faces import analysis, review  # noqa: E402
from services.exam.faces.engine import FaceEngine  # noqa: E402
from services.identity.pii import mask_id_card  # noqa: E402
from services.school.majors import ensure_majors  # noqa: E402
from services.timeutil import utcnow  # noqa: E402
from tests.faces_util import grace_hopper, variants  # noqa: E402
from tests.notify_util import id_card, phone  # noqa: E402

HONEST_TRAINEES = 400
HONEST_ATTEMPTS = 500  # 100 of the trainees sat twice (a fail, then a pass)
SAME_PERSON_NOISE = 0.35 / np.sqrt(2 * 128)  # before vs after of one person: ~0.35 apart
PEOPLE_SPREAD = 0.9 / np.sqrt(2 * 128)  # two different people: ~0.9 apart


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(STORAGE_URL=str(tmp_path / "photos"), FACE_MATCH="on")


def proxy_face() -> list[np.ndarray]:
    """The real face: Grace Hopper as six different photos of her."""
    engine = FaceEngine()
    found = [engine.embed(photos.prepare(data)) for data in variants(grace_hopper()).values()]
    assert all(f.state == "ok" for f in found)
    return [f.vector for f in found]


def honest_faces(rng: np.random.Generator, proxy: np.ndarray) -> np.ndarray:
    """One identity per honest trainee, ~0.9 from each other and from the proxy."""
    away = rng.normal(size=128)
    centre = proxy + away / np.linalg.norm(away) * np.sqrt(0.9 ** 2 - 128 * PEOPLE_SPREAD ** 2)
    faces = centre + rng.normal(scale=PEOPLE_SPREAD, size=(HONEST_TRAINEES, 128))
    for a, b in ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10)):  # look-alikes: just under the threshold
        direction = rng.normal(size=128)
        faces[b] = faces[a] + direction / np.linalg.norm(direction) * rng.uniform(0.50, 0.58)
    return faces


def seed_term(app, tools) -> tuple[list[int], list[int]]:
    """(the honest attempts, the three proxies' attempts), embeddings stored as the job stores them."""
    rng = np.random.default_rng(23)
    proxy = proxy_face()
    faces = honest_faces(rng, proxy[0])
    blurred = set(rng.choice(HONEST_TRAINEES, 6, replace=False).tolist())  # before vs after just over 0.6
    cipher, now = app.extensions["pii"], utcnow()
    major = ensure_majors(db.session)["建筑工程"]
    rows: list[tuple[ExamAttempt, np.ndarray, np.ndarray]] = []

    def sit(trainee: Trainee, before: np.ndarray, after: np.ndarray, passed: bool, days_ago: int) -> ExamAttempt:
        started = now - timedelta(days=days_ago)
        attempt = ExamAttempt(enrollment=trainee.enrollments[0], trainee=trainee, major=major, paper=[],
                              started_at=started, deadline=started + timedelta(hours=1),
                              submitted_at=started + timedelta(minutes=40), submitted_by="trainee",
                              score=80 if passed else 40, passed=passed, photo_before="x.jpg", photo_after="y.jpg")
        db.session.add(attempt)
        rows.append((attempt, before, after))
        return attempt

    def person(n: int) -> Trainee:
        number = id_card(n)
        trainee = Trainee(name=f"学员{n}", phone=phone(n), company="示例建设", id_card_hash=cipher.lookup_hash(number),
                          id_card_enc=cipher.encrypt(number), id_card_mask=mask_id_card(number),
                          enrollments=[Enrollment(major=major, kind="main", fee=615)])
        db.session.add(trainee)
        return trainee

    def shot(face: np.ndarray, scale: float = SAME_PERSON_NOISE) -> np.ndarray:
        return face + rng.normal(scale=scale, size=128)

    honest, proxied = [], []
    for n in range(HONEST_TRAINEES):
        trainee = person(n + 1)
        if n < HONEST_ATTEMPTS - HONEST_TRAINEES:
            honest.append(sit(trainee, shot(faces[n]), shot(faces[n]), passed=False, days_ago=20))
        after_noise = 0.68 / np.sqrt(128) if n in blurred else SAME_PERSON_NOISE
        honest.append(sit(trainee, shot(faces[n]), shot(faces[n], after_noise), passed=True, days_ago=5))
    for k in range(3):
        trainee = person(1000 + k)
        proxied.append(sit(trainee, proxy[2 * k], proxy[2 * k + 1], passed=True, days_ago=3 - k))
    db.session.flush()
    for attempt, before, after in rows:
        for moment, vector in (("before", before), ("after", after)):
            db.session.add(FaceEmbedding(attempt_id=attempt.id, trainee_id=attempt.trainee_id, moment=moment,
                                         photo_key="x.jpg", state="ok",
                                         vector_enc=tools.vault.seal(vector.astype(np.float32), attempt.id, moment)))
    db.session.commit()
    return [a.id for a in honest], [a.id for a in proxied]


def test_the_three_planted_proxies_top_the_queue_above_every_honest_attempt(app):
    from wxapp.extensions import face_tools

    with app.app_context():
        tools = face_tools()
        honest, proxied = seed_term(app, tools)
        assert len(honest) == HONEST_ATTEMPTS
        analysis.assess_attempts(tools, set(honest) | set(proxied), utcnow())
        queue = review.queue(db.session, limit=100)
        top = [item.attempt.id for item in queue[:3]]
        assert sorted(top) == sorted(proxied)
        for item in queue[:3]:
            shared = next(s for s in item.signals if s.kind == "shared_face")
            assert shared.count == 3 and shared.text == "同一人出现在 3 名学员的考试照片中"
            assert sorted(shared.attempts) == sorted(set(proxied) - {item.attempt.id})
        false_alarms = [item for item in queue if item.attempt.id in set(honest)]
        assert false_alarms, "the planted look-alikes and blurred photos are queued too"
        assert max(i.review.risk for i in false_alarms) < min(i.review.risk for i in queue[:3])
        kinds = {s.kind for item in false_alarms for s in item.signals}
        assert kinds == {"shared_face", "before_after"}
