"""Small helpers of the console's views and templates: paging, masking filters, file answers."""
from __future__ import annotations

from urllib.parse import quote, urlencode

from flask import Response, render_template, request

from services.identity.binding import REFUSAL_LABELS
from services.identity.pii import mask_phone
from services.notices import notices
from services.timeutil import local_text
from wxapp.admin import bp, drafts
from wxapp.request_guard import number

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_PAGE = 10_000


def page_arg(name: str = "page") -> int:
    return min(max(number(request.values.get(name)) or 1, 1), MAX_PAGE)  # a page past the end: the last


def xlsx_response(data: bytes, filename: str) -> Response:
    # RFC 5987 filename*: Chinese file names survive every browser.
    return Response(data, mimetype=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"report.xlsx\"; filename*=UTF-8''{quote(filename)}",
        "Cache-Control": "no-store",
    })


STATE_LABELS = notices.STATE_LABELS
CHANNEL_LABELS = notices.CHANNEL_LABELS
CHECK_LABELS = {"verified": "已通过", "expired": "已超时", "pending": "待验证"}
NOTICE_LABELS = notices.KIND_LABELS
KIND_LABELS = {"main": "主项", "added": "增项"}
AUDIT_LABELS = {
    "logged_in": "登录", "password_changed": "修改密码", "roster_imported": "导入报名名单", "class_created": "创建班级",
    "class_updated": "修改班级", "member_added": "加入班级", "member_removed": "移出班级", "class_notified": "发送开班通知",
    "texts_retried": "重发短信", "notice_resent": "重发状态未知的通知", "trainee_edited": "修改学员信息", "trainee_unbound": "解绑微信",
    "id_card_revealed": "查看完整身份证号", "fees_marked_paid": "标记已缴费", "fees_marked_unpaid": "标记未缴费",
    "exam_voided": "取消考试成绩", "exam_released": "释放考试", "binding_unlocked": "解除认证锁定",
    "completions_exported": "导出结业名单", "catalog_imported": "导入课程目录", "lesson_moved": "调整视频课时顺序",
    "at_risk_reminded": "发送注册到期提醒",
    "lesson_retired": "停用视频课时", "lesson_restored": "恢复视频课时", "staff_disabled": "停用教务账号",
    "staff_enabled": "启用教务账号", "staff_created": "创建教务账号", "exam_bank_imported": "导入题库",
}


@bp.app_template_filter("local")
def local_filter(moment) -> str:
    return local_text(moment) if moment else ""


@bp.app_template_filter("phone")
def phone_filter(phone) -> str:
    return mask_phone(phone)


@bp.app_context_processor
def labels() -> dict:
    return {"STATE_LABELS": STATE_LABELS, "CHANNEL_LABELS": CHANNEL_LABELS, "CHECK_LABELS": CHECK_LABELS,
            "NOTICE_LABELS": NOTICE_LABELS, "KIND_LABELS": KIND_LABELS, "AUDIT_LABELS": AUDIT_LABELS,
            "REFUSAL_LABELS": REFUSAL_LABELS, "query_without_page": query_without_page,
            "draft_for_page": drafts.for_this_page}


def error_page(code: int, message: str, menu: bool = True, back: str | None = None) -> tuple[str, int]:
    """An error inside the console's layout (with its menu when `menu` and a staff member is
    logged in; without it when a dependency is down: the menu would ask the database for the
    staff member), with a link `back` to the page the staff member came from."""
    return render_template("admin/error.html", code=code, message=message, no_menu=not menu, back=back), code


def query_without_page(name: str = "page") -> str:
    """The current query string without `name` (the page's), ending in `&` when not empty (for pager links)."""
    rest = urlencode([(k, v) for k, v in request.args.items(multi=True) if k != name])
    return rest + "&" if rest else ""


