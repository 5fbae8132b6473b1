"""Thread-safe counters and latency summaries for the simulator's ``/_sim/stats``."""

import threading
from collections import Counter, deque
from typing import Any

# Percentiles are computed over the most recent samples only, to keep memory and the cost of
# a stats call bounded during long benchmark runs.
LATENCY_SAMPLES_KEPT = 20_000


class LatencyRecorder:
    """Count, mean and max over all samples; percentiles over the most recent ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: deque[float] = deque(maxlen=LATENCY_SAMPLES_KEPT)
        self._count = 0
        self._total = 0.0
        self._max = 0.0

    def record(self, seconds: float) -> None:
        with self._lock:
            self._samples.append(seconds)
            self._count += 1
            self._total += seconds
            self._max = max(self._max, seconds)

    def reset(self) -> None:
        with self._lock:
            self._samples.clear()
            self._count = 0
            self._total = 0.0
            self._max = 0.0

    def summary(self) -> dict[str, Any]:
        # Copied under the lock, sorted outside it: senders recording a latency do not wait
        # for the sort (a benchmark polls the stats several times a second).
        with self._lock:
            samples = list(self._samples)
            count, total, maximum = self._count, self._total, self._max
        samples.sort()

        def percentile(fraction: float) -> float:
            if not samples:
                return 0.0
            return samples[min(len(samples) - 1, int(fraction * len(samples)))]

        return {
            "count": count,
            "mean_ms": round(total / count * 1000, 3) if count else 0.0,
            "p50_ms": round(percentile(0.50) * 1000, 3),
            "p95_ms": round(percentile(0.95) * 1000, 3),
            "p99_ms": round(percentile(0.99) * 1000, 3),
            "max_ms": round(maximum * 1000, 3),
        }


class Counters:
    """Named integer counters, also keyed ones (errors by code, statuses by name)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def increment(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
