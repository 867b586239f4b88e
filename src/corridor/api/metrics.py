"""Prometheus metrics of the HTTP API, in the text exposition format (version 0.0.4).

A handful of counters and histograms, written by hand: no client library, no global
registry. Label values are bounded (route templates, not paths; status codes; outcome
codes), so the number of series stays small whatever the traffic.

Exposed at ``GET /metrics``:

- ``corridor_http_requests_total{method,route,status}``: requests answered;
- ``corridor_http_request_duration_seconds{route}``: time from the first byte of the request
  to the last byte of the response, as the server sees it;
- ``corridor_http_refusals_total{code}``: problem responses by code (rate_limited, forbidden...);
- ``corridor_idempotent_replays_total``: responses replayed for a repeated Idempotency-Key;
- ``corridor_pay_batches_total``, ``corridor_pay_batch_size`` and
  ``corridor_pay_batch_seconds``: the group-commit stage in front of the switch
  (`corridor.api.batching`);
- ``corridor_payments_total{outcome}``: one-shot payments by outcome (``committed`` or the
  error code).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence
from typing import Final

__all__ = ["Counter", "Histogram", "Metrics"]

LATENCY_BUCKETS_S: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
BATCH_SIZE_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
LABEL_SETS_MAX: Final = 2000
"""Series per metric; beyond it new label sets are counted under ``other``."""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


class Counter:
    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(label_names)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            if labels not in self._values and len(self._values) >= LABEL_SETS_MAX:
                labels = tuple("other" for _ in labels)
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        with self._lock:
            return self._values.get(labels, 0.0)

    def expose(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        with self._lock:
            items = sorted(self._values.items())
        for labels, value in items:
            yield f"{self.name}{_labels(self.label_names, labels)} {_number(value)}"


class Histogram:
    def __init__(
        self,
        name: str,
        help_text: str,
        buckets: Sequence[float],
        label_names: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.help = help_text
        self.buckets = tuple(buckets)
        self.label_names = tuple(label_names)
        # Per label set: counts per bucket (non-cumulative, +Inf last), sum, count.
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, *labels: str) -> None:
        index = bisect.bisect_left(self.buckets, value)
        with self._lock:
            series = self._series.get(labels)
            if series is None:
                if len(self._series) >= LABEL_SETS_MAX:
                    labels = tuple("other" for _ in labels)
                series = self._series.setdefault(
                    labels, ([0] * (len(self.buckets) + 1), [0.0, 0.0])
                )
            series[0][index] += 1
            series[1][0] += value
            series[1][1] += 1

    def totals(self, *labels: str) -> tuple[float, int]:
        """Sum and count of the observations of one label set."""
        with self._lock:
            series = self._series.get(labels)
            return (0.0, 0) if series is None else (series[1][0], int(series[1][1]))

    def expose(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        with self._lock:
            items = sorted((k, (list(v[0]), list(v[1]))) for k, v in self._series.items())
        for labels, (counts, (total, count)) in items:
            cumulative = 0
            for bound, bucket_count in zip((*self.buckets, None), counts, strict=True):
                cumulative += bucket_count
                le = "+Inf" if bound is None else _number(bound)
                bucket_labels = _labels(self.label_names, labels, 'le="' + le + '"')
                yield f"{self.name}_bucket{bucket_labels} {cumulative}"
            yield f"{self.name}_sum{_labels(self.label_names, labels)} {_number(total)}"
            yield f"{self.name}_count{_labels(self.label_names, labels)} {_number(count)}"


class Metrics:
    """Every metric of one API app."""

    def __init__(self) -> None:
        self.requests = Counter(
            "corridor_http_requests_total", "HTTP requests answered.", ("method", "route", "status")
        )
        self.duration = Histogram(
            "corridor_http_request_duration_seconds",
            "Time to answer an HTTP request, in seconds.",
            LATENCY_BUCKETS_S,
            ("route",),
        )
        self.refusals = Counter(
            "corridor_http_refusals_total", "Problem responses by code.", ("code",)
        )
        self.replays = Counter(
            "corridor_idempotent_replays_total", "Responses replayed for an Idempotency-Key."
        )
        self.pay_batches = Counter(
            "corridor_pay_batches_total", "Batches of one-shot payments handed to the switch."
        )
        self.pay_batch_size = Histogram(
            "corridor_pay_batch_size", "Payments per batch.", BATCH_SIZE_BUCKETS
        )
        self.pay_batch_seconds = Histogram(
            "corridor_pay_batch_seconds",
            "Time the switch took for one batch (durable), in seconds.",
            LATENCY_BUCKETS_S,
        )
        self.pay_wait_seconds = Histogram(
            "corridor_pay_queue_seconds",
            "Time a payment waited in the batching stage before its batch started, in seconds.",
            LATENCY_BUCKETS_S,
        )
        self.payments = Counter(
            "corridor_payments_total", "One-shot payments by outcome.", ("outcome",)
        )

    def expose(self) -> str:
        lines: list[str] = []
        for metric in (
            self.requests,
            self.duration,
            self.refusals,
            self.replays,
            self.pay_batches,
            self.pay_batch_size,
            self.pay_batch_seconds,
            self.pay_wait_seconds,
            self.payments,
        ):
            lines.extend(metric.expose())
        return "\n".join(lines) + "\n"
