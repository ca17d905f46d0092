"""CPU work a request can let wait a little, on threads of lower scheduling priority.

An exam photo's decode, re-encode and face check cost 40–70 ms of CPU, a heartbeat 2–3 ms. When
200 trainees start the exam in the same minute as 3,000 others study (bench/term.py), the beats'
p99 at the proxy went from 60–120 ms to 160–210 ms in those minutes. Linux keeps a nice value per
thread, so the photo work runs on a small pool of threads that lowered their own (nice NICE); the
request's thread waits for the result. When a core is free the photo is no slower; when cores are
short, a waiting beat, callback or page goes first. The pool also caps a process at THREADS photos
at once: 200 simultaneous starts (bench/exam.py) were answered sooner so, 10.9 / 10.2 -> 9.6 / 8.8 s.

Only work that releases the GIL belongs here (Pillow's codecs and resizes, dlib's detector): a
low-priority thread holding the GIL would hold up its process's other threads.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# Nice 10 weighs 110 against a normal thread's 1024 (Linux CFS): about a tenth of a core's share
# while the cores are contended, all of an idle core otherwise.
NICE = 10
# Per process: the face detector is used by one thread at a time anyway (engine's lock).
THREADS = 2

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _lower_own_priority() -> None:
    """Lowers the calling thread's priority by NICE (a no-op where the platform has no per-thread nice)."""
    try:
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + NICE))
    except (AttributeError, OSError):
        pass


def run(fn: Callable[..., T], *args: object) -> T:
    """fn(*args) on a low-priority thread; its result, or its exception raised here."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="background-cpu",
                                       initializer=_lower_own_priority)
        pool = _pool
    return pool.submit(fn, *args).result()


def _forget_pool() -> None:
    """A forked child has none of its parent's threads: it builds its own pool when it needs one."""
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)
