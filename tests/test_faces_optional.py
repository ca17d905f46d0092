"""Face comparison is optional (CONTRACT §7): without requirements-face.txt the app builds, says
人脸比对未启用 and never imports numpy or dlib; the settings are checked at start-up; the job
that analyses photos runs often enough to meet the minute."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import base_settings
from wxapp.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]

WITHOUT_PACKAGES = textwrap.dedent("""
    import sys
    from importlib.abc import MetaPathFinder

    class Missing(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("numpy", "dlib", "_dlib_pybind11", "face_recognition_models"):
                raise ModuleNotFoundError(name)

    sys.meta_path.insert(0, Missing())
    from wxapp import create_app
    from tests.conftest import base_settings

    app = create_app({**base_settings(sys.argv[1], sys.argv[2], sys.argv[3]), "FACE_MATCH": "on"})
    import services.exam.faces.review, scheduler.jobs, wxapp.admin.face_review  # noqa
    with app.app_context():
        scheduler.jobs.analyse_exam_faces()
    gate = app.extensions["face_gate"]
    print(gate.enabled, gate.settings.status_text, "numpy" in sys.modules, "dlib" in sys.modules)
""")


def test_without_the_packages_the_app_builds_says_not_enabled_and_imports_neither(tmp_path, redis_url):
    out = subprocess.run([sys.executable, "-c", WITHOUT_PACKAGES, f"sqlite:///{tmp_path / 'db.sqlite3'}", redis_url,
                          str(tmp_path / "instance")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "人脸比对未启用（未安装", "requirements-face.txt）", "False", "False"]


@pytest.mark.parametrize("name, value, said", [("FACE_MATCH", "maybe", "FACE_MATCH must be on or off"),
                                                ("FACE_MATCH_THRESHOLD", "2.5", "FACE_MATCH_THRESHOLD"),
                                                ("PHOTO_RETENTION_DAYS", "0", "PHOTO_RETENTION_DAYS")])
def test_face_settings_are_checked_at_start_up(tmp_path, name, value, said):
    environ = {**base_settings("sqlite://", "redis://127.0.0.1:9/0", str(tmp_path)), name: value}
    with pytest.raises(ConfigError, match=said):
        load_settings(tmp_path, environ)


def test_defaults_are_on_with_dlibs_threshold_and_a_year_of_photos(tmp_path):
    environ = {**base_settings("sqlite://", "redis://127.0.0.1:9/0", str(tmp_path)), "WXAPP_ENV": "development"}
    settings = load_settings(tmp_path, environ)
    assert (settings.face_match, settings.face_match_threshold, settings.photo_retention_days) == ("on", 0.6, 365)


def test_photos_are_analysed_within_a_minute_of_their_upload():
    from scheduler import job_specs, jobs

    [spec] = [s for s in job_specs() if s.id == "analyse_exam_faces"]
    assert spec.func == "scheduler.jobs:analyse_exam_faces"
    assert jobs.FACES_INTERVAL_S + jobs.FACES_BUDGET_S <= 60 and jobs.FACES_BUDGET_S < jobs.FACES_INTERVAL_S
    assert spec.trigger.interval.total_seconds() == jobs.FACES_INTERVAL_S
