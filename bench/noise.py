"""A same-run noise baseline for latency percentiles.

A p99 on a shared 2-core virtual machine says as much about the machine as about our code:
here a fixed piece of pure-Python work of 4 ms has shown p99 anywhere from 6 to 14 ms from
one minute to the next. So the benchmarks that report a p99 also time a fixed CPU workload
calibrated to the measured operation's median, interleaved with the measured operations
(one each, turn about), and print both. What our code adds to the tail is the difference
between the two; what the machine adds shows in the baseline.
"""

from __future__ import annotations

import time
import numpy as np


def _work(n: int) -> int:
    """Dictionary updates and small allocations: the kind of work our request paths do."""
    d: dict[int, tuple[int, str]] = {}
    for i in range(n):
        d[i & 1023] = (i, str(i))
    return len(d)


class Baseline:
    """Fixed work sized to take about `target_ms` on this machine, timed on each call."""

    def __init__(self, target_ms: float) -> None:
        self.target_ms = target_ms
        self.n = self._calibrate(target_ms)
        self.samples: list[float] = []

    @staticmethod
    def _calibrate(target_ms: float) -> int:
        n = 10_000
        per: list[float] = []
        for _ in range(15):
            t = time.perf_counter()
            _work(n)
            per.append((time.perf_counter() - t) / n)
        return max(1, int(target_ms / 1000 / float(np.median(per))))

    def tick(self) -> None:
        t = time.perf_counter()
        _work(self.n)
        self.samples.append(time.perf_counter() - t)

    def summary(self) -> str:
        ms = np.array(self.samples) * 1000
        p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
        return (f"same-run noise baseline (fixed CPU work sized to the median, interleaved, {len(ms)} runs): "
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (p99/p50 {p99 / p50:.2f})")

