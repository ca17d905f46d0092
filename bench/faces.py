"""Benchmark: face comparison of exam photos. Prints its figures; asserts nothing (the machine may be
shared: say so when you quote them).

1. At upload (in the request): the one-face check on a stored photo (≤ 1280 px, as `photos.prepare`
   leaves it), decoded at 640 px and detected without upsampling; p50 / p99. Baselines in the same
   run: the re-encoding the request already does (`photos.prepare` of a 4000 px phone photo) and the
   same detection on the full 1280 px copy. Target: p99 ≤ 300 ms on 2 cores.
2. In the background: the embedding of a photo (detect, 5 landmarks, ResNet); p50 / p99; and the
   throughput in photos per minute of the scheduler's job (one thread) and of two processes (both
   cores, as a backfill could use them).
3. The search across trainees: one embedding against 100,000 (FaceIndex.near, a matrix-vector
   product over kept norms); p50 / p99. Baseline: numpy's plain `norm(M - q, axis=1)`. Target ≤ 50 ms.
4. The install size of requirements-face.txt (site-packages folders).

Run: `.venv/bin/python bench/faces.py [ROUNDS]` (default 30 photos per figure).
"""
from __future__ import annotations

import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from services.exam import photos  # noqa: E402
from services.exam.faces.engine import DETECT_SIDE, FaceEngine, _decode  # noqa: E402
from services.exam.faces.index import FaceIndex  # noqa: E402
from tests.faces_util import astronaut, grace_hopper, jpeg, variants  # noqa: E402

SEARCH_ROWS = 100_000
SEARCH_ROUNDS = 200


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def line(label: str, spent: tuple[list[float], list[float]]) -> None:
    wall, cpu = spent
    print(f"  {label:<50} wall p50 {pct(wall, 50) * 1000:7.1f} p99 {pct(wall, 99) * 1000:7.1f} ms | "
          f"CPU p50 {pct(cpu, 50) * 1000:7.1f} p99 {pct(cpu, 99) * 1000:7.1f} ms (n={len(wall)})")


def phone_photos(count: int) -> list[bytes]:
    """Selfie-like phone photos (4000 × 3000, the face 15–20 % of the width), as uploaded."""
    faces = [grace_hopper().resize((2200, 2580)), astronaut().crop((80, 0, 400, 330)).resize((2200, 2270))]
    found = []
    for i in range(count):
        canvas = Image.new("RGB", (4000, 3000), (180 + i % 40, 170, 160))
        canvas.paste(faces[i % 2].rotate((i % 7) - 3), (800 + (i % 5) * 40, 300))
        found.append(jpeg(canvas, quality=90))
    return found


def timed(fn, items) -> tuple[list[float], list[float]]:
    """Wall and CPU time of each call (CPU time says what a call costs on a machine others share)."""
    wall, cpu = [], []
    for item in items:
        start, start_cpu = time.perf_counter(), time.process_time()
        fn(item)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def _embed_many(data: list[bytes]) -> int:
    engine = FaceEngine()
    return sum(engine.embed(d).vector is not None for d in data)


def throughput(stored: list[bytes], workers: int) -> float:
    """Photos per minute with `workers` processes (models loaded before the clock starts)."""
    per = [stored[i::workers] for i in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_embed_many, [[stored[0]]] * workers)  # warm: each process loads its models
        start = time.perf_counter()
        done = sum(pool.map(_embed_many, per))
        spent = time.perf_counter() - start
    return done / spent * 60


def search(rounds: int) -> None:
    rng = np.random.default_rng(1)
    index = FaceIndex()
    vectors = rng.normal(scale=0.06, size=(SEARCH_ROWS, 128)).astype(np.float32)
    index.add(np.arange(SEARCH_ROWS), np.arange(SEARCH_ROWS), np.arange(SEARCH_ROWS) // 2, vectors)
    queries = vectors[rng.integers(0, SEARCH_ROWS, rounds)] + 0.02
    line(f"search over {SEARCH_ROWS:,} (FaceIndex.near)", timed(lambda q: index.near(q, 0.6), queries))
    line("  baseline: norm(M - q, axis=1)", timed(lambda q: np.flatnonzero(np.linalg.norm(index.matrix - q, axis=1)
                                                                            <= 0.6), queries))
    print(f"  matrix: {index.matrix.nbytes / 2**20:.0f} MiB for {SEARCH_ROWS:,} embeddings")


def install_size() -> None:
    import importlib.util

    total = 0
    for name in ("dlib", "_dlib_pybind11", "face_recognition_models", "numpy", "numpy.libs"):
        spec = importlib.util.find_spec(name) if "." not in name else None
        path = None
        if spec is not None and spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations)))
        elif spec is not None and spec.origin:
            path = Path(spec.origin)
        else:
            path = Path(np.__file__).parents[1] / "numpy.libs"
        size = sum(p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file()) \
            if path.exists() else 0
        total += size
        print(f"  {name:<26} {size / 2**20:7.1f} MiB")
    print(f"  {'total':<26} {total / 2**20:7.1f} MiB (of which the 68-point model we never load: 95 MiB)")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    uploads = phone_photos(rounds)
    engine = FaceEngine()
    print(f"faces bench, {rounds} photos per figure, {multiprocessing.cpu_count()} cores")
    print("1. at upload")
    prepare = timed(photos.prepare, uploads)
    stored = [photos.prepare(u) for u in uploads]
    engine.check_upload(stored[0])  # the detector is built once per process
    line("baseline: photos.prepare of a 4000 px phone photo", prepare)
    line(f"one-face check ({DETECT_SIDE} px copy, no upsampling)", timed(engine.check_upload, stored))
    detector = engine._load_detector()
    line("baseline: detection on the full 1280 px photo", timed(
        lambda d: detector.run(np.asarray(_decode(d, 1280)), 0, 0.0), stored))
    print("2. in the background")
    engine.embed(stored[0])  # models loaded once per process
    embedded = timed(engine.embed, stored)
    line("embedding (detect + 5 landmarks + ResNet)", embedded)
    print(f"  throughput from CPU time: {60 / pct(embedded[1], 50):.0f} photos/min per core, "
          f"{2 * 60 / pct(embedded[1], 50):.0f} on 2 cores")
    real = [photos.prepare(v) for v in variants(grace_hopper()).values()]
    line("embedding of a 512 px portrait (packaged photos)", timed(engine.embed, real * max(1, rounds // 6)))
    for workers in (1, 2):
        print(f"  throughput, {workers} process{'es' if workers > 1 else ''}: "
              f"{throughput(stored, workers):.0f} photos/min")
    print("3. search across trainees")
    search(SEARCH_ROUNDS)
    print("4. install size of requirements-face.txt")
    install_size()


if __name__ == "__main__":
    main()
