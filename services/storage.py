"""Photo storage: one small interface, two backends chosen by `STORAGE_URL` (CONTRACT §2).

- a local directory (`/var/lib/wxapp/photos`, `file:///…`): the default, outside any web root —
  photos are served only by the app, to their owner;
- an S3-compatible bucket (`s3://bucket/prefix?endpoint=https://oss-cn-shanghai.aliyuncs.com
  &region=…&addressing=virtual`): Aliyun OSS, Tencent COS, MinIO, AWS, for several web hosts
  that share no disk. Credentials come from boto3's usual sources (`AWS_ACCESS_KEY_ID`,
  `AWS_SECRET_ACCESS_KEY`, a profile or an instance role), never from the URL.

Keys are relative paths such as `exam/12/before-3f9c….jpg`, made by the app, never by a user.
"""
from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from services.errors import ServiceError

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,199}$")


class StorageError(ServiceError):
    """The store could not keep or give back an object; `detail` names the backend and the failure."""

    def __init__(self, detail: str):
        super().__init__("照片存储暂时无法使用，请稍后再试。", detail)


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key.split("/"):
        raise ValueError(f"bad storage key {key!r}")
    return key


class LocalStorage:
    """Files under one directory; written to a temporary file and renamed, so a reader never sees half."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.root / check_key(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise StorageError(f"local storage: {type(exc).__name__}") from None

    def get(self, key: str) -> bytes:
        try:
            return (self.root / check_key(key)).read_bytes()
        except OSError as exc:
            raise StorageError(f"local storage: {type(exc).__name__}") from None

    def delete(self, key: str) -> None:
        (self.root / check_key(key)).unlink(missing_ok=True)


class S3Storage:
    """An S3-compatible bucket through boto3 (SigV4; path-style unless `addressing=virtual`, which OSS needs)."""

    def __init__(self, bucket: str, prefix: str = "", endpoint: str | None = None, region: str | None = None,
                 addressing: str = "path", timeout_s: float = 10):
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix.strip("/")
        config = Config(signature_version="s3v4", s3={"addressing_style": addressing},
                        connect_timeout=timeout_s, read_timeout=timeout_s, retries={"max_attempts": 3})
        self.client = boto3.client("s3", endpoint_url=endpoint, region_name=region or "us-east-1", config=config)
        from botocore.exceptions import BotoCoreError, ClientError

        self._errors = (BotoCoreError, ClientError)

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{check_key(key)}" if self.prefix else check_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data, ContentType=content_type)
        except self._errors as exc:
            raise StorageError(f"s3: {type(exc).__name__}") from None

    def get(self, key: str) -> bytes:
        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"].read()
            return body
        except self._errors as exc:
            raise StorageError(f"s3: {type(exc).__name__}") from None

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except self._errors as exc:
            raise StorageError(f"s3: {type(exc).__name__}") from None


def check_url(url: str) -> None:
    """Raises ValueError naming what is wrong with a STORAGE_URL (checked at start-up)."""
    _parse(url)


def from_url(url: str) -> Storage:
    """`s3://bucket/prefix?endpoint=…&region=…&addressing=virtual`, `file:///dir` or a plain directory."""
    return _parse(url)()


def _parse(url: str) -> Callable[[], Storage]:
    """The store's constructor with its settings, without building it (no client made while checking)."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError("STORAGE_URL s3://… needs a bucket name")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"endpoint", "region", "addressing"}
        if unknown:
            raise ValueError(f"STORAGE_URL: unknown parameter {', '.join(sorted(unknown))}")
        if query.get("addressing", "path") not in ("path", "virtual"):
            raise ValueError("STORAGE_URL: addressing must be path or virtual")
        return partial(S3Storage, parts.netloc, parts.path, query.get("endpoint"), query.get("region"),
                       query.get("addressing", "path"))
    if parts.scheme == "file":
        return partial(LocalStorage, parts.path)
    if parts.scheme and len(parts.scheme) > 1:  # one letter: a Windows drive
        raise ValueError(f"STORAGE_URL: unsupported scheme {parts.scheme}://")
    return partial(LocalStorage, url)
