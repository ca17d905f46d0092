"""One error base: every service failure is a ServiceError whose shown message is Chinese."""
import re

import pytest

from services import ServiceError
from services.notices.sms import SmsError
from services.school.imports.cells import CellError, optional_date
from services.storage import LocalStorage, StorageError
from services.wechat_api import WeChatApiError, WeChatUnavailable

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("error", [
    WeChatApiError(43101, "user refuse to accept the msg"),
    WeChatUnavailable("ReadTimeout"),
    SmsError("isv.BUSINESS_LIMIT_CONTROL", "throttled", transient=True),
    StorageError("s3: EndpointConnectionError"),
])
def test_a_failure_shows_chinese_and_keeps_the_english_detail_for_logs(error):
    assert isinstance(error, ServiceError)
    assert CJK.search(error.message) and not re.search(r"[A-Za-z]", error.message)
    assert error.detail and error.detail not in error.message
    assert str(error) == error.detail


def test_a_bad_cell_is_a_service_error_with_its_reason():
    with pytest.raises(ServiceError) as refused:
        optional_date("2027-02-30", "注册有效期")

    assert isinstance(refused.value, CellError)
    assert refused.value.message == "注册有效期不是一个存在的日期" and refused.value.detail is None


def test_a_store_that_cannot_read_is_caught_as_a_service_error(tmp_path):
    with pytest.raises(ServiceError) as failed:
        LocalStorage(tmp_path).get("exam/1/missing.jpg")

    assert "照片存储" in failed.value.message and "local storage" in str(failed.value)
