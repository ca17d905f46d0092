"""The Aliyun and Tencent Cloud SMS backends through their official SDKs, against a local stand-in.

The stand-in answers on loopback as each provider does (shapes checked against the SDKs); the
SDKs reach it through their endpoint setting, exactly as they would reach the provider.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from services.notices.settings import SmsSettings
from services.notices.sms import SmsError, build_backend

PHONE = "13912345678"
MASKED = "139****5678"
PARAMS = {"name": "周一", "class": "2027年第1期建筑工程班", "time": "2027年3月1日 09:00"}


class StandIn:
    """Answers queued (status, JSON body) pairs and records each request."""

    def __init__(self):
        self.answers, self.requests = deque(), []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                url = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stand_in.requests.append({"path": url.path, "query": dict(parse_qsl(url.query)),
                                          "headers": {k.lower(): v for k, v in self.headers.items()},
                                          "json": json.loads(raw) if raw else None})
                status, body, *late = stand_in.answers.popleft()
                time.sleep(late[0] if late else 0)
                payload = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                # Exactly this: the Tencent SDK ignores errors of any other content type.
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client stopped waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def stand_in():
    server = StandIn()
    yield server
    server.server.shutdown()
    server.server.server_close()


def settings(backend: str, endpoint: str) -> SmsSettings:
    return SmsSettings(backend=backend, access_key_id="test-key-id", access_key_secret="test-key-secret",
                       sdk_app_id="1400000001", sign_name="智信培训", endpoint=endpoint, region=None, timeout_s=2)


def aliyun_answer(code: str = "OK", message: str = "OK", biz_id: str | None = "900619746^0") -> tuple[int, dict]:
    return 200, {"Code": code, "Message": message, "BizId": biz_id, "RequestId": "F655A8D5-B967-440B"}


def tencent_answer(code: str = "Ok", serial: str = "2433:328712640315") -> tuple[int, dict]:
    return 200, {"Response": {"RequestId": "a0aabda6", "SendStatusSet": [{
        "SerialNo": serial, "PhoneNumber": "+86" + PHONE, "Fee": 1, "SessionContext": "",
        "Code": code, "Message": "send success" if code == "Ok" else "refused", "IsoCode": "CN"}]}}


def test_aliyun_sends_sign_template_and_parameters_signed(stand_in):
    stand_in.answers.append(aliyun_answer())

    message_id = build_backend(settings("aliyun", stand_in.endpoint), redis=None).send(PHONE, "SMS_154950909", PARAMS)

    assert message_id == "900619746^0"
    [sent] = stand_in.requests
    assert sent["headers"]["x-acs-action"] == "SendSms" and sent["headers"]["x-acs-version"] == "2017-05-25"
    assert sent["headers"]["authorization"].startswith("ACS3-HMAC-SHA256 Credential=test-key-id")
    assert sent["query"]["PhoneNumbers"] == PHONE and sent["query"]["SignName"] == "智信培训"
    assert sent["query"]["TemplateCode"] == "SMS_154950909"
    assert json.loads(sent["query"]["TemplateParam"]) == PARAMS


@pytest.mark.parametrize("code,transient", [
    ("isv.BUSINESS_LIMIT_CONTROL", True), ("isp.SYSTEM_ERROR", True),
    ("isv.MOBILE_NUMBER_ILLEGAL", False), ("isv.SMS_TEMPLATE_ILLEGAL", False),
])
def test_aliyun_business_refusal_is_an_error_with_its_code(stand_in, caplog, code, transient):
    stand_in.answers.append(aliyun_answer(code, "refused", biz_id=None))
    caplog.set_level(logging.INFO)

    with pytest.raises(SmsError) as refused:
        build_backend(settings("aliyun", stand_in.endpoint), redis=None).send(PHONE, "SMS_1", PARAMS)

    assert (refused.value.code, refused.value.transient) == (code, transient)
    assert MASKED in caplog.text and PHONE not in caplog.text


@pytest.mark.parametrize("status,code,transient", [
    (500, "InternalError", True), (400, "Throttling.User", True), (400, "InvalidAccessKeyId.NotFound", False),
])
def test_aliyun_http_errors_are_sorted_into_transient_or_not(stand_in, status, code, transient):
    stand_in.answers.append((status, {"Code": code, "Message": "x", "RequestId": "r"}))

    with pytest.raises(SmsError) as refused:
        build_backend(settings("aliyun", stand_in.endpoint), redis=None).send(PHONE, "SMS_1", PARAMS)

    assert (refused.value.code, refused.value.transient) == (code, transient)


@pytest.mark.parametrize("backend", ["aliyun", "tencent"])
def test_an_unreachable_provider_is_transient_and_the_error_names_no_phone(backend):
    with pytest.raises(SmsError) as failed:
        build_backend(settings(backend, "http://127.0.0.1:9"), redis=None).send(PHONE, "SMS_1", PARAMS)

    assert failed.value.transient and not failed.value.may_have_left  # never reached: safe to retry
    assert PHONE not in str(failed.value) and PHONE not in failed.value.reason


@pytest.mark.parametrize("backend", ["aliyun", "tencent"])
def test_an_answer_later_than_the_timeout_may_have_left_and_carries_the_rows_reference(stand_in, backend):
    stand_in.answers.append((*aliyun_answer(), 3) if backend == "aliyun" else (*tencent_answer(), 3))
    sms = build_backend(settings(backend, stand_in.endpoint), redis=None)  # timeout 2 s

    with pytest.raises(SmsError) as late:
        sms.send(PHONE, "SMS_1", PARAMS, ref="wxapp-outbox-7")

    assert late.value.may_have_left and PHONE not in str(late.value)
    [sent] = stand_in.requests
    ref = sent["query"].get("OutId") if backend == "aliyun" else sent["json"]["SessionContext"]
    assert ref == "wxapp-outbox-7"


def test_tencent_sends_positional_parameters_to_a_86_number(stand_in):
    stand_in.answers.append(tencent_answer())

    message_id = build_backend(settings("tencent", stand_in.endpoint), redis=None).send(PHONE, "1110001", PARAMS)

    assert message_id == "2433:328712640315"
    [sent] = stand_in.requests
    assert sent["headers"]["x-tc-action"] == "SendSms" and sent["headers"]["x-tc-version"] == "2021-01-11"
    assert sent["headers"]["authorization"].startswith("TC3-HMAC-SHA256 Credential=test-key-id/")
    assert sent["json"]["PhoneNumberSet"] == ["+86" + PHONE]
    assert sent["json"]["TemplateParamSet"] == list(PARAMS.values())
    assert (sent["json"]["SmsSdkAppId"], sent["json"]["SignName"], sent["json"]["TemplateId"]) == \
        ("1400000001", "智信培训", "1110001")


@pytest.mark.parametrize("code,transient", [
    ("LimitExceeded.PhoneNumberThirtySecondLimit", True), ("InvalidParameterValue.IncorrectPhoneNumber", False),
])
def test_tencent_refusal_of_the_number_is_an_error(stand_in, caplog, code, transient):
    stand_in.answers.append(tencent_answer(code, serial=""))
    caplog.set_level(logging.INFO)

    with pytest.raises(SmsError) as refused:
        build_backend(settings("tencent", stand_in.endpoint), redis=None).send(PHONE, "1110001", PARAMS)

    assert (refused.value.code, refused.value.transient) == (code, transient)
    assert MASKED in caplog.text and PHONE not in caplog.text


@pytest.mark.parametrize("code,transient", [
    ("FailedOperation.SignatureIncorrectOrUnapproved", False), ("InternalError.Timeout", True),
])
def test_tencent_refusal_of_the_request_is_an_error(stand_in, code, transient):
    stand_in.answers.append((200, {"Response": {"Error": {"Code": code, "Message": "x"}, "RequestId": "r"}}))

    with pytest.raises(SmsError) as refused:
        build_backend(settings("tencent", stand_in.endpoint), redis=None).send(PHONE, "1110001", PARAMS)

    assert (refused.value.code, refused.value.transient) == (code, transient)


def test_console_records_in_development_and_refuses_for_good_in_production(redis):
    from wxapp.sandbox import log as sandbox_log

    recorded = build_backend(SmsSettings(backend="console", sign_name="智信培训"), redis, sandbox_log.sms_recorder(redis))
    assert recorded.send("13912345678", "SMS_CLASS_OPEN", {"name": "周一"}).startswith("console-")
    assert sandbox_log.entries(redis)[0].body["phone"] == "139****5678"

    production = build_backend(SmsSettings(backend="console", sign_name="智信培训", production=True), redis,
                               sandbox_log.sms_recorder(redis))
    with pytest.raises(SmsError) as refused:
        production.send("13912345678", "SMS_CLASS_OPEN", {"name": "周一"})
    assert refused.value.code == "not_configured" and refused.value.transient is False
    assert "13912345678" not in str(refused.value) and len(sandbox_log.entries(redis)) == 1
