"""The typed settings of notices and their delivery, built once by the app from its checked config."""
from __future__ import annotations

from dataclasses import dataclass

from services.links import Links


@dataclass(frozen=True)
class SmsSettings:
    backend: str  # console, aliyun or tencent
    sign_name: str
    access_key_id: str | None = None  # Aliyun AccessKey ID or Tencent Cloud SecretId
    access_key_secret: str | None = None
    sdk_app_id: str | None = None  # Tencent Cloud only
    endpoint: str | None = None  # e.g. http://127.0.0.1:PORT for a stand-in
    region: str | None = None
    timeout_s: float = 5
    # The console backend records messages in development; in production it fails them for good.
    production: bool = False


@dataclass(frozen=True)
class DispatchSettings:
    pool_size: int
    rate_per_s: float      # per channel, all processes together; 0: no limit
    lease_s: float
    max_attempts: int
    retry_base_s: float


@dataclass(frozen=True)
class NoticeSettings:
    templates_file: str
    template_ids: dict[str, str | None]  # notice kind -> the WeChat template id, None when unset
    links: Links  # the pages a notice links to
    sms: SmsSettings
    dispatch: DispatchSettings
