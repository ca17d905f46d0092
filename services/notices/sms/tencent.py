"""腾讯云短信 (SMS API 2021-01-11, `SendSms`, `PullSmsSendStatusByPhoneNumber`) through the official SDK.

A request-level refusal raises `TencentCloudSDKException` with the provider's code; a refusal of
one number comes back inside `SendStatusSet` with no exception, so each status is checked.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models as sms_models
from tencentcloud.sms.v20210111.sms_client import SmsClient

from services.identity.pii import mask_phone
from services.logfmt import kv
from services.notices.settings import SmsSettings
from services.notices.sms import SentText, SmsError, may_have_left, split_endpoint
from services.timeutil import utcnow

log = logging.getLogger(__name__)

DEFAULT_HOST = "sms.tencentcloudapi.com"
# Network trouble, the provider's own errors and frequency limits: worth a later try.
TRANSIENT_PREFIXES = ("ClientNetworkError", "ServerNetworkError", "InternalError", "RequestLimitExceeded",
                      "LimitExceeded.PhoneNumberThirtySecondLimit", "LimitExceeded.PhoneNumberOneHourLimit")


class TencentSms:
    name = "tencent"

    def __init__(self, secret_id: str, secret_key: str, sdk_app_id: str, sign_name: str,
                 endpoint: str | None = None, region: str | None = None, timeout_s: float = 5):
        self._credential = credential.Credential(secret_id, secret_key)
        self._host, self._protocol = split_endpoint(endpoint, DEFAULT_HOST)
        self._region = region or "ap-guangzhou"
        self._timeout_s = timeout_s
        self.sdk_app_id = sdk_app_id
        self.sign_name = sign_name
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings: SmsSettings) -> TencentSms:
        return cls(settings.access_key_id or "", settings.access_key_secret or "", settings.sdk_app_id or "",
                   settings.sign_name, settings.endpoint, settings.region, settings.timeout_s)

    def _client(self) -> SmsClient:
        client = getattr(self._local, "client", None)
        if client is None:
            http = HttpProfile(endpoint=self._host, protocol=self._protocol, reqTimeout=self._timeout_s)
            client = self._local.client = SmsClient(self._credential, self._region, ClientProfile(httpProfile=http))
        return client

    def send(self, phone: str, template_code: str, params: Mapping[str, str], ref: str | None = None) -> str:
        request = sms_models.SendSmsRequest()
        request.PhoneNumberSet = ["+86" + phone]
        request.SmsSdkAppId = self.sdk_app_id
        request.SignName = self.sign_name
        request.TemplateId = template_code
        request.TemplateParamSet = [str(value) for value in params.values()]  # positional: {1}, {2}, …
        request.SessionContext = ref
        try:
            response = self._client().SendSms(request)
        except TencentCloudSDKException as exc:
            # ClientNetworkError: no answer; after a read timeout the text may have been accepted.
            left = exc.code == "ClientNetworkError" and may_have_left(str(exc.message))
            raise SmsError(str(exc.code), "request refused" if not left else "no answer in time",
                           transient=_transient(exc.code), may_have_left=left) from None
        statuses = response.SendStatusSet or []
        if not statuses:
            raise SmsError("EmptyStatus", "no status in the answer", transient=True)
        status = statuses[0]
        if status.Code != "Ok":
            log.warning(kv("sms_refused", backend="tencent", to=mask_phone(phone), code=status.Code))
            raise SmsError(str(status.Code), str(status.Message or ""), transient=_transient(status.Code))
        return str(status.SerialNo or "")

    def find(self, phone: str, ref: str, since: datetime) -> SentText | None:
        """PullSmsSendStatusByPhoneNumber: the number's delivery reports since `since` (at most 7 days
        back). A report comes when the carrier answers: a text accepted moments ago may not be listed yet."""
        request = sms_models.PullSmsSendStatusByPhoneNumberRequest()
        request.PhoneNumber = "+86" + phone
        request.SmsSdkAppId = self.sdk_app_id
        request.BeginTime = int(since.timestamp())
        request.EndTime = int(utcnow().timestamp())
        request.Offset, request.Limit = 0, 100
        try:
            response = self._client().PullSmsSendStatusByPhoneNumber(request)
        except TencentCloudSDKException as exc:
            raise SmsError(str(exc.code), "status lookup refused", transient=True) from None
        for status in response.PullSmsSendStatusSet or []:
            if status.SessionContext == ref:
                return SentText(message_id=str(status.SerialNo or ""), failed=status.ReportStatus == "FAIL")
        return None


def _transient(code: str | None) -> bool:
    return str(code or "").startswith(TRANSIENT_PREFIXES)
