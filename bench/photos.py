"""Benchmark: the CPU one exam photo costs at upload (services/exam/photos.prepare).

A phone camera's 12 MP JPEG (4000 × 3000, made here: smooth shapes with grain, 1.4 MB like the
phone photos issue 22 measured; its size is printed) is prepared as the exam stores it, beside the way it was
prepared before (draft to cover 1280 px, i.e. 1/2, then a Lanczos resize to 1280): CPU time
(`time.process_time`) per photo, the median of ROUNDS rounds of N photos each. Target: ≤ 30 ms.

Run: `.venv/bin/python bench/photos.py [--rounds 5] [--photos 20] [--px 4000]`
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from services.exam.photos import prepare  # noqa: E402


def phone_photo(long_side: int, quality: int = 88) -> bytes:
    """Smooth shapes with a sensor's grain: ~1.4 MB at 4000 × 3000, as the phones measured in issue 22."""
    rng = np.random.default_rng(7)
    short_side = long_side * 3 // 4
    base = Image.fromarray((rng.random((short_side // 40, long_side // 40, 3)) * 255).astype("uint8"))
    picture = base.resize((long_side, short_side), Image.Resampling.BICUBIC)
    grain = np.asarray(picture).astype("int16") + rng.integers(-2, 3, (short_side, long_side, 3))
    out = io.BytesIO()
    Image.fromarray(grain.clip(0, 255).astype("uint8")).save(out, "JPEG", quality=quality)
    return out.getvalue()


def before(data: bytes) -> bytes:
    """As photos.prepare did before: draft to cover 1280 px (1/2 of a 4000 px photo), Lanczos to 1280."""
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (1280, 1280))
        image.load()
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail((1280, 1280))
        out = io.BytesIO()
        upright.convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def cpu_ms_per_photo(prepare_one, data: bytes, photos: int) -> float:
    started = time.process_time()
    for _ in range(photos):
        prepare_one(data)
    return (time.process_time() - started) * 1000 / photos


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--px", type=int, default=4000)
    args = parser.parse_args()
    data = phone_photo(args.px)
    stored = Image.open(io.BytesIO(prepare(data)))
    print(f"photo {args.px} × {args.px * 3 // 4}, {len(data) / 1e6:.2f} MB; stored {stored.size[0]} × "
          f"{stored.size[1]}, {len(prepare(data)) // 1024} KiB (before: {len(before(data)) // 1024} KiB)")
    old, new = [], []
    for _ in range(args.rounds):  # interleaved, so that both see the same machine
        old.append(cpu_ms_per_photo(before, data, args.photos))
        new.append(cpu_ms_per_photo(prepare, data, args.photos))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.rounds} rounds × {args.photos} photos")
    print(f"before: {statistics.median(old):.1f} ms CPU a photo (rounds {' '.join(f'{v:.0f}' for v in old)})")
    print(f"now:    {statistics.median(new):.1f} ms CPU a photo (rounds {' '.join(f'{v:.0f}' for v in new)}); "
          f"target ≤ 30 ms")


if __name__ == "__main__":
    main()
