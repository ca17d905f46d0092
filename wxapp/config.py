"""Settings from the environment (CONTRACT §2), checked once at start-up.

`load_config()` returns a plain dict that `create_app()` puts into `app.config`.
Development fills in safe local defaults (secrets generated once into `instance/`);
production refuses to start with a missing or unsafe setting and names it in one line.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from services.exam.faces import FaceSettings
    from services.links import Links
    from services.notices.settings import NoticeSettings
    from services.study.player import Settings as PlaySettings

ENVIRONMENTS = ("development", "testing", "production")
SANDBOX_API_PATH = "/dev/api/"
PII_KEY_MIN_LEN = 32
SMS_BACKENDS = ("console", "aliyun", "tencent")
REPO_ROOT = Path(__file__).resolve().parents[1]


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message names it in one line."""


def _env(name: str, environ, default: str | None = None) -> str | None:
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


def _int(name: str, environ, default: int) -> int:
    raw = _env(name, environ)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _float(name: str, environ, default: float) -> float:
    raw = _env(name, environ)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


# The demo school's phone (development default of SCHOOL_PHONE, CONTRACT §2): fictitious.
DEMO_SCHOOL_PHONE = "0512-6888 8888"


def startup_warnings(cfg: Mapping[str, Any]) -> list[str]:
    """Settings a production start accepts but an operator should hear about, one line each."""
    warnings = []
    if cfg["WXAPP_ENV"] == "production" and not cfg.get("SCHOOL_PHONE"):
        warnings.append("SCHOOL_PHONE is not set: pages that send a trainee to the school name no phone number")
    return warnings


def load_config(instance_path: str | Path, environ=None) -> dict:
    environ = os.environ if environ is None else environ
    instance_path = Path(instance_path)
    env = _env("WXAPP_ENV", environ, "development")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"WXAPP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    production = env == "production"

    public_base = _env("PUBLIC_BASE_URL", environ, "http://127.0.0.1:5000").rstrip("/")
    cfg = {
        "WXAPP_ENV": env,
        "TESTING": env == "testing",
        "SECRET_KEY": _env("SECRET_KEY", environ),
        "PII_KEY": _env("PII_KEY", environ),
        "SQLALCHEMY_DATABASE_URI": _env("DATABASE_URL", environ),
        "REDIS_URL": _env("REDIS_URL", environ, "redis://127.0.0.1:6379/0"),
        "PUBLIC_BASE_URL": public_base,
        "WECHAT_APPID": _env("WECHAT_APPID", environ),
        "WECHAT_SECRET": _env("WECHAT_SECRET", environ),
        "WECHAT_TOKEN": _env("WECHAT_TOKEN", environ, "dev-token"),
        "WECHAT_AES_KEY": _env("WECHAT_AES_KEY", environ),
        "WECHAT_AES_KEY_PREVIOUS": _env("WECHAT_AES_KEY_PREVIOUS", environ),
        "WECHAT_API_BASE": _env("WECHAT_API_BASE", environ, public_base + SANDBOX_API_PATH),
        "WECHAT_TEMPLATE_CLASS_OPEN": _env("WECHAT_TEMPLATE_CLASS_OPEN", environ),
        "WECHAT_TIMEOUT_S": _int("WECHAT_TIMEOUT_S", environ, 5),
        "LOG_LEVEL": (_env("LOG_LEVEL", environ) or "").upper() or None,
        "SCHOOL_CONTACT": _env("SCHOOL_CONTACT", environ, "苏州市智信建设职业培训学校教务处（工作日 9:00–17:00）"),
        # The school's phone number: shown (a tel: link on pages) wherever a trainee is sent to the school.
        # Development shows the demo school's number, so every 请致电学校 names one; production and the
        # tests take it from the environment only (production warns at start-up when it is unset).
        "SCHOOL_PHONE": _env("SCHOOL_PHONE", environ, DEMO_SCHOOL_PHONE if env == "development" else None),
        # The exam's paper rules (CONTRACT §7) and where uploaded photos are kept (a directory or s3://…).
        "EXAM_RULES_FILE": _env("EXAM_RULES_FILE", environ, str(REPO_ROOT / "exam_rules.json")),
        "STORAGE_URL": _env("STORAGE_URL", environ, str(instance_path / "photos")),
        "SMS_BACKEND": _env("SMS_BACKEND", environ, "console"),
        # Aliyun AccessKey ID/secret or Tencent Cloud SecretId/SecretKey, by SMS_BACKEND.
        "SMS_ACCESS_KEY_ID": _env("SMS_ACCESS_KEY_ID", environ),
        "SMS_ACCESS_KEY_SECRET": _env("SMS_ACCESS_KEY_SECRET", environ),
        "SMS_SDK_APP_ID": _env("SMS_SDK_APP_ID", environ),  # Tencent Cloud only
        "SMS_SIGN_NAME": _env("SMS_SIGN_NAME", environ, "苏州市智信建设职业培训学校"),
        "SMS_REGION": _env("SMS_REGION", environ),
        "SMS_ENDPOINT": _env("SMS_ENDPOINT", environ),  # e.g. http://127.0.0.1:PORT for a stand-in
        "SMS_TIMEOUT_S": _int("SMS_TIMEOUT_S", environ, 5),
        "WECHAT_TEMPLATE_CLASS_REMINDER": _env("WECHAT_TEMPLATE_CLASS_REMINDER", environ),
        "WECHAT_TEMPLATE_REGISTRATION_EXPIRY": _env("WECHAT_TEMPLATE_REGISTRATION_EXPIRY", environ),
        "NOTICE_TEMPLATES_FILE": _env("NOTICE_TEMPLATES_FILE", environ, str(REPO_ROOT / "notice_templates.json")),
        # The outbox dispatcher: concurrent sends, sends per second per channel (0: no limit),
        # how long a claimed row may stay `sending`, and the retry schedule of transient errors.
        "OUTBOX_POOL_SIZE": _int("OUTBOX_POOL_SIZE", environ, 16),
        "OUTBOX_RATE_PER_S": _float("OUTBOX_RATE_PER_S", environ, 20.0),
        "OUTBOX_LEASE_S": _int("OUTBOX_LEASE_S", environ, 300),
        "OUTBOX_MAX_ATTEMPTS": _int("OUTBOX_MAX_ATTEMPTS", environ, 6),
        "OUTBOX_RETRY_BASE_S": _float("OUTBOX_RETRY_BASE_S", environ, 10.0),
        "ATTENDANCE_INTERVAL_MIN_S": _int("ATTENDANCE_INTERVAL_MIN_S", environ, 600),
        "ATTENDANCE_INTERVAL_MAX_S": _int("ATTENDANCE_INTERVAL_MAX_S", environ, 1800),
        "ATTENDANCE_TTL_S": _int("ATTENDANCE_TTL_S", environ, 180),
        # Seconds between two heartbeats of a playing player page (tests make it short).
        "PLAY_HEARTBEAT_S": _float("PLAY_HEARTBEAT_S", environ, 15.0),
        # No pre-ping (a round trip per request): a pooled connection the server closed is dropped at
        # checkout by a poll of its socket (wxapp/db_budget.py). A request waits at most 2 s for a
        # pooled connection.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 1800, "pool_timeout": 2},
        # How long a request (a page, a heartbeat, the console) may wait on the database in all,
        # whatever the state of the server; and the server's own limit on one statement (0: none).
        "DATABASE_REQUEST_BUDGET_S": _float("DATABASE_REQUEST_BUDGET_S", environ, 10.0),
        "DATABASE_STATEMENT_TIMEOUT_MS": _int("DATABASE_STATEMENT_TIMEOUT_MS", environ, 8000),
        # Through PgBouncer in transaction mode (README): no prepared statements, no startup options.
        "DATABASE_PGBOUNCER": _env("DATABASE_PGBOUNCER", environ, "0") not in ("0", "false", "no"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_NAME": "wxapp_session",
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        # The official JS-SDK (tests load no outside script; pages work without it).
        "WECHAT_JSSDK_URL": _env("WECHAT_JSSDK_URL", environ,
                                 "" if env == "testing" else "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"),
        # Number of trusted proxies in front (X-Forwarded-For / -Proto); 0 when served directly.
        "PROXY_COUNT": _int("PROXY_COUNT", environ, 0),
        # Bearer token of GET /metrics (CONTRACT §10); unset, /metrics answers 404.
        "METRICS_TOKEN": _env("METRICS_TOKEN", environ),
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        # WeChat bodies are small; anything larger is refused before parsing.
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        "WECHAT_MAX_BODY": 64 * 1024,
    }
    # Completion (CONTRACT §8): the school's name printed on hours certificates, and how often one
    # address may open the public verification page (a limits string, e.g. "30 per minute").
    cfg["SCHOOL_NAME"] = _env("SCHOOL_NAME", environ, "苏州市智信建设职业培训学校")
    cfg["VERIFY_RATE_LIMIT"] = _env("VERIFY_RATE_LIMIT", environ, "30 per minute")
    _check_rate_limit("VERIFY_RATE_LIMIT", cfg["VERIFY_RATE_LIMIT"])
    _face_settings(cfg, env, environ)
    cfg["RATELIMIT_STORAGE_URI"] = _limits_storage_uri(cfg["REDIS_URL"])
    cfg["RATELIMIT_HEADERS_ENABLED"] = False
    cfg["SCHOOL_CONTACT"] = contact_line(cfg["SCHOOL_CONTACT"], cfg["SCHOOL_PHONE"])
    cfg["REDIS_KEY_PREFIX"] = _redis_key_prefix(env, instance_path, environ)
    if not cfg["WECHAT_API_BASE"].endswith("/"):
        cfg["WECHAT_API_BASE"] += "/"
    cfg["WECHAT_SANDBOX"] = cfg["WECHAT_APPID"] is None
    if cfg["WECHAT_SANDBOX"]:
        cfg["WECHAT_APPID"], cfg["WECHAT_SECRET"] = "wxsandbox0000000", "sandbox-secret"

    if production:
        _check_production(cfg)
    else:
        _fill_development_defaults(cfg, instance_path)
    if len(cfg["PII_KEY"]) < PII_KEY_MIN_LEN:
        raise ConfigError(f"PII_KEY must be at least {PII_KEY_MIN_LEN} characters")
    if not 0 < cfg["ATTENDANCE_INTERVAL_MIN_S"] <= cfg["ATTENDANCE_INTERVAL_MAX_S"]:
        raise ConfigError("ATTENDANCE_INTERVAL_MIN_S must be > 0 and <= ATTENDANCE_INTERVAL_MAX_S")
    _check_exam_settings(cfg)
    if cfg["SMS_BACKEND"] not in SMS_BACKENDS:
        raise ConfigError(f"SMS_BACKEND must be one of {', '.join(SMS_BACKENDS)}, got {cfg['SMS_BACKEND']!r}")
    for name in ("WECHAT_AES_KEY", "WECHAT_AES_KEY_PREVIOUS"):
        if cfg[name] is not None and len(cfg[name]) != 43:
            raise ConfigError(f"{name} must be the 43-character EncodingAESKey")
    _hold_under_outages(cfg)
    return cfg


def _limits_storage_uri(redis_url: str) -> str:
    """The route limits' storage on the app's Redis. A Redis on the same host may be reached by
    its unix socket (`unix:///run/redis/redis-server.sock?db=0`: a command costs less than over
    loopback TCP); the limits library spells that scheme `redis+unix`."""
    return "redis+" + redis_url if redis_url.startswith("unix://") else redis_url


def _hold_under_outages(cfg: dict) -> None:
    """Settings that keep answers short and logs clean while Redis or the database is down."""
    # A form's CSRF token lives as long as the session, not an hour: a trainee who typed slowly loses nothing.
    cfg["WTF_CSRF_TIME_LIMIT"] = None
    # No Referer demanded over HTTPS: the attendance page sends none (its QR token must not leak)
    # and WeChat's browser may drop it; the session-bound token, SameSite cookies and HSTS remain.
    cfg["WTF_CSRF_SSL_STRICT"] = False
    # No query parameters (phones, ID card hashes) in SQLAlchemy's exception texts and logs.
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {**cfg["SQLALCHEMY_ENGINE_OPTIONS"], "hide_parameters": True}
    if (cfg["SQLALCHEMY_DATABASE_URI"] or "").startswith("postgresql"):
        cfg["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"] = postgres_connect_args(
            cfg["DATABASE_STATEMENT_TIMEOUT_MS"], cfg["DATABASE_PGBOUNCER"])
    # The route limits' own Redis connection gives up as soon as the app's does; while Redis is
    # down a limit is skipped (the view's answer says what is wrong) rather than turned into a 500.
    cfg["RATELIMIT_STORAGE_OPTIONS"] = {"socket_timeout": 2, "socket_connect_timeout": 2}
    cfg["RATELIMIT_SWALLOW_ERRORS"] = True


def postgres_connect_args(statement_timeout_ms: int, pgbouncer: bool = False) -> dict:
    """libpq settings of every PostgreSQL connection: a connect that gives up (2 s, libpq's least),
    TCP keepalives (a server or link that died silently is found within ~1 min instead of the
    kernel's 2 h), and the server's limit on one statement (lock waits included).

    Through PgBouncer in transaction mode a transaction may meet another server connection than the
    last: psycopg must not prepare statements (it does after 5 uses of one; PgBouncer 1.18 keeps none
    across server connections), and PgBouncer refuses an `options` startup parameter, so
    statement_timeout is set on the role instead (README)."""
    args: dict = {"connect_timeout": 2, "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                  "keepalives_count": 3}
    if pgbouncer:
        args["prepare_threshold"] = None
    elif statement_timeout_ms > 0:
        args["options"] = f"-c statement_timeout={statement_timeout_ms}"
    return args


def _fill_development_defaults(cfg: dict, instance_path: Path) -> None:
    if not cfg["SECRET_KEY"]:
        cfg["SECRET_KEY"] = _instance_secret(instance_path, "secret_key")
    if not cfg["PII_KEY"]:
        cfg["PII_KEY"] = _instance_secret(instance_path, "pii_key")
    if not cfg["SQLALCHEMY_DATABASE_URI"]:
        instance_path.mkdir(parents=True, exist_ok=True)
        cfg["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance_path / 'wxapp.sqlite3'}"


def _check_production(cfg: dict) -> None:
    if not cfg["SECRET_KEY"] or len(cfg["SECRET_KEY"]) < 32:
        raise ConfigError("SECRET_KEY is missing or shorter than 32 characters")
    if not cfg["PII_KEY"]:
        raise ConfigError("PII_KEY is missing")
    if cfg["WECHAT_SANDBOX"] or not cfg["WECHAT_SECRET"]:
        raise ConfigError("WECHAT_APPID and WECHAT_SECRET are required in production")
    if cfg["WECHAT_TOKEN"] in (None, "dev-token"):
        raise ConfigError("WECHAT_TOKEN is missing or still the development token")
    uri = cfg["SQLALCHEMY_DATABASE_URI"]
    if not uri:
        raise ConfigError("DATABASE_URL is missing")
    if uri.startswith("sqlite"):
        raise ConfigError("DATABASE_URL is SQLite; production needs PostgreSQL")
    if SANDBOX_API_PATH in cfg["WECHAT_API_BASE"]:
        raise ConfigError("WECHAT_API_BASE points at the development sandbox")
    if urlsplit(cfg["PUBLIC_BASE_URL"]).scheme != "https":
        raise ConfigError("PUBLIC_BASE_URL must be an https:// origin in production")
    _check_sms_credentials(cfg)


def _check_sms_credentials(cfg: dict) -> None:
    backend = cfg["SMS_BACKEND"]
    if backend == "console":
        return
    needed = ["SMS_ACCESS_KEY_ID", "SMS_ACCESS_KEY_SECRET"] + (["SMS_SDK_APP_ID"] if backend == "tencent" else [])
    missing = [name for name in needed if not cfg[name]]
    if missing:
        raise ConfigError(f"SMS_BACKEND={backend} needs {', '.join(missing)}")


def _check_rate_limit(name: str, value: str) -> None:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must read like '30 per minute', got {value!r}") from None


def _check_exam_settings(cfg: dict) -> None:
    """The exam's paper rules and the photo store are checked at start-up (CONTRACT §7)."""
    from services import storage
    from services.exam import rules

    try:
        cfg["EXAM_RULES"] = rules.load(cfg["EXAM_RULES_FILE"])
    except rules.RulesError as exc:
        raise ConfigError(exc.message) from None
    try:
        storage.check_url(cfg["STORAGE_URL"])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _face_settings(cfg: dict, env: str, environ) -> None:
    """Face comparison (CONTRACT §7): on where requirements-face.txt is installed unless FACE_MATCH=off
    (tests switch it on where they test it); the distance threshold; how long exam photos are kept."""
    cfg["FACE_MATCH"] = (_env("FACE_MATCH", environ, "off" if env == "testing" else "on") or "").lower()
    if cfg["FACE_MATCH"] not in ("on", "off"):
        raise ConfigError(f"FACE_MATCH must be on or off, got {cfg['FACE_MATCH']!r}")
    cfg["FACE_MATCH_THRESHOLD"] = _float("FACE_MATCH_THRESHOLD", environ, 0.6)
    if not 0 < cfg["FACE_MATCH_THRESHOLD"] < 2:
        raise ConfigError("FACE_MATCH_THRESHOLD must be a distance between 0 and 2 (dlib's operating point: 0.6)")
    cfg["PHOTO_RETENTION_DAYS"] = _int("PHOTO_RETENTION_DAYS", environ, 365)
    if cfg["PHOTO_RETENTION_DAYS"] < 1:
        raise ConfigError("PHOTO_RETENTION_DAYS must be a number of days, at least 1")


def contact_line(contact: str, phone: str | None) -> str:
    """The contact line the chat shows (help text, "请联系学校"): SCHOOL_CONTACT with the phone."""
    if not phone or phone in contact:
        return contact
    return f"{contact}，电话 {phone}"


def _redis_key_prefix(env: str, instance_path: Path, environ) -> str:
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


# -- Typed settings handed to services, built once from the checked config -----------------------

def links(cfg: Mapping[str, Any]) -> Links:
    """The addresses of the pages that services put into notices, QR codes and certificates:
    the routes are the app's (h5.learn, h5.exam, h5.bind, h5.certificate_list, h5.attend, verify.verify;
    tests/test_links.py)."""
    from services.links import Links

    base = cfg["PUBLIC_BASE_URL"].rstrip("/")
    return Links(learn=f"{base}/h5/learn", exam=f"{base}/h5/exam", bind=f"{base}/h5/bind",
                 certificates=f"{base}/h5/certificates", attend_prefix=f"{base}/h5/attend/",
                 verify_prefix=f"{base}/verify/")


def notice_settings(cfg: Mapping[str, Any]) -> NoticeSettings:
    """What notices, their templates, the outbox and the SMS backend need, and nothing else."""
    from models.notices import NOTICE_KINDS
    from services.notices.settings import DispatchSettings, NoticeSettings, SmsSettings

    sms = SmsSettings(
        backend=cfg["SMS_BACKEND"], sign_name=cfg["SMS_SIGN_NAME"], access_key_id=cfg["SMS_ACCESS_KEY_ID"],
        access_key_secret=cfg["SMS_ACCESS_KEY_SECRET"], sdk_app_id=cfg["SMS_SDK_APP_ID"],
        endpoint=cfg["SMS_ENDPOINT"], region=cfg["SMS_REGION"], timeout_s=cfg["SMS_TIMEOUT_S"],
        production=cfg["WXAPP_ENV"] == "production",
    )
    dispatch = DispatchSettings(
        pool_size=max(int(cfg["OUTBOX_POOL_SIZE"]), 1), rate_per_s=float(cfg["OUTBOX_RATE_PER_S"]),
        lease_s=float(cfg["OUTBOX_LEASE_S"]), max_attempts=max(int(cfg["OUTBOX_MAX_ATTEMPTS"]), 1),
        retry_base_s=float(cfg["OUTBOX_RETRY_BASE_S"]),
    )
    return NoticeSettings(
        templates_file=cfg["NOTICE_TEMPLATES_FILE"],
        template_ids={kind: cfg.get(f"WECHAT_TEMPLATE_{kind.upper()}") for kind in NOTICE_KINDS},
        links=links(cfg), sms=sms, dispatch=dispatch,
    )


def play_settings(cfg: Mapping[str, Any]) -> PlaySettings:
    from services.study.player import Settings

    return Settings(cfg["ATTENDANCE_INTERVAL_MIN_S"], cfg["ATTENDANCE_INTERVAL_MAX_S"], cfg["ATTENDANCE_TTL_S"],
                    cfg["PLAY_HEARTBEAT_S"])


def face_settings(cfg: Mapping[str, Any]) -> FaceSettings:
    from services.exam import faces

    present = faces.installed()
    return faces.FaceSettings(installed=present, enabled=present and cfg["FACE_MATCH"] == "on",
                              threshold=cfg["FACE_MATCH_THRESHOLD"], retention_days=cfg["PHOTO_RETENTION_DAYS"],
                              contact=cfg["SCHOOL_CONTACT"])
