"""Recover an execution the way the product does, and stop at its first live host call.

`StopAtLive` is the real executor; it only adds a stop in `_new_wait`, which
the executor calls when the guest makes a host call that is not answered from
a snapshot or the journal - the first live call after a recovery. Stopping
there (with the executor's own `Park`) means a recovery probe writes nothing
to the store but the lease, so the same crashed store can be recovered again
and again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from runtime.executor import Execution, HostContext, Outcome, Park, acquire
from runtime.instance import Suspension
from snapshots.records import read_execution


class StopAtLive(Execution):
    live_at: float | None = None  # perf_counter at the first live host call
    live_wall: float | None = None  # the same moment, time.time()

    def _new_wait(self, s: Suspension) -> None:
        super()._new_wait(s)  # records recovery_ms in self.restored
        if self.restored is None:
            return  # a fresh start, not a recovery: let it run
        self.live_at = time.perf_counter()
        self.live_wall = time.time()
        raise Park(Outcome(self.id, "probe-stopped"))


@dataclass
class Probe:
    started: float  # perf_counter before reading the execution record
    live_at: float  # perf_counter at the first live host call
    live_wall: float
    load_started: float  # perf_counter when the executor's _load began
    info: dict[str, Any]  # the executor's "restored" report: fetch_ms, apply_ms, restore_ms, recovery_ms...

    @property
    def total_ms(self) -> float:
        return (self.live_at - self.started) * 1000

    @property
    def load_end(self) -> float:
        """perf_counter when the executor finished loading (restore + journal read)."""
        return self.load_started + float(self.info.get("restore_ms", 0.0)) / 1000


def probe(ctx: HostContext, execution_id: str) -> Probe:
    """Recover `execution_id` from ctx.store up to its first live host call."""
    started = time.perf_counter()
    record = read_execution(ctx.store, execution_id)
    ex = StopAtLive(ctx, record, acquire(ctx, execution_id))
    try:
        outcome = ex.run()
    except Park as p:  # snapshot mode calls _new_wait outside the guest, where run() does not catch Park
        outcome = p.outcome
    if ex.live_at is None or ex.live_wall is None or ex.restored is None:
        raise RuntimeError(f"recovery of {execution_id} ended {outcome.status} ({outcome.detail}) before a live call")
    return Probe(started, ex.live_at, ex.live_wall, ex._load_started, dict(ex.restored))
