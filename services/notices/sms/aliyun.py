"""阿里云短信服务 (Dysmsapi 2017-05-25, `SendSms`, `QuerySendDetails`) through the official SDK.

The SDK answers a business refusal with HTTP 200 and `body.code` other than `OK`, not with an
exception; transport failures and HTTP errors come as exceptions. Only codes and class names go
into errors and logs: the SDK's own messages hold the request URL, and so the phone number.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta

from alibabacloud_dysmsapi20170525 import models as sms_models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import models as api_models
from alibabacloud_tea_openapi.exceptions import ClientException, ThrottlingException

from services.identity.pii import mask_phone
from services.logfmt import kv
from services.notices.settings import SmsSettings
from services.notices.sms import SentText, SmsError, may_have_left, split_endpoint
from services.timeutil import SHANGHAI, utcnow

log = logging.getLogger(__name__)

DEFAULT_HOST = "dysmsapi.aliyuncs.com"
# Flow control (per number per minute/hour/day) and the provider's own trouble: worth a later try.
TRANSIENT_CODES = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "isp.GATEWAY_ERROR"})


class AliyunSms:
    name = "aliyun"

    def __init__(self, access_key_id: str, access_key_secret: str, sign_name: str,
                 endpoint: str | None = None, region: str | None = None, timeout_s: float = 5):
        host, protocol = split_endpoint(endpoint, DEFAULT_HOST)
        self._config = dict(
            access_key_id=access_key_id, access_key_secret=access_key_secret, endpoint=host,
            protocol=protocol, region_id=region or "cn-hangzhou",
            connect_timeout=int(timeout_s * 1000), read_timeout=int(timeout_s * 1000),
        )
        self.sign_name = sign_name
        self._local = threading.local()  # one SDK client per thread: no shared state to trust

    @classmethod
    def from_settings(cls, settings: SmsSettings) -> AliyunSms:
        return cls(settings.access_key_id or "", settings.access_key_secret or "", settings.sign_name,
                   settings.endpoint, settings.region, settings.timeout_s)

    def _client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = Client(api_models.Config(**self._config))
        return client

    def send(self, phone: str, template_code: str, params: Mapping[str, str], ref: str | None = None) -> str:
        request = sms_models.SendSmsRequest(
            phone_numbers=phone, sign_name=self.sign_name, template_code=template_code,
            template_param=json.dumps(dict(params), ensure_ascii=False), out_id=ref,
        )
        try:
            body = self._client().send_sms(request).body
        except Exception as exc:  # the SDK raises a family of Tea exceptions: sort them below
            raise _error_from(exc) from None
        if body.code != "OK":
            log.warning(kv("sms_refused", backend="aliyun", to=mask_phone(phone), code=body.code))
            raise SmsError(str(body.code), str(body.message or ""), transient=body.code in TRANSIENT_CODES)
        return str(body.biz_id or "")

    def find(self, phone: str, ref: str, since: datetime) -> SentText | None:
        """QuerySendDetails lists a number's texts of one day (Beijing): the days from `since` to today."""
        day, today = since.astimezone(SHANGHAI).date(), utcnow().astimezone(SHANGHAI).date()
        while day <= today:
            request = sms_models.QuerySendDetailsRequest(phone_number=phone, send_date=f"{day:%Y%m%d}",
                                                         page_size=50, current_page=1)
            try:
                body = self._client().query_send_details(request).body
            except Exception as exc:  # as for a send: sorted, never with the SDK's text (it holds the URL)
                raise _error_from(exc) from None
            if body.code != "OK":
                raise SmsError(str(body.code), str(body.message or ""), transient=True)
            details = body.sms_send_detail_dtos.sms_send_detail_dto if body.sms_send_detail_dtos else None
            for detail in details or []:
                if detail.out_id == ref:
                    return SentText(message_id=ref, failed=detail.send_status == 2)  # 1 waiting, 2 failed, 3 done
            day += timedelta(days=1)
        return None


def _error_from(exc: Exception) -> SmsError:
    code = getattr(exc, "code", None)
    if isinstance(exc, ThrottlingException) or str(code or "").startswith("Throttling"):
        return SmsError(str(code), "throttled", transient=True)
    if isinstance(exc, ClientException):  # HTTP 4xx: our request or credentials are wrong
        return SmsError(str(code), type(exc).__name__, transient=False)
    # ServerException (5xx): the provider answered. UnretryableException (a timeout, a refused
    # connection) and the like: no answer, and after a read timeout the text may have been accepted.
    return SmsError(str(code or type(exc).__name__), type(exc).__name__, transient=True,
                    may_have_left=code is None and may_have_left(str(exc)))
