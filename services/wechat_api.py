"""The server-to-WeChat API client: every call through `api_base`, one shared token, bounded retry.

Built on wechatpy's `WeChatClient`, with what it lacks for several processes:
- the access token lives in Redis for every process, fetched from `cgi-bin/stable_token` under a
  Redis lock so that N processes asking at once fetch once (each fetch may invalidate the last);
- on 40001/40014/42001 a call is retried once only, after invalidating the stored token if it is
  still the one that failed (WxJava's rule); wechatpy's own `auto_retry` recurses without limit;
- a timeout on every call, the token fetch and the OAuth code exchange included;
- errors come out as `WeChatApiError` (a `ServiceError`: a Chinese `message`, WeChat's own words in
  `detail`), whose `transient` tells a dispatcher retry from fallback.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import certifi
import redis as redis_lib
import requests
import urllib3
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from services import JsonObject, keys
from services.errors import ServiceError
from services.logfmt import kv
from services.redis_tools import text as redis_text

log = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# System busy, frequency limits, and a token still refused after one refresh: worth retrying later.
TRANSIENT_ERRORS = frozenset({-1, 45009, 45011}) | TOKEN_ERRORS
TOKEN_MARGIN_S = 300  # WeChat keeps an old token valid ~5 min after a refresh; renew before that.
# A process keeps the token it last read from Redis this long, so a burst of sends (the outbox's
# fan-out) does not ask Redis once per message. Far inside TOKEN_MARGIN_S: a token replaced by
# another process still works meanwhile, and one WeChat refuses is dropped here at once.
TOKEN_LOCAL_S = 10.0
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class WeChatApiError(ServiceError):
    """WeChat refused a call (`errcode`, `errmsg`); `transient` says whether a retry may succeed."""

    def __init__(self, errcode: int | None, errmsg: str, transient: bool | None = None,
                 message: str = "微信接口没有完成这次请求，请稍后再试。"):
        super().__init__(message, f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.transient = errcode in TRANSIENT_ERRORS if transient is None else transient


class WeChatUnavailable(WeChatApiError):
    """WeChat could not be reached or answered garbage: timeout, refused connection, HTTP error.

    `may_have_left`: the request was sent and no answer came (read timeout, connection dropped
    while waiting): WeChat may have acted on it. False when it never left (refused, DNS, connect
    timeout) or WeChat answered."""

    def __init__(self, errmsg: str, transient: bool = True, may_have_left: bool = False):
        super().__init__(None, errmsg, transient, message="暂时连不上微信，请稍后再试。")
        self.may_have_left = may_have_left


@dataclass(frozen=True)
class OAuthResult:
    openid: str
    # A "snapshot page" virtual user (is_snapshotuser=1): never bind it.
    is_snapshot: bool


class WeChatApi(WeChatClient):
    """One instance per app; safe to share between threads, and between processes through Redis."""

    def __init__(self, appid: str, secret: str, api_base: str, redis: redis_lib.Redis, timeout: float):
        super().__init__(
            appid, secret, session=RedisStorage(redis, prefix=keys.wechatpy_session_prefix()),
            timeout=timeout, auto_retry=False,
        )
        self.api_base = api_base if api_base.endswith("/") else api_base + "/"
        # Instance attribute: wechatpy's sub-APIs (menu, message, qrcode) build their URLs from it.
        self.API_BASE_URL = self.api_base + "cgi-bin/"
        self.redis = redis
        # requests reads the environment (proxies, ~/.netrc, a CA bundle) again on every call: stats
        # and a scan of os.environ per message of a fan-out. Read once here, for api_base, the only
        # host this client calls.
        self._http.proxies.update(requests.utils.get_environ_proxies(self.api_base))
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if ca_bundle:
            self._http.verify = ca_bundle
        self._http.trust_env = False
        self._local_token: tuple[str, float] | None = None  # (token, monotonic time it is kept until)
        # Template messages go straight on urllib3 (below, `_post_json`), through the same proxy and CAs.
        proxies = requests.utils.get_environ_proxies(self.api_base)
        self._proxy = proxies.get(self.api_base.split(":", 1)[0]) or proxies.get("all")
        self._ca_certs = ca_bundle or certifi.where()
        self._pool_lock = threading.Lock()
        self._pool_size = 0
        self._pool: urllib3.PoolManager = self._new_pool(10)

    # -- public API ---------------------------------------------------------------------------

    def access_token(self) -> str:
        """The shared token, fetched if none is stored.

        A method where wechatpy has a property: the few wechatpy sub-APIs that read the property
        (customservice, media.get_url) also ignore `api_base`, so they are not to be used here.
        """
        return self._token(failed=None)

    def create_menu(self, menu: JsonObject) -> None:
        self.post("menu/create", data=menu)

    def send_template(self, openid: str, template_id: str, data: dict[str, dict[str, str]], url: str | None = None,
                      client_msg_id: str | None = None) -> int:
        """A template message; WeChat delivers one per OpenID + `client_msg_id` within 10 minutes,
        so a resend after a timeout reaches the phone once (wechatpy's send_template lacks it)."""
        body: JsonObject = {"touser": openid, "template_id": template_id, "data": data}
        if url:
            body["url"] = url
        if client_msg_id:
            body["client_msg_id"] = client_msg_id
        result = self._post_json("message/template/send", body)
        return int(result["msgid"])

    def size_pool(self, size: int) -> None:
        """Keeps `size` connections to WeChat for template messages (one per send thread)."""
        with self._pool_lock:
            if size > self._pool_size:
                self._pool = self._new_pool(size)

    def oauth_openid(self, code: str) -> OAuthResult:
        """Exchanges a one-time OAuth2 (snsapi_base) code for the visitor's OpenID."""
        result = self._plain_call("GET", "sns/oauth2/access_token", params={
            "appid": self.appid, "secret": self.secret, "code": code,
            "grant_type": "authorization_code",
        })
        if not result.get("openid"):
            raise WeChatUnavailable("OAuth answer without openid", transient=False)
        return OAuthResult(openid=result["openid"], is_snapshot=int(result.get("is_snapshotuser") or 0) == 1)

    # -- token --------------------------------------------------------------------------------

    def fetch_access_token(self, force_refresh: bool = False) -> JsonObject:
        """Fetches a token from `stable_token` through api_base and stores it for every process."""
        result = self._plain_call("POST", "cgi-bin/stable_token", json={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
            "force_refresh": force_refresh,
        })
        token = result.get("access_token")
        if not token:
            raise WeChatUnavailable("token answer without access_token")
        expires_in = int(result.get("expires_in") or 7200)
        ttl = expires_in - TOKEN_MARGIN_S if expires_in > 2 * TOKEN_MARGIN_S else max(expires_in // 2, 1)
        self.redis.set(keys.access_token(self.appid), token, ex=ttl)
        self._keep(token)
        log.info(kv("wechat_token_fetched", force=force_refresh, ttl=ttl))
        return result

    def _token(self, failed: str | None) -> str:
        local = self._local_token
        if failed is None and local is not None and time.monotonic() < local[1]:
            return local[0]
        self._local_token = None
        try:
            if failed is None:
                stored = self._stored_token()
                if stored:
                    self._keep(stored)
                    return stored
            return self._refresh_token(failed)
        except redis_lib.RedisError as exc:
            raise WeChatUnavailable(f"Redis: {type(exc).__name__}") from None

    def _stored_token(self) -> str | None:
        return redis_text(self.redis.get(keys.access_token(self.appid)))

    def _keep(self, token: str) -> None:
        self._local_token = (token, time.monotonic() + TOKEN_LOCAL_S)

    def _refresh_token(self, failed: str | None) -> str:
        """Under the lock: re-check the store, so only the first of many waiting processes fetches.

        `failed` is the token WeChat just refused: it is dropped only if it is still the stored
        one (a newer token stored meanwhile by another process is used as is).
        """
        lock = self.redis.lock(
            keys.access_token_lock(self.appid), timeout=3 * self.timeout + 5,
            blocking_timeout=3 * self.timeout + 5,
        )
        if not lock.acquire():
            raise WeChatUnavailable("timed out waiting for the access token lock")
        try:
            stored = self._stored_token()
            if stored and stored != failed:
                self._keep(stored)
                return stored
            token = str(self.fetch_access_token()["access_token"])
            if token == failed:
                # stable_token hands back the same token while WeChat thinks it valid: force a new one.
                token = str(self.fetch_access_token(force_refresh=True)["access_token"])
            return token
        finally:
            try:
                lock.release()
            except redis_lib.exceptions.LockError:
                log.warning(kv("wechat_token_lock_expired", appid=self.appid))

    # -- transport ----------------------------------------------------------------------------

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> JsonObject:
        """Every token-bearing call through wechatpy: our token, one retry on a refused token, our errors."""
        params = dict(kwargs.pop("params", None) or {})

        def call(token: str) -> JsonObject:
            try:
                result = super(WeChatApi, self)._request(method, url_or_endpoint,
                                                         params={**params, "access_token": token}, **kwargs)
            except WeChatClientException as exc:
                raise self._error_from(exc) from None
            except requests.RequestException as exc:
                raise self._transport_error(exc, sent=True) from None
            if not isinstance(result, dict):  # wechatpy hands back the raw response when not JSON
                raise WeChatUnavailable("answer is not a JSON object")
            return result

        return self._with_token(call)

    def _post_json(self, path: str, body: JsonObject) -> JsonObject:
        """A token-bearing POST of JSON under `cgi-bin/`, as `_request` makes it (the same retry on a
        refused token, the same errors), straight on urllib3: a class-open notice is 20,000 of these, and
        requests' and wechatpy's layers cost a third of the dispatcher's CPU (~600 against ~400 µs a call)."""
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")

        def call(token: str) -> JsonObject:
            try:
                res = self._pool.request("POST", f"{self.API_BASE_URL}{path}?access_token={quote(token)}", body=payload,
                                         headers=JSON_HEADERS, timeout=urllib3.Timeout(connect=self.timeout,
                                                                                       read=self.timeout),
                                         retries=False, redirect=False)
            except urllib3.exceptions.HTTPError as exc:
                raise self._pool_error(exc) from None
            if res.status >= 400:
                raise self._http_error(res.status)
            try:
                result = json.loads(res.data)
            except ValueError:
                result = None
            if not isinstance(result, dict):
                raise WeChatUnavailable("answer is not a JSON object")
            errcode = int(result.get("errcode") or 0)
            if errcode:
                raise WeChatApiError(errcode, str(result.get("errmsg", "")))
            return result

        return self._with_token(call)

    def _with_token(self, call: Callable[[str], JsonObject]) -> JsonObject:
        """`call` with the shared token; once more with a fresh one when WeChat refuses the token."""
        token = self.access_token()
        try:
            return call(token)
        except WeChatApiError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            log.info(kv("wechat_token_refused", errcode=exc.errcode, retrying=1))
        return call(self._token(failed=token))

    def _new_pool(self, size: int) -> urllib3.PoolManager:
        self._pool_size = size
        options: dict[str, Any] = {"maxsize": size, "cert_reqs": "CERT_REQUIRED", "ca_certs": self._ca_certs}
        if self._proxy:
            return urllib3.ProxyManager(self._proxy, **options)
        return urllib3.PoolManager(**options)

    def _pool_error(self, exc: urllib3.exceptions.HTTPError) -> WeChatUnavailable:
        """urllib3's error, named and judged as requests names and `_may_have_left` judges its own: a
        connection never made did not leave; one made and then timed out or cut may have."""
        if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):  # NewConnectionError is one too
            name = "ConnectionError" if isinstance(exc, urllib3.exceptions.NewConnectionError) else "ConnectTimeout"
            return WeChatUnavailable(name, may_have_left=False)
        if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
            return WeChatUnavailable(f"no answer within {self.timeout} s (ReadTimeout)", may_have_left=True)
        return WeChatUnavailable("ConnectionError", may_have_left=True)

    def _plain_call(self, method: str, path: str, params: dict[str, str] | None = None,
                    json: JsonObject | None = None) -> JsonObject:
        """A call that carries no access token (token fetch, OAuth code exchange)."""
        try:
            res = self._http.request(method, self.api_base + path, params=params, json=json, timeout=self.timeout)
            res.raise_for_status()
            result = res.json()
        except requests.HTTPError as exc:
            raise self._http_error(exc.response.status_code if exc.response is not None else 0) from None
        except (requests.RequestException, ValueError) as exc:
            raise self._transport_error(exc) from None
        if not isinstance(result, dict):
            raise WeChatUnavailable("answer is not a JSON object")
        if int(result.get("errcode") or 0) != 0:
            raise WeChatApiError(int(result["errcode"]), str(result.get("errmsg", "")))
        return result

    def _error_from(self, exc: WeChatClientException) -> WeChatApiError:
        if exc.errcode is None:  # wechatpy's wrapper of an HTTP error status
            status = exc.response.status_code if exc.response is not None else 0
            return self._http_error(status)
        return WeChatApiError(int(exc.errcode), str(exc.errmsg))

    def _transport_error(self, exc: Exception, sent: bool = False) -> WeChatUnavailable:
        # Only the class name: requests' message holds the URL, whose query may carry the secret.
        left = sent and _may_have_left(exc)
        if isinstance(exc, requests.Timeout):
            return WeChatUnavailable(f"no answer within {self.timeout} s ({type(exc).__name__})", may_have_left=left)
        return WeChatUnavailable(type(exc).__name__, may_have_left=left)

    @staticmethod
    def _http_error(status: int) -> WeChatUnavailable:
        return WeChatUnavailable(f"HTTP {status}", transient=status >= 500 or status == 429)

    # -- JS-SDK and media, for the exam page's photos ------------------------------------------

    def jsapi_ticket(self) -> str:
        """The JS-SDK `jsapi_ticket`, shared in Redis like the token and fetched under a lock."""
        try:
            stored = redis_text(self.redis.get(keys.jsapi_ticket(self.appid)))
            if stored is not None:
                return stored
            lock = self.redis.lock(keys.jsapi_ticket_lock(self.appid), timeout=3 * self.timeout + 5,
                                   blocking_timeout=3 * self.timeout + 5)
            if not lock.acquire():
                raise WeChatUnavailable("timed out waiting for the jsapi_ticket lock")
            try:
                stored = redis_text(self.redis.get(keys.jsapi_ticket(self.appid)))
                if stored is not None:
                    return stored
                result = self.get("ticket/getticket", params={"type": "jsapi"})
                ticket = str(result.get("ticket") or "")
                if not ticket:
                    raise WeChatUnavailable("getticket answer without ticket")
                expires_in = int(result.get("expires_in") or 7200)
                self.redis.set(keys.jsapi_ticket(self.appid), ticket, ex=max(expires_in - TOKEN_MARGIN_S, 60))
                return ticket
            finally:
                try:
                    lock.release()
                except redis_lib.exceptions.LockError:
                    log.warning(kv("wechat_ticket_lock_expired", appid=self.appid))
        except redis_lib.RedisError as exc:
            raise WeChatUnavailable(f"Redis: {type(exc).__name__}") from None

    def jsapi_signature(self, noncestr: str, timestamp: int, url: str, ticket: str | None = None) -> str:
        """`wx.config`'s signature of the page at `url` (without its `#…`), by wechatpy's signer."""
        page = url.split("#")[0]
        return str(self.jsapi.get_jsapi_signature(noncestr, ticket or self.jsapi_ticket(), timestamp, page))

    def download_media(self, media_id: str, max_bytes: int) -> bytes:
        """A temporary medium (a photo the JS-SDK uploaded) from `cgi-bin/media/get`, at most `max_bytes`."""
        token = self.access_token()
        for attempt in (1, 2):
            try:
                res = self._http.get(self.api_base + "cgi-bin/media/get", timeout=self.timeout, stream=True,
                                     params={"access_token": token, "media_id": media_id})
                res.raise_for_status()
                body: bytes = res.raw.read(max_bytes + 1, decode_content=True)
                res.close()
            except requests.HTTPError as exc:
                raise self._http_error(exc.response.status_code if exc.response is not None else 0) from None
            except requests.RequestException as exc:
                raise self._transport_error(exc) from None
            if "json" not in res.headers.get("Content-Type", "") and not body.startswith(b"{"):
                return body
            try:
                error = json.loads(body)
            except ValueError:
                raise WeChatUnavailable("media answer is neither a file nor JSON") from None
            errcode = int(error.get("errcode") or 0)
            if errcode in TOKEN_ERRORS and attempt == 1:
                token = self._token(failed=token)
                continue
            raise WeChatApiError(errcode, str(error.get("errmsg", "")))
        raise WeChatUnavailable("media/get refused the token twice")

# -- WeChat as it really behaves (issue 9): fate of a send, the follower list ------------------------

def _may_have_left(exc: Exception) -> bool:
    """Whether a failed request may have reached WeChat: not when the connection was never made
    (refused, DNS, connect timeout), yes when it was sent and the answer never came."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return not isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError))
    return isinstance(exc, requests.RequestException)


FOLLOWER_PAGE = 10_000  # cgi-bin/user/get lists this many OpenIDs a call
BATCHGET_MAX = 100      # cgi-bin/user/info/batchget takes this many OpenIDs a call


def follower_page(api: WeChatApi, next_openid: str = "") -> tuple[list[str], str]:
    """One page of the account's followers: (OpenIDs, the next_openid to ask from; '' at the end)."""
    result = api.get("user/get", params={"next_openid": next_openid} if next_openid else None)
    openids = list(((result.get("data") or {}).get("openid")) or [])
    following = str(result.get("next_openid") or "")
    return openids, following if openids and following != next_openid else ""


def follows(api: WeChatApi, openids: list[str]) -> dict[str, bool]:
    """Whether each OpenID (at most BATCHGET_MAX) follows the account, from user/info/batchget."""
    if len(openids) > BATCHGET_MAX:
        raise ValueError(f"batchget takes at most {BATCHGET_MAX} OpenIDs")
    result = api.post("user/info/batchget", data={"user_list": [{"openid": o, "lang": "zh_CN"} for o in openids]})
    return {str(info["openid"]): int(info.get("subscribe") or 0) == 1
            for info in result.get("user_info_list") or [] if info.get("openid")}
