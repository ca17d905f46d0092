"""The staff console in a laptop-sized Chromium (1366×768): log in, upload a roster, preview and
confirm, open the class, notify it (confirmation, then delivery), find a trainee, unbind; review a
trainee's exam with both photos, void it, and export the completions; retire a lesson and restore it."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from models import Lesson, WechatUser, db
from services.identity import staff
from services.school.imports import import_catalog
from tests import factories
from tests.browser.conftest import _free_port, screenshot
from tests.notify_util import CLASS_CODE, id_card, notify_settings, phone, template_recipients
from tests.xlsx_files import CATALOG_SAMPLE, ROSTER_SAMPLE

pytestmark = pytest.mark.browser
LAPTOP = {"width": 1366, "height": 768}
PASSWORD = "Jiaowu2027ok"


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url  # one backend is enough for the browser; the pages are tested on both


@pytest.fixture
def console_app(make_app, fake_wechat):
    port = _free_port()
    origin = f"http://127.0.0.1:{port}"
    app = make_app(PUBLIC_BASE_URL=origin, **notify_settings(fake_wechat))
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, origin
    server.shutdown()


@pytest.fixture
def laptop(chromium):
    context = chromium.new_context(viewport=LAPTOP, locale="zh-CN")
    context.route("**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url else route.abort())
    yield context.new_page()
    context.close()


def test_staff_member_runs_a_class_from_roster_to_unbind(console_app, laptop, fake_wechat):
    app, origin = console_app
    page = laptop
    factories.training_class(app)
    bound = factories.trainee(app, name="李梅", phone=phone(50), id_card=id_card(50), openid="oLiMei",
                              class_code=CLASS_CODE)
    with app.app_context():
        staff.create(db.session, "wang", PASSWORD, "test")

    page.goto(f"{origin}/admin/classes")
    assert page.url.startswith(f"{origin}/admin/login")
    screenshot(page, "console-1-login")
    page.fill("#username", "wang")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_url(f"{origin}/admin/classes")  # back where the staff member wanted to go

    page.goto(f"{origin}/admin/")
    assert page.locator("a.figure-link").first.inner_text() == "1"
    screenshot(page, "console-2-dashboard")

    page.click("nav >> text=报名名单")
    page.set_input_files("#file", str(ROSTER_SAMPLE))
    page.click("button:has-text('上传并预览')")
    assert "第12行" in page.locator("#rejected").inner_text()
    assert "校验位" in page.locator("#rejected").inner_text()
    screenshot(page, "console-3-roster-preview")
    page.click("button:has-text('确认导入')")
    assert "已导入" in page.locator("h1").inner_text()
    screenshot(page, "console-4-roster-imported")
    page.click("a:has-text('费用汇总')")
    page.click("button:has-text('本单位全部已缴')")
    assert "已标记为已缴费" in page.locator(".alert-success").inner_text()
    screenshot(page, "console-4b-fees")

    page.click("nav >> text=班级")
    page.click(f"text={CLASS_CODE}")
    assert page.locator("#members ~ table tbody tr").count() == 2
    screenshot(page, "console-5-class")

    page.click("button:has-text('发送开班通知')")
    assert page.locator("#count-wechat").inner_text() == "1" and page.locator("#count-sms").inner_text() == "1"
    screenshot(page, "console-6-notify-confirm")
    page.click("button:has-text('确认发送')")
    page.wait_for_selector("#delivery-table .state-sent")
    assert page.locator("#delivery-table .state-sent").count() == 2
    assert sum(template_recipients(fake_wechat).values()) == 1
    screenshot(page, "console-7-delivery")

    page.click("nav >> text=学员")
    page.fill("#q", phone(50))
    page.click("button:has-text('查找')")
    page.wait_for_url(f"{origin}/admin/trainees/{bound}")
    assert phone(50) not in page.content()
    screenshot(page, "console-8-trainee")
    page.fill("input[name=reason]", "学员更换手机")
    page.click("button:has-text('解绑')")
    assert "已解绑微信" in page.locator(".alert-success").inner_text()
    screenshot(page, "console-9-unbound")
    with app.app_context():
        assert db.session.query(WechatUser).filter_by(trainee_id=bound).count() == 0


def test_admin_reveals_an_id_card_through_htmx_and_reads_the_audit_log(console_app, laptop):
    app, origin = console_app
    page = laptop
    trainee = factories.trainee(app, name="李梅", phone=phone(50), id_card=id_card(50))
    with app.app_context():
        staff.create(db.session, "chen", PASSWORD, "test", "admin")
    page.goto(f"{origin}/admin/login")
    page.fill("#username", "chen")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_url(f"{origin}/admin/")

    page.click("nav >> text=学员")
    page.fill("#q", "李")  # htmx searches as the staff member types
    page.wait_for_selector("#results >> text=李梅")
    page.click("#results >> text=李梅")
    page.wait_for_url(f"{origin}/admin/trainees/{trainee}")
    assert id_card(50) not in page.content()
    page.once("dialog", lambda dialog: dialog.accept())  # hx-confirm: the reveal is recorded
    page.click("button:has-text('查看完整号码')")
    page.wait_for_selector(f"#id-card:has-text('{id_card(50)}')")
    assert page.url == f"{origin}/admin/trainees/{trainee}"  # swapped in place, no page load
    assert page.locator("button:has-text('查看完整号码')").count() == 0
    screenshot(page, "console-10-id-revealed")

    page.click("nav >> text=操作记录")
    assert "查看完整身份证号" in page.locator("table").inner_text()
    screenshot(page, "console-11-audit")


def test_staff_reviews_an_exam_voids_it_and_exports_the_completions(console_app, laptop):
    import io

    from openpyxl import load_workbook

    from models import AuditEntry, Completion
    from tests.completion_util import complete
    from tests.exam_util import bank, full_hours, sit

    app, origin = console_app
    page = laptop
    trainee = factories.trainee(app, name="周一", phone=phone(60), id_card=id_card(60))
    bank(app)
    full_hours(app, trainee)
    attempt = sit(app, trainee)
    other = factories.trainee(app, name="吴二", phone=phone(61), id_card=id_card(61))
    number = complete(app, other)
    with app.app_context():
        staff.create(db.session, "wang", PASSWORD, "test")
    page.goto(f"{origin}/admin/login")
    page.fill("#username", "wang")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_url(f"{origin}/admin/")

    page.click("nav >> text=学员")
    page.fill("#q", id_card(60))
    page.click("button:has-text('查找')")
    page.wait_for_url(f"{origin}/admin/trainees/{trainee}")
    card = page.locator(f"#attempt-{attempt}")
    card.scroll_into_view_if_needed()
    photos = card.locator("img.exam-photo")
    assert photos.count() == 2  # before and after, side by side
    boxes = [photos.nth(i).bounding_box() for i in range(2)]
    assert boxes[0]["y"] == boxes[1]["y"] and boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"]
    assert all(photos.nth(i).evaluate("img => img.complete && img.naturalWidth > 0") for i in range(2))
    screenshot(page, "console-12-exam-attempt")
    card.locator("input[name=reason]").fill("考前照片与本人不符")
    page.once("dialog", lambda dialog: dialog.accept())
    card.locator("button:has-text('取消成绩')").click()
    page.wait_for_selector(".alert-success")
    assert "已取消该次考试的合格成绩" in page.locator(".alert-success").inner_text()
    assert "成绩已取消" in page.locator(f"#attempt-{attempt}").inner_text()
    page.locator("#exam").scroll_into_view_if_needed()
    screenshot(page, "console-13-exam-voided")

    page.click("nav >> text=导出")
    assert "完整的身份证号" in page.locator("#completions").inner_text()
    page.select_option("#major", "建筑工程")
    screenshot(page, "console-14-exports")
    with page.expect_download() as info:
        page.click("button:has-text('下载结业名单')")
    assert info.value.suggested_filename.startswith("结业名单-") and info.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(info.value.path().read_bytes())).worksheets[0]
    assert [sheet.cell(2, c).value for c in (1, 2, 12)] == ["吴二", id_card(61), number]
    assert sheet.max_row == 2  # 周一's voided pass is not exported
    with app.app_context():
        assert db.session.query(Completion).filter_by(trainee_id=trainee).one().state == "cancelled"
        actions = {e.action for e in db.session.query(AuditEntry).filter_by(actor="wang")}
    assert {"exam_voided", "completions_exported"} <= actions


def test_staff_retires_a_lesson_and_restores_it(console_app, laptop):
    app, origin = console_app
    page = laptop
    with app.app_context():
        import_catalog(db.session, CATALOG_SAMPLE)
        staff.create(db.session, "wang", PASSWORD, "test")
        first = db.session.query(Lesson).order_by(Lesson.course_id, Lesson.position).first()
    page.goto(f"{origin}/admin/login")
    page.fill("#username", "wang")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_url(f"{origin}/admin/")

    page.click("nav >> text=课程")
    page.click(f"#lesson-{first.id} >> button:has-text('停用')")
    page.wait_for_selector(f"#lesson-{first.id}.lesson-retired >> text=已停用")
    assert "少于该课程要求的 16 学时" in page.locator(".alert-warning").inner_text()
    screenshot(page, "console-15-lesson-retired")
    page.click(f"#lesson-{first.id} >> button:has-text('恢复')")
    page.wait_for_selector(f"#lesson-{first.id} >> button:has-text('停用')")
    assert page.locator(".lesson-retired").count() == 0


def test_a_session_that_expires_on_a_form_comes_back_after_login(console_app, laptop, monkeypatch, tmp_path):
    """At 1366×768: a class created with the date-time picker; a roster preview naming its rows and a
    missing class; an error page inside the layout; the audit log filtered; and a session that
    expires while the staff member types into a form: log in again, the form is filled as it was."""
    import itsdangerous.timed

    from tests.xlsx_files import roster_row, write_roster

    app, origin = console_app
    page = laptop
    trainee = factories.trainee(app, name="李梅", phone=phone(70), id_card=id_card(70))
    with app.app_context():
        staff.create(db.session, "chen", PASSWORD, "test", "admin")
    page.goto(f"{origin}/admin/login")
    page.fill("#username", "chen")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_url(f"{origin}/admin/")

    page.click("nav >> text=班级")
    page.fill("#code", "SZ2703-JZ")
    page.fill("#name", "2027年第3期建筑工程班")
    page.fill("#starts", "2027-04-01T09:00")  # the date-time picker
    page.fill("#place", "苏州培训楼")
    page.click("button:has-text('创建班级')")
    page.wait_for_url(f"{origin}/admin/classes/SZ2703-JZ")
    assert page.locator("#starts").input_value() == "2027-04-01T09:00"
    screenshot(page, "console-16-class-picker")

    roster = write_roster(tmp_path / "roster.xlsx", [
        roster_row(name="欧阳小明", card="32058319751212108X", phone="13912340002", class_code="SZ2799-JD",
                   major="机电工程"),
        roster_row(name="王五", card="320505198001010018", phone="13912340003"),
    ])
    page.click("nav >> text=报名名单")
    page.set_input_files("#file", str(roster))
    page.click("button:has-text('上传并预览')")
    assert "SZ2799-JD" in page.locator("#missing-classes").inner_text()
    assert "王*" in page.locator("#rejected").inner_text()
    screenshot(page, "console-17-roster-preview-named")

    page.goto(f"{origin}/admin/classes/NOPE")
    assert "页面不存在" in page.locator("#console-error").inner_text()
    assert page.locator("nav >> text=报名名单").is_visible()  # inside the layout, with the menu
    screenshot(page, "console-18-not-found")

    page.goto(f"{origin}/admin/trainees/{trainee}")
    page.fill("#company", "苏州新建设有限公司")
    real = itsdangerous.timed.TimestampSigner.get_timestamp  # the staff member goes to lunch: 8 hours idle
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: real(self) + 8 * 3600 + 5)
    page.click("button:has-text('保存修改')")
    page.wait_for_url(f"{origin}/admin/login**")
    assert "登录已过期" in page.locator(".alert-warning").inner_text()
    screenshot(page, "console-19-expired-on-a-form")
    page.fill("#username", "chen")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_url(f"{origin}/admin/trainees/{trainee}")
    assert page.locator("#company").input_value() == "苏州新建设有限公司"  # what was typed, put back
    assert page.locator("#draft-note").is_visible()
    screenshot(page, "console-20-form-restored")
    page.click("button:has-text('保存修改')")
    assert "已保存" in page.locator(".alert-success").inner_text()

    page.click("nav >> text=操作记录")
    page.select_option("#action", "trainee_edited")
    page.click("button:has-text('筛选')")
    row = page.locator("table tbody tr").first.inner_text()
    assert "修改学员信息" in row and "学员 李*" in row and "trainee:" not in row
    screenshot(page, "console-21-audit-filtered")
