"""Host metrics in the Prometheus text format: counters and histograms fed by execution events."""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field
from typing import Any

_SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BYTES_BUCKETS = (1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)


@dataclass
class Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        i = bisect.bisect_left(self.buckets, value)
        if i < len(self.counts):
            self.counts[i] += 1
        self.total += value
        self.n += 1

    def render(self, name: str, help_text: str) -> list[str]:
        lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        cumulative = 0
        for bound, count in zip(self.buckets, self.counts, strict=True):
            cumulative += count
            lines.append(f'{name}_bucket{{le="{bound:g}"}} {cumulative}')
        lines += [f'{name}_bucket{{le="+Inf"}} {self.n}', f"{name}_sum {self.total:g}", f"{name}_count {self.n}"]
        return lines


class Metrics:
    """Fed by HostContext.on_event; rendered by GET /metrics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.steps = 0
        self.snapshots = 0
        self.snapshot_bytes = 0
        self.journal_bytes = 0
        self.restores = 0
        self.migrations_out = 0
        self.migrations_in = 0
        self.parks = 0
        self.ended: dict[str, int] = {}
        self.activity_failures = 0
        self.persist = Histogram(_SECONDS_BUCKETS)
        self.restore = Histogram(_SECONDS_BUCKETS)
        self.snapshot_size = Histogram(_BYTES_BUCKETS)

    def observe(self, execution_id: str, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        with self._lock:
            if event.get("snapshot_bytes") is not None:
                self.snapshots += 1
                self.snapshot_bytes += int(event["snapshot_bytes"])
                self.snapshot_size.observe(float(event["snapshot_bytes"]))
                self.persist.observe(float(event.get("persist_ms", 0)) / 1000)
            if event.get("journal_bytes") is not None:
                self.journal_bytes += int(event["journal_bytes"])
            if kind in ("activity", "signal", "timer_fired", "cancelled") and "step" in event:
                self.steps += 1
            if kind == "retry":
                self.activity_failures += 1
            if kind == "restored":
                self.restores += 1
                self.restore.observe(float(event.get("restore_ms", 0)) / 1000)
                if event.get("migrated_from"):
                    self.migrations_in += 1
            elif kind == "migrated":
                self.migrations_out += 1
            elif kind == "parked":
                self.parks += 1
            elif (kind in ("completed", "failed", "cancelled") and "exit_code" in event) or kind == "failed":
                self.ended[str(kind)] = self.ended.get(str(kind), 0) + 1

    def render(self, gauges: dict[str, tuple[str, dict[str, float]]]) -> str:
        """The exposition text; `gauges` maps a metric name to (help, {label value: number})."""
        with self._lock:
            lines: list[str] = []

            def counter(name: str, help_text: str, value: float, labels: str = "") -> None:
                if not any(line.startswith(f"# HELP {name} ") for line in lines):
                    lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} counter"])
                lines.append(f"{name}{labels} {value:g}")

            counter("tardigrade_steps_total", "Suspension points resolved and committed on this host.", self.steps)
            counter("tardigrade_snapshots_total", "Snapshot objects committed by this host.", self.snapshots)
            counter("tardigrade_snapshot_bytes_total", "Bytes of snapshot objects committed.", self.snapshot_bytes)
            counter("tardigrade_journal_bytes_total", "Bytes of journal records committed.", self.journal_bytes)
            counter("tardigrade_restores_total", "Executions restored on this host.", self.restores)
            counter("tardigrade_migrations_total", "Executions moved.", self.migrations_in, '{direction="in"}')
            counter("tardigrade_migrations_total", "Executions moved.", self.migrations_out, '{direction="out"}')
            counter("tardigrade_parks_total", "Times an execution parked (instance dropped).", self.parks)
            counter(
                "tardigrade_activity_retries_total",
                "Failed activity attempts that will be retried.",
                self.activity_failures,
            )
            for status, n in sorted(self.ended.items()):
                counter("tardigrade_executions_ended_total", "Executions that ended here.", n, f'{{status="{status}"}}')
            lines += self.persist.render("tardigrade_snapshot_persist_seconds", "Time to encode and commit a snapshot.")
            lines += self.restore.render("tardigrade_restore_seconds", "Time to restore an execution.")
            lines += self.snapshot_size.render("tardigrade_snapshot_bytes", "Size of committed snapshot objects.")
        for name, (help_text, values) in gauges.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            for label, v in sorted(values.items()):
                lines.append(f"{name}{label} {v:g}")
        return "\n".join(lines) + "\n"
