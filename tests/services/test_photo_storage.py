"""Photo storage behind one interface: a local directory, and an S3-compatible bucket tested
against moto in server mode on loopback (a real HTTP S3 endpoint, not an in-process mock)."""
from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services import storage
from services.storage import LocalStorage, S3Storage, StorageError

MOTO = Path(sys.executable).with_name("moto_server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    port = _free_port()
    process = subprocess.Popen([str(MOTO), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline and process.poll() is None, "moto_server did not start"
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def s3_bucket(s3_endpoint, monkeypatch):
    import boto3

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    bucket = f"photos-{os.getpid()}-{time.monotonic_ns()}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return bucket


def test_local_storage_round_trips_and_refuses_paths_out_of_its_root(tmp_path):
    store = LocalStorage(tmp_path / "photos")
    store.put("exam/1/before-ab.jpg", b"jpeg", "image/jpeg")
    assert store.get("exam/1/before-ab.jpg") == b"jpeg"
    assert [p.name for p in (tmp_path / "photos" / "exam" / "1").iterdir()] == ["before-ab.jpg"]  # no temp left
    store.delete("exam/1/before-ab.jpg")
    with pytest.raises(StorageError):
        store.get("exam/1/before-ab.jpg")
    for bad in ("../etc/passwd", "exam/../../x", "/abs", ""):
        with pytest.raises(ValueError):
            store.put(bad, b"x", "image/jpeg")


def test_storage_url_picks_the_backend():
    assert isinstance(storage.from_url("/var/lib/wxapp/photos"), LocalStorage)
    assert storage.from_url("file:///srv/photos").root == Path("/srv/photos")
    s3 = storage.from_url("s3://school-photos/wx/exam?endpoint=https://oss-cn-shanghai.aliyuncs.com"
                          "&region=oss-cn-shanghai&addressing=virtual")
    assert isinstance(s3, S3Storage) and (s3.bucket, s3.prefix) == ("school-photos", "wx/exam")
    assert s3.client.meta.endpoint_url == "https://oss-cn-shanghai.aliyuncs.com"
    for bad in ("s3:///nobucket", "s3://b?colour=red", "s3://b?addressing=sideways", "ftp://host/x"):
        with pytest.raises(ValueError):
            storage.from_url(bad)


def test_a_bad_storage_url_stops_the_start_with_one_line(make_app, capsys):
    with pytest.raises(SystemExit):
        make_app(STORAGE_URL="ftp://files.example/photos")
    assert "STORAGE_URL" in capsys.readouterr().err


def test_s3_backend_round_trips_against_a_local_s3_server(s3_endpoint, s3_bucket):
    store = storage.from_url(f"s3://{s3_bucket}/wx?endpoint={s3_endpoint}&region=us-east-1")
    store.put("exam/7/after-cd.jpg", b"\xff\xd8jpeg", "image/jpeg")
    assert store.get("exam/7/after-cd.jpg") == b"\xff\xd8jpeg"
    head = store.client.head_object(Bucket=s3_bucket, Key="wx/exam/7/after-cd.jpg")
    assert head["ContentType"] == "image/jpeg"
    store.delete("exam/7/after-cd.jpg")
    with pytest.raises(StorageError):
        store.get("exam/7/after-cd.jpg")


def test_s3_backend_unreachable_is_a_storage_error(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = S3Storage("b", endpoint=f"http://127.0.0.1:{_free_port()}", timeout_s=1)
    with pytest.raises(StorageError):
        store.put("exam/1/x.jpg", b"x", "image/jpeg")


def test_exam_photos_go_to_the_s3_bucket_and_back_to_their_owner(make_app, fake_wechat, s3_endpoint, s3_bucket):
    from tests import factories
    from tests.exam_util import bank, full_hours, photo
    from tests.h5.test_exam_api import OPENID, Browser

    app = make_app(WECHAT_API_BASE=fake_wechat.base_url,
                   STORAGE_URL=f"s3://{s3_bucket}/photos?endpoint={s3_endpoint}")
    trainee_id = factories.trainee(app, openid=OPENID)
    bank(app)
    full_hours(app, trainee_id)
    browser = Browser(app, fake_wechat, OPENID)
    attempt = browser.start(browser.get("/api/exams").json[0]["id"], photo()).json
    listed = app.extensions["photo_storage"].client.list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [o["Key"] for o in listed] == [f"photos/exam/{attempt['id']}/" + o["Key"].rsplit("/", 1)[1] for o in listed]
    served = browser.get(f"/h5/exam/attempts/{attempt['id']}/photo/before")
    from PIL import Image

    assert served.status_code == 200 and Image.open(io.BytesIO(served.data)).format == "JPEG"
