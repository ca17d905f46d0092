"""Every Redis key of the project, built in one place.

All keys start with `PREFIX` (`wxapp`, or the REDIS_KEY_PREFIX setting) so the project's data can
be told apart from anything else in the same Redis database. Add a function here rather than
writing a key string anywhere else.
"""
from __future__ import annotations

PREFIX = "wxapp"


def use_prefix(prefix: str) -> None:
    """Sets the prefix of every key for this process (REDIS_KEY_PREFIX; in development one per
    `instance/`). Every process of one deployment reads the same setting, so they agree."""
    global PREFIX
    PREFIX = prefix


def access_token(appid: str) -> str:
    """The account's API access token, shared by every process."""
    return f"{PREFIX}:wechat:access_token:{appid}"


def access_token_lock(appid: str) -> str:
    """Held while one process refreshes the access token, so the others wait instead of fetching."""
    return f"{PREFIX}:wechat:access_token:{appid}:lock"


def callback_dedup(kind: str, *parts: str) -> str:
    """One WeChat delivery (`msg` or `event`), identified by its parts, for retry dedup."""
    return f"{PREFIX}:wechat:seen:{kind}:" + ":".join(parts)


def wechatpy_session_prefix() -> str:
    """Prefix of what wechatpy itself caches (e.g. a JS-SDK ticket) in its RedisStorage."""
    return f"{PREFIX}:wechatpy"


def sandbox_log() -> str:
    """The development sandbox's capped list of recorded outgoing calls (WeChat and SMS)."""
    return f"{PREFIX}:sandbox:log"


def sandbox_current_token(appid: str) -> str:
    """The access token the development sandbox last issued to an appid (what stable_token returns)."""
    return f"{PREFIX}:sandbox:current_token:{appid}"


def sandbox_token(token: str) -> str:
    """Present while an access token issued by the development sandbox is valid."""
    return f"{PREFIX}:sandbox:token:{token}"


def sandbox_counter() -> str:
    """Counter behind the sandbox's msgids and tickets."""
    return f"{PREFIX}:sandbox:counter"


def overview(openid: str) -> str:
    """The cached chat overview (binding, courses, classes, exam) of one OpenID."""
    return f"{PREFIX}:overview:{openid}"


def overview_version(openid: str) -> str:
    """Bumped when what one OpenID's overview shows changes (binding, progress, exam)."""
    return f"{PREFIX}:overview:{openid}:v"


def overview_generation() -> str:
    """Bumped when what every overview may show changes (roster, catalog or class changes)."""
    return f"{PREFIX}:overview:gen"


def bind_failures(scope: str, who: str) -> str:
    """Refused 认证登录 tries in the current window, per `openid` or per `ip`."""
    return f"{PREFIX}:bind:fail:{scope}:{who}"


def bind_lock(scope: str, who: str) -> str:
    """Present while an OpenID or IP may not try 认证登录."""
    return f"{PREFIX}:bind:lock:{scope}:{who}"


def move_code(trainee_id: int) -> str:
    """The SMS code of a trainee's move to another WeChat (更换绑定的微信): its digest, the OpenID
    it was sent for, wrong tries; expires with the code."""
    return f"{PREFIX}:move:code:{trainee_id}"


def move_code_gap(trainee_id: int) -> str:
    """Present for a minute after a move code was sent to a trainee: the next must wait."""
    return f"{PREFIX}:move:gap:{trainee_id}"


def move_codes_sent(trainee_id: int, day: str) -> str:
    """Move codes sent to a trainee on one day (Beijing date, YYYYMMDD)."""
    return f"{PREFIX}:move:sent:{trainee_id}:{day}"


def outbox_rate(channel: str) -> str:
    """The shared send-rate bucket of one outbox channel (`wechat`, `sms`)."""
    return f"{PREFIX}:outbox:rate:{channel}"


def metrics_outbox_counts() -> str:
    """The outbox's rows per channel and state, as the last scrape of /metrics counted them."""
    return f"{PREFIX}:metrics:outbox"


def heartbeat_count(openid: str, minute: int) -> str:
    """How many heartbeats one WeChat user sent in one minute (the heartbeat's rate limit)."""
    return f"{PREFIX}:beats:{openid}:{minute}"


def outbox_nudge() -> str:
    """Set when staff queue a notice for the dispatcher: the leading scheduler starts a run at once."""
    return f"{PREFIX}:outbox:nudge"


def outbox_job_reports() -> str:
    """WeChat's `success` reports on template messages (a stream), until the scheduler records them."""
    return f"{PREFIX}:outbox:job-reports"


def scheduler_leader() -> str:
    """Held by the one scheduler process that runs jobs; the others wait for it to expire."""
    return f"{PREFIX}:scheduler:leader"


def dispatch_last_run() -> str:
    """When the scheduler's outbox dispatch last finished a run (epoch seconds)."""
    return f"{PREFIX}:outbox:dispatched_at"


def play(trainee_id: int) -> str:
    """A trainee's hot study state: the active player page, the last heartbeat, the attendance
    clock and each lesson's watched parts (confirmed and awaiting the next check)."""
    return f"{PREFIX}:play:{trainee_id}"


def attendance_token(token_hash: str) -> str:
    """The check a scanned QR's token stands for, by the token's SHA-256 (never the token itself)."""
    return f"{PREFIX}:attend:token:{token_hash}"


def attendance_check(check_id: str) -> str:
    """One attendance check: its trainee, lesson, expiry, status and the token of its QR."""
    return f"{PREFIX}:attend:check:{check_id}"


def attendance_qr(check_id: str) -> str:
    """The rendered QR PNG of one attendance check."""
    return f"{PREFIX}:attend:qr:{check_id}"


def jsapi_ticket(appid: str) -> str:
    """The account's JS-SDK jsapi_ticket, shared by every process like the access token."""
    return f"{PREFIX}:wechat:jsapi_ticket:{appid}"


def jsapi_ticket_lock(appid: str) -> str:
    """Held while one process fetches a new jsapi_ticket."""
    return f"{PREFIX}:wechat:jsapi_ticket:{appid}:lock"


# -- WeChat as it really behaves (issue 9) -------------------------------------------------------

def callback_nonce(timestamp: str, nonce: str) -> str:
    """The hash of the first body a callback's (timestamp, nonce) came with, for the replay window."""
    return f"{PREFIX}:wechat:nonce:{timestamp}:{nonce}"


def follow_seen(openid: str) -> str:
    """Present while an OpenID's following, shown by its own message or event, is recorded."""
    return f"{PREFIX}:wechat:follows:{openid}"


def sandbox_template_sent(openid: str, client_msg_id: str) -> str:
    """The msgid the development sandbox gave a template message, for its 10-minute dedup."""
    return f"{PREFIX}:sandbox:template:{openid}:{client_msg_id}"


def sandbox_behaviour() -> str:
    """The development sandbox's toggles: answer template sends slowly, with 43101, or report a block."""
    return f"{PREFIX}:sandbox:behaviour"


def sandbox_followers() -> str:
    """The OpenIDs that follow the sandbox's account (what its user/get lists)."""
    return f"{PREFIX}:sandbox:followers"


def staff_login_failures(username: str) -> str:
    """Refused staff-console logins of one username in the current 15-minute window."""
    return f"{PREFIX}:staff:login_fail:{username}"


def staff_login_lock(username: str) -> str:
    """Present while a staff username may not log in (too many refused passwords)."""
    return f"{PREFIX}:staff:login_lock:{username}"


def admin_upload(token: str) -> str:
    """A roster uploaded to the staff console, kept until staff confirm the import (or it expires)."""
    return f"{PREFIX}:admin:upload:{token}"


def admin_study_figures() -> str:
    """The staff dashboard's study figures (per major, per class, totals), counted at most a minute ago."""
    return f"{PREFIX}:admin:study_figures"
