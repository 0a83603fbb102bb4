"""Keeping leases alive, and driving executions in this process (the embedded host of `tardigrade run`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from runtime.executor import HeldLease, HostContext, Outcome, acquire, open_execution
from snapshots import inbox


class LeaseKeeper:
    """Renews every lease this host holds, every ttl/3, on a background thread."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._held: set[HeldLease] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease-keeper", daemon=True)
        self._thread.start()

    def add(self, held: HeldLease) -> None:
        with self._lock:
            self._held.add(held)

    def remove(self, held: HeldLease) -> None:
        with self._lock:
            self._held.discard(held)

    def held(self) -> list[HeldLease]:
        with self._lock:
            return list(self._held)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            for held in self.held():
                held.renew()

    def stop(self) -> None:
        self._stop.set()


def drive_local(
    ctx: HostContext,
    execution_id: str,
    *,
    detach: bool = False,
    on_parked: Callable[[Outcome], None] | None = None,
) -> Outcome:
    """Run an execution here until it ends. A parked execution is waited for in this process
    (with no instance in memory) and restored from the store when it is due - unless `detach`."""
    keeper = LeaseKeeper(ctx.options.lease_ttl / 3)
    try:
        while True:
            held = acquire(ctx, execution_id, steal_dead_local=True)
            inbox.clear_due(ctx.store, execution_id, inbox.NOW)  # running here: no other host needs to look
            keeper.add(held)
            try:
                outcome = open_execution(ctx, execution_id, held).run()
            finally:
                keeper.remove(held)
            if outcome.status != "parked" or detach:
                return outcome
            if on_parked is not None:
                on_parked(outcome)
            _wait_while_parked(ctx, execution_id, outcome.wake_at_ms)
    finally:
        keeper.stop()


def _wait_while_parked(ctx: HostContext, execution_id: str, wake_at_ms: int | None) -> None:
    """Sleep until the timer is due or a message arrives for the execution."""
    clock = ctx.options.clock
    while True:
        if wake_at_ms is not None and clock.ms() >= wake_at_ms:
            break
        if inbox.read_all(ctx.store, execution_id):
            break
        step = ctx.options.poll_interval
        if wake_at_ms is not None:
            step = min(step, clock.real_seconds(max(0, wake_at_ms - clock.ms()) / 1000))
        time.sleep(max(0.01, step))
    inbox.clear_due(ctx.store, execution_id, wake_at_ms)
