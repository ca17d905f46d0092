"""The exam over HTTP (CONTRACT §7): the JSON exactly, CSRF, photos, sessions, other trainees,
the page, the portal and MY_EXAM."""
from __future__ import annotations

import io
import re

import pytest

from models import db
from models.exam import ExamAttempt
from tests import factories
from tests.conftest import TEST_TOKEN
from tests.exam_util import bank, full_hours, keys_of, photo
from tests.h5.oauth_util import login
from tests.wechat_util import WeChatServer, event_xml, reply_content

OPENID = "oExamHttp00000000000000000001"
OTHER = "oExamHttp00000000000000000002"
ATTEMPT_KEYS = {"id", "exam_id", "deadline", "questions", "submitted", "score", "passed"}


@pytest.fixture
def app(make_app, fake_wechat, tmp_path):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url, STORAGE_URL=str(tmp_path / "photos"))


@pytest.fixture
def trainee(app):
    trainee_id = factories.trainee(app, openid=OPENID)
    bank(app)
    full_hours(app, trainee_id)
    return trainee_id


class Browser:
    """A logged-in test client that sends the page's CSRF token, as exam.js does."""

    def __init__(self, app, fake_wechat, openid):
        self.client = app.test_client()
        login(self.client, fake_wechat, openid, "/h5/exam")
        page = self.client.get("/h5/exam").get_data(as_text=True)
        self.token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)

    def get(self, path):
        return self.client.get(path)

    def start(self, exam_id, picture=None, **form):
        data = dict(form)
        if picture is not None:
            data["photo"] = (io.BytesIO(picture), "me.jpg")
        return self.client.post(f"/api/exams/{exam_id}/attempts", data=data, headers={"X-CSRFToken": self.token},
                                content_type="multipart/form-data")

    def answer(self, attempt_id, question_id, keys):
        return self.client.put(f"/api/attempts/{attempt_id}/answers/{question_id}", json={"answer": keys},
                               headers={"X-CSRFToken": self.token})

    def submit(self, attempt_id, picture=None):
        data = {"photo": (io.BytesIO(picture), "me.jpg")} if picture is not None else {}
        return self.client.post(f"/api/attempts/{attempt_id}/submit", data=data, headers={"X-CSRFToken": self.token},
                                content_type="multipart/form-data")


@pytest.fixture
def browser(app, fake_wechat, trainee):
    return Browser(app, fake_wechat, OPENID)


def exam_id(browser) -> int:
    return browser.get("/api/exams").json[0]["id"]


def test_exams_list_has_the_contract_shape_and_names_what_is_missing(app, fake_wechat):
    trainee_id = factories.trainee(app, openid=OPENID, majors=(("建筑工程", "main"), ("机电工程", "added")))
    full_hours(app, trainee_id, majors=("建筑工程",))
    full_hours(app, trainee_id, majors=("机电工程",), major_done=False)
    exams = Browser(app, fake_wechat, OPENID).get("/api/exams").json
    assert [set(e) for e in exams] == [{"id", "major", "state", "best_score", "attempts", "time_limit_s", "missing"}] * 2
    building, electro = exams
    assert (building["major"], building["state"], building["missing"], building["best_score"], building["attempts"],
            building["time_limit_s"]) == ("建筑工程", "open", [], None, 0, 3600)
    assert (electro["state"], electro["missing"]) == ("locked", ["还差 机电工程专业课 40 学时"])


def test_a_locked_exam_refuses_to_start(app, fake_wechat):
    trainee_id = factories.trainee(app, openid=OPENID)
    full_hours(app, trainee_id, public_done=False)
    bank(app)
    browser = Browser(app, fake_wechat, OPENID)
    r = browser.start(exam_id(browser), photo())
    assert r.status_code == 403 and "还差 公共课 4 学时" in r.json["error"]


def test_start_without_csrf_token_or_usable_photo_is_refused(browser):
    eid = exam_id(browser)
    r = browser.client.post(f"/api/exams/{eid}/attempts", data={"photo": (io.BytesIO(photo()), "a.jpg")})
    assert r.status_code == 400
    for picture in (None, b"GIF89a not really", photo("GIF"), b"x" * (5 * 1024 * 1024 + 1)):
        r = browser.start(eid, picture)
        assert r.status_code == 400 and "照片" in r.json["error"]
    assert browser.get("/api/exams").json[0]["attempts"] == 0


def test_attempt_has_the_contract_shape_without_correct_answers_and_reloads_the_same(app, browser):
    r = browser.start(exam_id(browser), photo())
    assert r.status_code == 201
    attempt = r.json
    assert set(attempt) == ATTEMPT_KEYS and (attempt["submitted"], attempt["score"], attempt["passed"]) == (False, None, None)
    question = attempt["questions"][0]
    assert set(question) == {"id", "type", "stem", "options", "answer"} and question["answer"] is None
    judge = next(q for q in attempt["questions"] if q["type"] == "judge")
    assert judge["options"] == [{"key": "T", "text": "对"}, {"key": "F", "text": "错"}]
    assert browser.answer(attempt["id"], question["id"], ["A"]).status_code == 204
    again = browser.start(exam_id(browser))  # in progress: 200, no photo needed
    assert again.status_code == 200 and again.json["id"] == attempt["id"]
    reloaded = browser.get(f"/api/attempts/{attempt['id']}").json
    assert [q["id"] for q in reloaded["questions"]] == [q["id"] for q in attempt["questions"]]
    assert reloaded["questions"][0]["answer"] == ["A"]
    body = browser.get(f"/api/attempts/{attempt['id']}").get_data(as_text=True)
    with app.app_context():
        assert "explanation" not in body and '"answer": "B"' not in body


def test_answers_are_checked(browser):
    attempt = browser.start(exam_id(browser), photo()).json
    single = next(q for q in attempt["questions"] if q["type"] == "single")
    assert browser.answer(attempt["id"], single["id"], ["Z"]).status_code == 400
    assert browser.answer(attempt["id"], single["id"], ["A", "B"]).status_code == 400
    r = browser.client.put(f"/api/attempts/{attempt['id']}/answers/{single['id']}", data="x",
                           headers={"X-CSRFToken": browser.token})
    assert r.status_code == 400 and "error" in r.json
    assert browser.answer(attempt["id"], 999999, ["A"]).status_code == 404


def test_another_session_of_the_same_trainee_gets_409_until_released(app, fake_wechat, browser, runner):
    attempt = browser.start(exam_id(browser), photo()).json
    second = Browser(app, fake_wechat, OPENID)
    assert second.get(f"/api/attempts/{attempt['id']}").status_code == 409
    r = second.start(exam_id(second), photo())
    assert r.status_code == 409 and "另一个页面或设备" in r.json["error"]
    assert second.answer(attempt["id"], attempt["questions"][0]["id"], ["A"]).status_code == 409
    result = app.test_cli_runner().invoke(args=["exam", "release", str(attempt["id"])])
    assert result.exit_code == 0 and "已释放" in result.output
    assert second.get(f"/api/attempts/{attempt['id']}").status_code == 200
    assert browser.get(f"/api/attempts/{attempt['id']}").status_code == 409


def test_another_trainees_attempt_exam_and_photo_are_404(app, fake_wechat, browser):
    attempt = browser.start(exam_id(browser), photo()).json
    other_id = factories.trainee(app, name="吴二", phone="13912340002", id_card="32058319751212108X", openid=OTHER)
    full_hours(app, other_id)
    other = Browser(app, fake_wechat, OTHER)
    assert other.get(f"/api/attempts/{attempt['id']}").status_code == 404
    assert other.start(attempt["exam_id"], photo()).status_code == 404
    assert other.answer(attempt["id"], attempt["questions"][0]["id"], ["A"]).status_code == 404
    assert other.submit(attempt["id"], photo()).status_code == 404
    assert other.get(f"/h5/exam/attempts/{attempt['id']}/photo/before").status_code == 404
    mine = browser.get(f"/h5/exam/attempts/{attempt['id']}/photo/before")
    assert mine.status_code == 200 and mine.mimetype == "image/jpeg" and "no-store" in mine.headers["Cache-Control"]


def test_fail_then_retake_then_pass_closes_the_exam(app, browser):
    eid = exam_id(browser)
    first = browser.start(eid, photo()).json
    assert browser.submit(first["id"]).status_code == 400  # the photo after is required
    result = browser.submit(first["id"], photo()).json
    assert result == {"score": 0, "passed": False, "correct": 0, "total": 55}
    assert browser.submit(first["id"], photo()).status_code == 409
    assert browser.answer(first["id"], first["questions"][0]["id"], ["A"]).status_code == 409
    second = browser.start(eid, photo())
    assert second.status_code == 201
    for question_id, keys in keys_of(app, second.json["id"]).items():
        assert browser.answer(second.json["id"], question_id, keys).status_code == 204
    assert browser.submit(second.json["id"], photo()).json == {"score": 100, "passed": True, "correct": 55, "total": 55}
    exams = browser.get("/api/exams").json
    assert (exams[0]["state"], exams[0]["best_score"], exams[0]["attempts"]) == ("passed", 100, 2)
    assert browser.start(eid, photo()).status_code == 403
    assert "已合格（100分）" in browser.get("/h5/learn").get_data(as_text=True)
    wechat = WeChatServer(app.test_client(), TEST_TOKEN)
    answer = reply_content(wechat.post(event_xml(OPENID, "CLICK", "MY_EXAM")).data)
    assert "建筑工程：已合格（100分）" in answer


def test_photo_from_the_jssdk_is_fetched_through_media_get(app, fake_wechat, browser):
    fake_wechat.add_media("media-123", photo())
    r = browser.start(exam_id(browser), media_id="unknown-media")
    assert r.status_code == 400 and "微信" in r.json["error"]
    r = browser.start(exam_id(browser), media_id="media-123")
    assert r.status_code == 201
    assert fake_wechat.calls("cgi-bin/media/get")[-1].query["media_id"] == "media-123"
    with app.app_context():
        assert db.session.get(ExamAttempt, r.json["id"]).photo_before.startswith(f"exam/{r.json['id']}/before-")


def test_page_has_csrf_meta_and_works_without_the_jssdk(browser):
    page = browser.get("/h5/exam").get_data(as_text=True)
    assert 'name="csrf-token"' in page and 'capture="user"' in page and 'accept="image/*"' in page
    assert '"jssdk": null' in page
