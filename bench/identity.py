"""What the identity image checks cost on a phone photo.

A 12-megapixel JPEG (4000×3000: scikit-image's astronaut portrait scaled up with sensor-like
noise, so that it compresses like a photo, about 2.6 MB) is checked with
``app.identity.checks.analyse(data, Part.SELFIE)`` and, in the same process and alternating with
it, decoded whole by Pillow (``Image.open(...).load()``), the floor any check on the full image
would pay. Also timed: ``sniff()`` of the same bytes, whose full decode the checks do not repeat
for a JPEG (docs/identity.md).

Two ratios: of wall time, as a person waits for a check (OpenCV's face search runs on every
CPU), and of CPU time, which is what bounds the checks per second a busy worker gets through
when several run at once.

    python -m bench.identity [--runs 30]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from collections.abc import Callable

import cv2
from PIL import Image

from app.files.sniff import sniff
from app.identity.checks import Part, analyse
from tests.identity.images import twelve_megapixels


def _timed(action: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU (every thread of the process) seconds of one call."""
    started, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - started, time.process_time() - cpu


def main(runs: int = 30) -> None:
    data = twelve_megapixels()
    with Image.open(io.BytesIO(data)) as probe:
        width, height = probe.size
    report = analyse(data, Part.SELFIE)  # warm: imports, the cascade, the codecs
    assert report.ok, report.checks

    def full_decode() -> None:
        with Image.open(io.BytesIO(data)) as image:
            image.load()

    def checks() -> None:
        analyse(data, Part.SELFIE)

    def sniffed() -> None:
        sniff(io.BytesIO(data))

    timings: dict[str, list[tuple[float, float]]] = {"decode": [], "analyse": [], "sniff": []}
    for _ in range(runs):
        timings["decode"].append(_timed(full_decode))
        timings["analyse"].append(_timed(checks))
        timings["sniff"].append(_timed(sniffed))
    p50 = {name: statistics.median(wall for wall, _ in values) for name, values in timings.items()}
    cpu = {name: statistics.median(used for _, used in values) for name, values in timings.items()}
    print(
        f"identity checks: {width}×{height} JPEG, {len(data) / 1e6:.1f} MB, {runs} runs, "
        f"{os.cpu_count()} CPUs, OpenCV threads {cv2.getNumThreads()}"
    )
    print(f"  full Pillow decode           p50 {p50['decode'] * 1000:7.1f} ms")
    print(f"  analyse(SELFIE)              p50 {p50['analyse'] * 1000:7.1f} ms")
    print(f"  ratio analyse / full decode      {p50['analyse'] / p50['decode']:7.2f}  (goal ≤ 1.0)")
    print(f"  full Pillow decode, CPU      p50 {cpu['decode'] * 1000:7.1f} ms")
    print(f"  analyse(SELFIE), CPU         p50 {cpu['analyse'] * 1000:7.1f} ms")
    print(f"  ratio of CPU time                {cpu['analyse'] / cpu['decode']:7.2f}")
    print(f"  checks per second per worker     {1 / p50['analyse']:7.1f}")
    print(f"  checks per CPU-second            {1 / cpu['analyse']:7.1f}")
    print(f"  sniff() (not run for a JPEG) p50 {p50['sniff'] * 1000:7.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    main(parser.parse_args().runs)
