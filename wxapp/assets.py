"""Static files addressed by their content: `url_for('static', filename=…)` adds `?v=<digest>`.

WeChat's browser keeps scripts and styles it has fetched; after a deploy a trainee's phone would
go on running the old player.js against the new server. With the content's digest in the URL, a
changed file is a new address and is fetched at once, an unchanged one stays cached.
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache

from flask import Flask, Response, request

VERSION_ARG = "v"
# A file fetched under its current digest never changes at that address.
VERSIONED_MAX_AGE_S = 365 * 24 * 3600


@lru_cache(maxsize=256)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    """The first 10 hex digits of the file's SHA-256 (mtime and size key the cache: a file edited
    in development gets a new digest, without reading every file on every page)."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:10]


def version_of(folder: str, filename: str) -> str | None:
    path = os.path.join(folder, filename)
    try:
        stat = os.stat(path)
    except OSError:
        return None  # no such file: the URL is left as asked, and answers 404 as before
    return _digest(path, stat.st_mtime_ns, stat.st_size)


def install(app: Flask) -> None:
    def folder_of(endpoint: str | None) -> str | None:
        if endpoint == "static":
            return app.static_folder
        if endpoint and endpoint.endswith(".static") and endpoint[:-len(".static")] in app.blueprints:
            return app.blueprints[endpoint[:-len(".static")]].static_folder
        return None

    @app.url_defaults
    def add_version(endpoint: str | None, values: dict) -> None:
        folder = folder_of(endpoint)
        if folder is None or VERSION_ARG in values or "filename" not in values:
            return
        version = version_of(folder, values["filename"])
        if version:
            values[VERSION_ARG] = version

    @app.after_request
    def cache_versioned(response: Response) -> Response:
        """Kept a year when asked for by its current digest; otherwise as Flask serves it."""
        folder = folder_of(request.endpoint)
        asked = request.args.get(VERSION_ARG)
        filename = (request.view_args or {}).get("filename")
        if folder and asked and filename and response.status_code == 200 and asked == version_of(folder, filename):
            response.cache_control.no_cache = None  # Flask's default for static files: revalidate each time
            response.cache_control.public = True
            response.cache_control.max_age = VERSIONED_MAX_AGE_S
            response.cache_control.immutable = True
        return response
