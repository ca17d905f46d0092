"""One handler renders a service's refusal (`wxapp/errors.py`): its Chinese message with the status
the `ServiceError` carries, as JSON for the API, as a page for H5, and for a console form flashed
on the page the form was posted from."""
from __future__ import annotations

from services import ServiceError
from services.exam import ExamError
from tests.admin.conftest import console_on


def test_a_service_error_carries_its_status_400_unless_told():
    assert ServiceError("不行").status == 400
    assert ServiceError("没有这个班级", status=404).status == 404
    assert ExamError("没有找到这次考试记录", 404).status == 404


def test_a_refusal_answers_json_and_h5_with_its_message_and_status(app):
    def refuse():
        raise ServiceError("班级 NOPE 不存在", "class NOPE missing", status=404)

    app.add_url_rule("/api/test-refusal", "api_refusal", refuse)
    app.add_url_rule("/h5/test-refusal", "h5_refusal", refuse)
    client = app.test_client()
    api = client.get("/api/test-refusal")
    assert (api.status_code, api.get_json()) == (404, {"error": "班级 NOPE 不存在"})
    page = client.get("/h5/test-refusal")
    assert page.status_code == 404 and "班级 NOPE 不存在" in page.get_data(as_text=True)
    assert "class NOPE missing" not in page.get_data(as_text=True)


def test_a_console_forms_refusal_is_flashed_on_the_page_it_came_from(app):
    console = console_on(app)
    answer = console.post("/admin/classes/NOPE-1/edit", data={"name": "x", "starts": "2027-03-01 09:00",
                                                              "place": "y"}, headers={"Referer": "/admin/classes"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/admin/classes"
    assert "班级 NOPE-1 不存在" in console.text("/admin/classes")
    htmx = console.post("/admin/classes/NOPE-1/members", data={"who": "13912340001"},
                        headers={"Referer": "http://localhost/admin/classes", "HX-Request": "true"})
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"] == "/admin/classes"
    elsewhere = console.post("/admin/classes/NOPE-1/members", data={"who": "1"},
                             headers={"Referer": "https://evil.example/admin/x"})
    assert elsewhere.headers["Location"] == "/admin/"
