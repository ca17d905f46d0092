"""An SMS the provider accepts but answers after SMS_TIMEOUT_S is sent once: the row is `unknown`,
never resent by itself; the provider's lookup (Aliyun QuerySendDetails, Tencent
PullSmsSendStatusByPhoneNumber) settles it; staff may resend one (`notify resend`, recorded).

The provider is a local stand-in speaking each SDK's protocol on loopback, as in test_sms_backends."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import select

from models import AuditEntry, OutboxMessage, db
from scheduler import jobs
from tests.notify_util import CLASS_CODE, class_with_trainees, notify_settings, phone


class Provider:
    """Accepts every text (recorded with its reference), answering `delay_s` late; answers lookups
    from what it accepted."""

    def __init__(self, backend: str):
        self.backend, self.delay_s, self.texts = backend, 0.0, []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                url = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                query, body = dict(parse_qsl(url.query)), json.loads(raw) if raw else {}
                action = self.headers.get("x-acs-action") or self.headers.get("X-TC-Action")
                answer = provider.answer(action, query, body)
                if action == "SendSms":
                    time.sleep(provider.delay_s)
                payload = json.dumps(answer, ensure_ascii=False).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up waiting: the text is accepted all the same

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def answer(self, action: str, query: dict, body: dict) -> dict:
        if self.backend == "aliyun":
            if action == "SendSms":
                self.texts.append((query["PhoneNumbers"], query.get("OutId")))
                return {"Code": "OK", "Message": "OK", "BizId": f"biz-{len(self.texts)}", "RequestId": "r"}
            found = [{"OutId": ref, "SendStatus": 3, "PhoneNum": number, "Content": "x", "ErrCode": "DELIVERED",
                      "TemplateCode": "SMS_1", "SendDate": "2027-03-01 09:00:00", "ReceiveDate": "2027-03-01 09:00:05"}
                     for number, ref in self.texts if number == query["PhoneNumber"]]
            return {"Code": "OK", "Message": "OK", "RequestId": "r", "TotalCount": len(found),
                    "SmsSendDetailDTOs": {"SmsSendDetailDTO": found}}
        if action == "SendSms":
            number = body["PhoneNumberSet"][0]
            self.texts.append((number[3:], body.get("SessionContext")))
            return {"Response": {"RequestId": "r", "SendStatusSet": [{
                "SerialNo": f"serial-{len(self.texts)}", "PhoneNumber": number, "Fee": 1, "SessionContext": "",
                "Code": "Ok", "Message": "send success", "IsoCode": "CN"}]}}
        found = [{"UserReceiveTime": "2027-03-01 09:00:05", "CountryCode": "86", "SubscriberNumber": number,
                  "PhoneNumber": "+86" + number, "SerialNo": f"serial-{n}", "ReportStatus": "SUCCESS",
                  "Description": "DELIVRD", "SessionContext": ref}
                 for n, (number, ref) in enumerate(self.texts, 1) if "+86" + number == body["PhoneNumber"]]
        return {"Response": {"RequestId": "r", "PullSmsSendStatusSet": found}}


@pytest.fixture(params=["aliyun", "tencent"])
def provider(request):
    server = Provider(request.param)
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def sms_app(make_app, fake_wechat, database_url, provider):
    if not database_url.startswith("sqlite"):
        pytest.skip("the provider's side is the same on both databases; once is enough")
    return make_app(**notify_settings(
        fake_wechat, SMS_BACKEND=provider.backend, SMS_ENDPOINT=provider.endpoint, SMS_TIMEOUT_S=1,
        SMS_ACCESS_KEY_ID="test-key-id", SMS_ACCESS_KEY_SECRET="test-key-secret", SMS_SDK_APP_ID="1400000001"))


def dispatch(app) -> None:
    with app.app_context():
        app.extensions["notice_desk"].dispatcher().run(wait=True, max_seconds=20)


def states(app) -> dict[int, str]:
    with app.app_context():
        return dict(db.session.execute(select(OutboxMessage.id, OutboxMessage.state)).all())


def test_a_text_answered_late_is_sent_once_left_unknown_then_settled_by_the_providers_lookup(sms_app, provider):
    class_with_trainees(sms_app, bound=0, unbound=2)
    provider.delay_s = 2  # accepted at once, answered after SMS_TIMEOUT_S
    with sms_app.app_context():
        sms_app.extensions["notice_desk"].class_open(CLASS_CODE, "test")
    dispatch(sms_app)
    dispatch(sms_app)  # later runs: nothing is sent again

    assert sorted(number for number, _ in provider.texts) == [phone(1), phone(2)]
    assert set(states(sms_app).values()) == {"unknown"}
    with sms_app.app_context():
        errors = db.session.scalars(select(OutboxMessage.last_error)).all()
    assert all("不自动重发" in error for error in errors)

    provider.delay_s = 0
    jobs.bind(sms_app)
    jobs.settle_unknown_texts()

    assert set(states(sms_app).values()) == {"sent"}
    assert len(provider.texts) == 2  # looked up, not resent


def test_staff_resend_of_an_unknown_text_sends_it_again_once_and_is_recorded(sms_app, provider):
    class_with_trainees(sms_app, bound=0, unbound=1)
    provider.delay_s = 2
    with sms_app.app_context():
        sms_app.extensions["notice_desk"].class_open(CLASS_CODE, "test")
    dispatch(sms_app)
    [(row_id, state)] = states(sms_app).items()
    assert state == "unknown"

    provider.delay_s = 0
    runner = sms_app.test_cli_runner()
    result = runner.invoke(args=["notify", "resend", str(row_id), "--by", "王老师"])
    again = runner.invoke(args=["notify", "resend", str(row_id), "--by", "王老师"])

    assert result.exit_code == 0, result.output
    assert "发送结果：已发送" in result.output
    assert again.exit_code == 1 and "只有状态未知的通知可以重发" in again.output
    assert states(sms_app) == {row_id: "sent"} and len(provider.texts) == 2
    with sms_app.app_context():
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "notice_resent")).all()
    assert (entry.actor, entry.target) == ("王老师", f"outbox:{row_id}") and phone(1) not in entry.detail
