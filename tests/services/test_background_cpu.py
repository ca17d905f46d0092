"""Photo work at lower priority (services.background_cpu): the exam's photos are decoded, re-encoded
and checked on threads whose nice value is raised, and what they answer or raise reaches the request."""
from __future__ import annotations

import os
import threading

import pytest

from services import background_cpu
from services.exam import ExamError, photos
from tests.services.test_exam_attempts import start, trainee  # noqa: F401 (fixture)


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_work_runs_niced_and_returns_or_raises_to_the_caller():
    own = _nice()
    assert background_cpu.run(_nice) == min(19, own + background_cpu.NICE)
    assert _nice() == own  # the caller's own thread keeps its priority
    assert background_cpu.run(lambda a, b: a * b, 6, 7) == 42

    def refuse() -> None:
        raise ExamError("照片只能是 JPEG 或 PNG 格式，请重新拍摄。")

    with pytest.raises(ExamError, match="JPEG 或 PNG"):
        background_cpu.run(refuse)


def test_a_forked_child_builds_its_own_pool():
    background_cpu.run(int)  # the parent's pool exists before the fork
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child reports by its exit status)
        code = 2
        try:
            code = 0 if background_cpu.run(lambda: threading.current_thread().name).startswith("background-cpu") else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_exam_photo_is_prepared_on_a_low_priority_thread(app, trainee, monkeypatch):  # noqa: F811
    seen: list[tuple[str, int]] = []
    real = photos.prepare_photo

    def watched(data):
        seen.append((threading.current_thread().name, _nice()))
        return real(data)

    monkeypatch.setattr(photos, "prepare_photo", watched)
    own = _nice()
    view, created = start(app, trainee)
    assert created and view.id
    assert len(seen) == 1
    name, nice = seen[0]
    assert name.startswith("background-cpu") and nice == min(19, own + background_cpu.NICE)
