"""Settings from the environment (CONTRACT §2), checked once at start-up.

`load_settings()` returns one frozen, typed `Settings` (field names are the environment variables'
in lower case); `create_app()` keeps it in `app.extensions["settings"]` (read it with `current()` or
`of(app)`) and puts into `app.config` only what Flask and its extensions read (`flask_config()`).
Development fills in safe local defaults (secrets generated once into `instance/`); production
refuses to start with a missing or unsafe setting and names it in one line.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import urlsplit

from flask import Flask, current_app

if TYPE_CHECKING:
    from services.exam.faces import FaceSettings
    from services.exam.rules import Rules
    from services.links import Links
    from services.notices.settings import NoticeSettings
    from services.study.player import Settings as PlaySettings

ENVIRONMENTS = ("development", "testing", "production")
SANDBOX_API_PATH = "/dev/api/"
PII_KEY_MIN_LEN = 32
SMS_BACKENDS = ("console", "aliyun", "tencent")
REPO_ROOT = Path(__file__).resolve().parents[1]
# The demo school's phone (development default of SCHOOL_PHONE, CONTRACT §2): fictitious.
DEMO_SCHOOL_PHONE = "0512-6888 8888"
SANDBOX_APPID, SANDBOX_SECRET = "wxsandbox0000000", "sandbox-secret"


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message names it in one line."""


@dataclass(frozen=True)
class Settings:
    """Every setting of the app, typed and checked. A field is named after its environment variable
    (`school_phone` is SCHOOL_PHONE); the comments say what is derived rather than read."""

    env: str  # WXAPP_ENV: development, testing or production
    secret_key: str  # generated into instance/ outside production
    pii_key: str
    database_url: str  # DATABASE_URL; a SQLite file in instance/ outside production
    # How long a request may wait on the database in all, the server's limit on one statement (0: none),
    # and PgBouncer in transaction mode in front (README): no prepared statements, no startup options.
    database_request_budget_s: float
    database_statement_timeout_ms: int
    database_pgbouncer: bool
    redis_url: str
    redis_key_prefix: str  # one per instance/ in development (services/keys.py)
    public_base_url: str  # without its trailing /
    proxy_count: int  # trusted proxies in front (X-Forwarded-For / -Proto); 0 when served directly
    log_level: str | None  # upper case; None: INFO (WARNING in tests)
    metrics_token: str | None  # bearer token of GET /metrics (CONTRACT §10); None: /metrics answers 404
    wechat_appid: str  # the sandbox's own when WECHAT_APPID is unset
    wechat_secret: str
    wechat_sandbox: bool  # WECHAT_APPID unset
    wechat_token: str
    wechat_aes_key: str | None
    wechat_aes_key_previous: str | None
    wechat_api_base: str  # ends with /
    wechat_timeout_s: int
    wechat_jssdk_url: str  # the official JS-SDK; "" in tests (pages work without it)
    wechat_template_class_open: str | None
    wechat_template_class_reminder: str | None
    wechat_template_registration_expiry: str | None
    school_name: str  # printed on hours certificates
    school_contact: str  # the contact line the chat and pages show, with SCHOOL_PHONE in it
    school_phone: str | None
    verify_rate_limit: str  # of the public verification page, a limits string ("30 per minute")
    exam_rules_file: str
    storage_url: str  # where exam photos are kept: a directory or s3://…
    face_match: str  # on or off
    face_match_threshold: float
    photo_retention_days: int
    sms_backend: str  # console, aliyun or tencent
    sms_access_key_id: str | None  # Aliyun AccessKey ID or Tencent Cloud SecretId
    sms_access_key_secret: str | None
    sms_sdk_app_id: str | None  # Tencent Cloud only
    sms_sign_name: str
    sms_region: str | None
    sms_endpoint: str | None  # e.g. http://127.0.0.1:PORT for a stand-in
    sms_timeout_s: int
    notice_templates_file: str
    # The outbox dispatcher: concurrent sends, sends per second per channel (0: no limit), how long a
    # claimed row may stay `sending`, and the retry schedule of transient errors.
    outbox_pool_size: int
    outbox_rate_per_s: float
    outbox_lease_s: int
    outbox_max_attempts: int
    outbox_retry_base_s: float
    attendance_interval_min_s: int
    attendance_interval_max_s: int
    attendance_ttl_s: int
    play_heartbeat_s: float  # seconds between two heartbeats of a playing player page
    exam_rules: Rules  # EXAM_RULES_FILE, read and checked
    # Not from the environment: the largest WeChat callback body read (refused before parsing).
    wechat_max_body: int = 64 * 1024

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def testing(self) -> bool:
        return self.env == "testing"


# -- Reading the environment ---------------------------------------------------------------------

@overload
def _env(name: str, environ: Mapping[str, str], default: str) -> str: ...
@overload
def _env(name: str, environ: Mapping[str, str], default: str | None = None) -> str | None: ...
def _env(name: str, environ: Mapping[str, str], default: str | None = None) -> str | None:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _instance_secret(instance_path: Path, filename: str) -> str:
    """A random secret generated once and kept in `instance/` (development only)."""
    path = instance_path / filename
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


def _int(name: str, environ: Mapping[str, str], default: int) -> int:
    raw = _env(name, environ)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _float(name: str, environ: Mapping[str, str], default: float) -> float:
    raw = _env(name, environ)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def load_settings(instance_path: str | Path, environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    instance = Path(instance_path)
    env = _env("WXAPP_ENV", environ, "development")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"WXAPP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    settings = _read(environ, env, instance)
    if settings.production:
        _check_production(settings)
    else:
        settings = _with_development_defaults(settings, instance)
    if len(settings.pii_key) < PII_KEY_MIN_LEN:
        raise ConfigError(f"PII_KEY must be at least {PII_KEY_MIN_LEN} characters")
    if not 0 < settings.attendance_interval_min_s <= settings.attendance_interval_max_s:
        raise ConfigError("ATTENDANCE_INTERVAL_MIN_S must be > 0 and <= ATTENDANCE_INTERVAL_MAX_S")
    _check_storage(settings.storage_url)
    if settings.sms_backend not in SMS_BACKENDS:
        raise ConfigError(f"SMS_BACKEND must be one of {', '.join(SMS_BACKENDS)}, got {settings.sms_backend!r}")
    for name, key in (("WECHAT_AES_KEY", settings.wechat_aes_key),
                      ("WECHAT_AES_KEY_PREVIOUS", settings.wechat_aes_key_previous)):
        if key is not None and len(key) != 43:
            raise ConfigError(f"{name} must be the 43-character EncodingAESKey")
    return settings


def _read(environ: Mapping[str, str], env: str, instance: Path) -> Settings:
    """What the environment says, each value parsed to its type (secrets and the database "" when unset)."""
    public_base = _env("PUBLIC_BASE_URL", environ, "http://127.0.0.1:5000").rstrip("/")
    appid = _env("WECHAT_APPID", environ)
    api_base = _env("WECHAT_API_BASE", environ, public_base + SANDBOX_API_PATH)
    # The school's phone number: shown (a tel: link on pages) wherever a trainee is sent to the school.
    # Development shows the demo school's number, so every 请致电学校 names one; production and the
    # tests take it from the environment only (production warns at start-up when it is unset).
    phone = _env("SCHOOL_PHONE", environ, DEMO_SCHOOL_PHONE if env == "development" else None)
    return Settings(
        env=env,
        secret_key=_env("SECRET_KEY", environ, ""),
        pii_key=_env("PII_KEY", environ, ""),
        database_url=_env("DATABASE_URL", environ, ""),
        redis_url=_env("REDIS_URL", environ, "redis://127.0.0.1:6379/0"),
        public_base_url=public_base,
        wechat_appid=SANDBOX_APPID if appid is None else appid,
        wechat_secret=SANDBOX_SECRET if appid is None else _env("WECHAT_SECRET", environ, ""),
        wechat_sandbox=appid is None,
        wechat_token=_env("WECHAT_TOKEN", environ, "dev-token"),
        wechat_aes_key=_env("WECHAT_AES_KEY", environ),
        wechat_aes_key_previous=_env("WECHAT_AES_KEY_PREVIOUS", environ),
        wechat_api_base=api_base if api_base.endswith("/") else api_base + "/",
        wechat_template_class_open=_env("WECHAT_TEMPLATE_CLASS_OPEN", environ),
        wechat_timeout_s=_int("WECHAT_TIMEOUT_S", environ, 5),
        log_level=(_env("LOG_LEVEL", environ) or "").upper() or None,
        school_contact=contact_line(
            _env("SCHOOL_CONTACT", environ, "苏州市智信建设职业培训学校教务处（工作日 9:00–17:00）"), phone),
        school_phone=phone,
        exam_rules_file=_env("EXAM_RULES_FILE", environ, str(REPO_ROOT / "exam_rules.json")),
        storage_url=_env("STORAGE_URL", environ, str(instance / "photos")),
        sms_backend=_env("SMS_BACKEND", environ, "console"),
        sms_access_key_id=_env("SMS_ACCESS_KEY_ID", environ),
        sms_access_key_secret=_env("SMS_ACCESS_KEY_SECRET", environ),
        sms_sdk_app_id=_env("SMS_SDK_APP_ID", environ),
        sms_sign_name=_env("SMS_SIGN_NAME", environ, "苏州市智信建设职业培训学校"),
        sms_region=_env("SMS_REGION", environ),
        sms_endpoint=_env("SMS_ENDPOINT", environ),
        sms_timeout_s=_int("SMS_TIMEOUT_S", environ, 5),
        wechat_template_class_reminder=_env("WECHAT_TEMPLATE_CLASS_REMINDER", environ),
        wechat_template_registration_expiry=_env("WECHAT_TEMPLATE_REGISTRATION_EXPIRY", environ),
        notice_templates_file=_env("NOTICE_TEMPLATES_FILE", environ, str(REPO_ROOT / "notice_templates.json")),
        outbox_pool_size=_int("OUTBOX_POOL_SIZE", environ, 16),
        outbox_rate_per_s=_float("OUTBOX_RATE_PER_S", environ, 20.0),
        outbox_lease_s=_int("OUTBOX_LEASE_S", environ, 60),
        outbox_max_attempts=_int("OUTBOX_MAX_ATTEMPTS", environ, 6),
        outbox_retry_base_s=_float("OUTBOX_RETRY_BASE_S", environ, 10.0),
        attendance_interval_min_s=_int("ATTENDANCE_INTERVAL_MIN_S", environ, 600),
        attendance_interval_max_s=_int("ATTENDANCE_INTERVAL_MAX_S", environ, 1800),
        attendance_ttl_s=_int("ATTENDANCE_TTL_S", environ, 180),
        play_heartbeat_s=_float("PLAY_HEARTBEAT_S", environ, 15.0),
        database_request_budget_s=_float("DATABASE_REQUEST_BUDGET_S", environ, 10.0),
        database_statement_timeout_ms=_int("DATABASE_STATEMENT_TIMEOUT_MS", environ, 8000),
        database_pgbouncer=_env("DATABASE_PGBOUNCER", environ, "0") not in ("0", "false", "no"),
        wechat_jssdk_url=_env("WECHAT_JSSDK_URL", environ,
                              "" if env == "testing" else "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"),
        proxy_count=_int("PROXY_COUNT", environ, 0),
        metrics_token=_env("METRICS_TOKEN", environ),
        # Completion (CONTRACT §8): the school's name printed on hours certificates, and how often one
        # address may open the public verification page.
        school_name=_env("SCHOOL_NAME", environ, "苏州市智信建设职业培训学校"),
        verify_rate_limit=_rate_limit("VERIFY_RATE_LIMIT", _env("VERIFY_RATE_LIMIT", environ, "30 per minute")),
        face_match=_face_match(environ, env),
        face_match_threshold=_face_threshold(environ),
        photo_retention_days=_photo_retention_days(environ),
        redis_key_prefix=_redis_key_prefix(env, instance, environ),
        exam_rules=_exam_rules(_env("EXAM_RULES_FILE", environ, str(REPO_ROOT / "exam_rules.json"))),
    )


def _with_development_defaults(settings: Settings, instance_path: Path) -> Settings:
    database_url = settings.database_url
    if not database_url:
        instance_path.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{instance_path / 'wxapp.sqlite3'}"
    return replace(settings, database_url=database_url,
                   secret_key=settings.secret_key or _instance_secret(instance_path, "secret_key"),
                   pii_key=settings.pii_key or _instance_secret(instance_path, "pii_key"))


def _check_production(settings: Settings) -> None:
    if not settings.secret_key or len(settings.secret_key) < 32:
        raise ConfigError("SECRET_KEY is missing or shorter than 32 characters")
    if not settings.pii_key:
        raise ConfigError("PII_KEY is missing")
    if settings.wechat_sandbox or not settings.wechat_secret:
        raise ConfigError("WECHAT_APPID and WECHAT_SECRET are required in production")
    if settings.wechat_token == "dev-token":
        raise ConfigError("WECHAT_TOKEN is missing or still the development token")
    uri = settings.database_url
    if not uri:
        raise ConfigError("DATABASE_URL is missing")
    if uri.startswith("sqlite"):
        raise ConfigError("DATABASE_URL is SQLite; production needs PostgreSQL")
    if SANDBOX_API_PATH in settings.wechat_api_base:
        raise ConfigError("WECHAT_API_BASE points at the development sandbox")
    if urlsplit(settings.public_base_url).scheme != "https":
        raise ConfigError("PUBLIC_BASE_URL must be an https:// origin in production")
    _check_sms_credentials(settings)


def _check_sms_credentials(settings: Settings) -> None:
    backend = settings.sms_backend
    if backend == "console":
        return
    given = {"SMS_ACCESS_KEY_ID": settings.sms_access_key_id, "SMS_ACCESS_KEY_SECRET": settings.sms_access_key_secret,
             "SMS_SDK_APP_ID": settings.sms_sdk_app_id}
    needed = ["SMS_ACCESS_KEY_ID", "SMS_ACCESS_KEY_SECRET"] + (["SMS_SDK_APP_ID"] if backend == "tencent" else [])
    missing = [name for name in needed if not given[name]]
    if missing:
        raise ConfigError(f"SMS_BACKEND={backend} needs {', '.join(missing)}")


def _rate_limit(name: str, value: str) -> str:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must read like '30 per minute', got {value!r}") from None
    return value


def _exam_rules(path: str) -> Rules:
    """The exam's paper rules are checked at start-up (CONTRACT §7)."""
    from services.exam import rules

    try:
        return rules.load(path)
    except rules.RulesError as exc:
        raise ConfigError(exc.message) from None


def _check_storage(url: str) -> None:
    """The photo store's address is checked at start-up (CONTRACT §7)."""
    from services import storage

    try:
        storage.check_url(url)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


# Face comparison (CONTRACT §7): on where requirements-face.txt is installed unless FACE_MATCH=off
# (tests switch it on where they test it); the distance threshold; how long exam photos are kept.

def _face_match(environ: Mapping[str, str], env: str) -> str:
    value = (_env("FACE_MATCH", environ, "off" if env == "testing" else "on") or "").lower()
    if value not in ("on", "off"):
        raise ConfigError(f"FACE_MATCH must be on or off, got {value!r}")
    return value


def _face_threshold(environ: Mapping[str, str]) -> float:
    threshold = _float("FACE_MATCH_THRESHOLD", environ, 0.6)
    if not 0 < threshold < 2:
        raise ConfigError("FACE_MATCH_THRESHOLD must be a distance between 0 and 2 (dlib's operating point: 0.6)")
    return threshold


def _photo_retention_days(environ: Mapping[str, str]) -> int:
    days = _int("PHOTO_RETENTION_DAYS", environ, 365)
    if days < 1:
        raise ConfigError("PHOTO_RETENTION_DAYS must be a number of days, at least 1")
    return days


def contact_line(contact: str, phone: str | None) -> str:
    """The contact line the chat shows (help text, "请联系学校"): SCHOOL_CONTACT with the phone."""
    if not phone or phone in contact:
        return contact
    return f"{contact}，电话 {phone}"


def _redis_key_prefix(env: str, instance_path: Path, environ: Mapping[str, str]) -> str:
    """The prefix of every Redis key (services/keys.py). In development each `instance/` gets its
    own, made once, so a fresh instance (a new SQLite file, trainee ids from 1 again) doesn't
    inherit the player state an old one left in the shared local Redis."""
    configured = _env("REDIS_KEY_PREFIX", environ)
    if configured or env != "development":
        return configured or "wxapp"
    path = instance_path / "redis_prefix"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(f"wxapp:{secrets.token_hex(4)}")
    return path.read_text().strip()


def startup_warnings(settings: Settings) -> list[str]:
    """Settings a production start accepts but an operator should hear about, one line each."""
    warnings = []
    if settings.production and not settings.school_phone:
        warnings.append("SCHOOL_PHONE is not set: pages that send a trainee to the school name no phone number")
    return warnings


# -- What Flask and its extensions read (app.config) ----------------------------------------------

def flask_config(settings: Settings) -> dict[str, Any]:
    """`app.config`: the settings Flask, Flask-SQLAlchemy, Flask-WTF and Flask-Limiter read, and only those."""
    return {
        "TESTING": settings.testing,
        "SECRET_KEY": settings.secret_key,
        "SQLALCHEMY_DATABASE_URI": settings.database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(settings),
        "SESSION_COOKIE_NAME": "wxapp_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": settings.production,
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        # WeChat bodies are small (settings.wechat_max_body); a page's upload at most a photo or a roster.
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        # A form's CSRF token lives as long as the session, not an hour: a trainee who typed slowly loses nothing.
        "WTF_CSRF_TIME_LIMIT": None,
        # No Referer demanded over HTTPS: the attendance page sends none (its QR token must not leak)
        # and WeChat's browser may drop it; the session-bound token, SameSite cookies and HSTS remain.
        "WTF_CSRF_SSL_STRICT": False,
        "RATELIMIT_STORAGE_URI": _limits_storage_uri(settings.redis_url),
        "RATELIMIT_HEADERS_ENABLED": False,
        # The route limits' own Redis connection gives up as soon as the app's does; while Redis is
        # down a limit is skipped (the view's answer says what is wrong) rather than turned into a 500.
        "RATELIMIT_STORAGE_OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
        "RATELIMIT_SWALLOW_ERRORS": True,
    }


def engine_options(settings: Settings) -> dict[str, Any]:
    """No pre-ping (a round trip per request): a pooled connection the server closed is dropped at
    checkout by a poll of its socket (wxapp/db_budget.py). A request waits at most 2 s for a pooled
    connection. No query parameters (phones, ID card hashes) in SQLAlchemy's exception texts and logs."""
    options: dict[str, Any] = {"pool_recycle": 1800, "pool_timeout": 2, "hide_parameters": True}
    if settings.database_url.startswith("postgresql"):
        options["connect_args"] = postgres_connect_args(settings.database_statement_timeout_ms,
                                                        settings.database_pgbouncer)
    return options


def _limits_storage_uri(redis_url: str) -> str:
    """The route limits' storage on the app's Redis. A Redis on the same host may be reached by
    its unix socket (`unix:///run/redis/redis-server.sock?db=0`: a command costs less than over
    loopback TCP); the limits library spells that scheme `redis+unix`."""
    return "redis+" + redis_url if redis_url.startswith("unix://") else redis_url


def postgres_connect_args(statement_timeout_ms: int, pgbouncer: bool = False) -> dict[str, Any]:
    """libpq settings of every PostgreSQL connection: a connect that gives up (2 s, libpq's least),
    TCP keepalives (a server or link that died silently is found within ~1 min instead of the
    kernel's 2 h), and the server's limit on one statement (lock waits included).

    Through PgBouncer in transaction mode a transaction may meet another server connection than the
    last: psycopg must not prepare statements (it does after 5 uses of one; PgBouncer 1.18 keeps none
    across server connections), and PgBouncer refuses an `options` startup parameter, so
    statement_timeout is set on the role instead (README)."""
    args: dict[str, Any] = {"connect_timeout": 2, "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                            "keepalives_count": 3}
    if pgbouncer:
        args["prepare_threshold"] = None
    elif statement_timeout_ms > 0:
        args["options"] = f"-c statement_timeout={statement_timeout_ms}"
    return args


# -- The app's settings, and the typed settings handed to services, built from them ----------------

def of(app: Flask) -> Settings:
    """The settings `create_app` checked and kept for this app."""
    settings: Settings = app.extensions["settings"]
    return settings


def current() -> Settings:
    """The settings of the app of this request, command or job."""
    return of(current_app)


def links(public_base_url: str) -> Links:
    """The addresses of the pages that services put into notices, QR codes and certificates:
    the routes are the app's (h5.learn, h5.exam, h5.bind, h5.certificate_list, h5.attend, verify.verify;
    tests/test_links.py)."""
    from services.links import Links

    base = public_base_url.rstrip("/")
    return Links(learn=f"{base}/h5/learn", exam=f"{base}/h5/exam", bind=f"{base}/h5/bind",
                 certificates=f"{base}/h5/certificates", attend_prefix=f"{base}/h5/attend/",
                 verify_prefix=f"{base}/verify/")


def notice_settings(settings: Settings) -> NoticeSettings:
    """What notices, their templates, the outbox and the SMS backend need, and nothing else."""
    from models.notices import (
        NOTICE_CLASS_OPEN,
        NOTICE_CLASS_REMINDER,
        NOTICE_KINDS,
        NOTICE_REGISTRATION_EXPIRY,
    )
    from services.notices.settings import DispatchSettings, NoticeSettings, SmsSettings

    sms = SmsSettings(
        backend=settings.sms_backend, sign_name=settings.sms_sign_name, access_key_id=settings.sms_access_key_id,
        access_key_secret=settings.sms_access_key_secret, sdk_app_id=settings.sms_sdk_app_id,
        endpoint=settings.sms_endpoint, region=settings.sms_region, timeout_s=settings.sms_timeout_s,
        production=settings.production,
    )
    dispatch = DispatchSettings(
        pool_size=max(settings.outbox_pool_size, 1), rate_per_s=settings.outbox_rate_per_s,
        lease_s=float(settings.outbox_lease_s), max_attempts=max(settings.outbox_max_attempts, 1),
        retry_base_s=settings.outbox_retry_base_s,
    )
    configured = {NOTICE_CLASS_OPEN: settings.wechat_template_class_open,
                  NOTICE_CLASS_REMINDER: settings.wechat_template_class_reminder,
                  NOTICE_REGISTRATION_EXPIRY: settings.wechat_template_registration_expiry}
    return NoticeSettings(
        templates_file=settings.notice_templates_file,
        template_ids={kind: configured.get(kind) for kind in NOTICE_KINDS},
        links=links(settings.public_base_url), sms=sms, dispatch=dispatch,
    )


def play_settings(settings: Settings) -> PlaySettings:
    from services.study.player import Settings as PlaySettings

    return PlaySettings(settings.attendance_interval_min_s, settings.attendance_interval_max_s,
                        settings.attendance_ttl_s, settings.play_heartbeat_s)


def face_settings(settings: Settings) -> FaceSettings:
    from services.exam import faces

    present = faces.installed()
    return faces.FaceSettings(installed=present, enabled=present and settings.face_match == "on",
                              threshold=settings.face_match_threshold, retention_days=settings.photo_retention_days,
                              contact=settings.school_contact)
