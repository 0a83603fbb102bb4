"""A host's worker: finds executions that need a host and runs them, many at once.

Hosts share nothing but the store. Each poll a worker:
- writes its heartbeat (`hosts/<id>.json`, listing the executions it runs);
- lists the due index and claims what is due: new executions, timers that
  fired, parked executions that got a signal or a command, executions handed
  to it by a migration;
- looks for dead hosts (stale heartbeat) and claims their executions once
  their leases expire.
Claiming is taking the lease; running is `Execution.run()` on a thread of a
bounded pool. Wasm runs without the GIL (wasmtime releases it), so threads do
overlap guest compute; Python host code takes turns.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from runtime.executor import Execution, HeldLease, HostContext, Outcome, open_execution
from runtime.hosting import LeaseKeeper
from snapshots import inbox, keys, leases
from snapshots.records import HostRecord, UnknownExecution, list_execution_ids, list_hosts
from snapshots.store import StoreError

log = logging.getLogger("tardigrade.worker")

LEASE_SWEEP_TTLS = 10  # lease lifetimes between two passes over every execution's lease


class Worker:
    def __init__(
        self,
        ctx: HostContext,
        *,
        max_concurrency: int = 16,
        poll_interval: float = 0.2,
        url: str = "",
    ) -> None:
        self.ctx = ctx
        self.host_id = ctx.options.host_id
        self.max_concurrency = max_concurrency
        self.poll_interval = poll_interval
        self.url = url
        self.running: dict[str, Execution] = {}
        self._claiming: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="execution")
        self._keeper = LeaseKeeper(ctx.options.lease_ttl / 3)
        self._thread = threading.Thread(target=self._loop, name="worker", daemon=True)
        self._last_heartbeat = 0.0
        self._last_sweep = 0.0
        self._last_lease_sweep = time.time()
        self._started_at = time.time()
        self._skip_until: dict[str, float] = {}  # executions owned by live hosts: look again later

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._heartbeat()
        self._thread.start()

    def stop(self) -> None:
        """Stop claiming work. Running executions keep their leases until they expire."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._keeper.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def running_ids(self) -> list[str]:
        with self._lock:
            return sorted(self.running)

    def has_instance(self, execution_id: str) -> bool:
        """True while an instance of this execution is in this process's memory."""
        with self._lock:
            ex = self.running.get(execution_id)
        return ex is not None and ex.instance is not None

    # -- the loop ------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except StoreError as e:
                log.warning("%s: store unavailable (%s); retrying", self.host_id, e)
            except Exception:
                log.exception("%s: poll failed", self.host_id)
            self._stop.wait(self.poll_interval)

    def _tick(self) -> None:
        now = time.time()
        if now - self._last_heartbeat >= self.ctx.options.lease_ttl / 3:
            self._heartbeat()
        for entry in inbox.list_due(self.ctx.store, self.ctx.options.clock.ms()):
            self._on_due(entry)
        if now - self._last_sweep >= self.ctx.options.lease_ttl / 2:
            self._last_sweep = now
            self._sweep_dead_hosts()
        if now - self._last_lease_sweep >= LEASE_SWEEP_TTLS * self.ctx.options.lease_ttl:
            self._last_lease_sweep = now
            self._sweep_expired_leases()

    def _heartbeat(self) -> None:
        record = HostRecord(
            host_id=self.host_id,
            url=self.url,
            started_at=self._started_at,
            heartbeat_at=time.time(),
            ttl=self.ctx.options.lease_ttl,
            executions=self.running_ids(),
            capacity=self.max_concurrency,
        )
        self.ctx.store.put(keys.host(self.host_id), record.to_json())
        self._last_heartbeat = record.heartbeat_at

    def _on_due(self, entry: inbox.DueEntry) -> None:
        execution_id = entry.execution_id
        with self._lock:
            mine = self.running.get(execution_id)
        if mine is not None:
            if mine.held.lease.owner != self.host_id:
                return  # just handed to another host; the entry is for that host
            # Ours and running: it reads its inbox at its next suspension point.
            self.ctx.store.delete(entry.key)
            mine.poke()
            if mine.leaving:
                # It is parking or handing off and writes this same entry for whoever runs it
                # next; our delete may have removed that write, so put it back.
                inbox.mark_due(self.ctx.store, execution_id, inbox.NOW)
            return
        if self._skip_until.get(execution_id, 0) > time.monotonic():
            return
        self.claim(execution_id, due_key=entry.key)

    def _sweep_dead_hosts(self) -> None:
        """Executions of hosts that stopped heartbeating: claim them once their leases expire."""
        now = time.time()
        for host in list_hosts(self.ctx.store):
            if host.host_id == self.host_id or host.alive(now):
                continue
            for execution_id in host.executions:
                self.claim(execution_id)
            if now - host.heartbeat_at > 10 * host.ttl and not host.executions:
                self.ctx.store.delete(keys.host(host.host_id))  # long gone, nothing left to adopt

    def _sweep_expired_leases(self) -> None:
        """The safety net: any execution whose owner let its lease expire and is gone.

        Heartbeats list what a host runs, but a host can die between taking a lease and its
        next heartbeat. This slow pass (every LEASE_SWEEP_TTLS lease lifetimes) reads every
        execution's lease, so no execution can stay orphaned.
        """
        alive = {h.host_id for h in list_hosts(self.ctx.store) if h.alive()}
        for execution_id in list_execution_ids(self.ctx.store):
            lease = leases.read(self.ctx.store, execution_id)
            if lease is None or lease.owner is None or not lease.expired():
                continue
            if lease.owner not in alive or lease.owner == self.host_id:
                self.claim(execution_id)  # orphaned, or handed to us and the wake-up was lost

    # -- claiming and running ------------------------------------------------------------

    def claim(self, execution_id: str, due_key: str | None = None) -> bool:
        """Take the lease and start running; False if busy, owned elsewhere, or at capacity.

        `due_key` is the index entry that woke us: it is consumed before the execution runs,
        because an execution that parks or hands off at once writes that same key again.
        """
        with self._lock:
            if execution_id in self.running or execution_id in self._claiming:
                return False
            if len(self.running) + len(self._claiming) >= self.max_concurrency:
                return False
            self._claiming.add(execution_id)
        try:
            try:
                keys.validate_id(execution_id)
                lease = leases.acquire(self.ctx.store, execution_id, self.host_id, self.ctx.options.lease_ttl)
            except leases.LeaseBusy as e:
                # Owned by a live host; look again soon (a hand-off to us may be under way).
                self._skip_until[execution_id] = time.monotonic() + 4 * self.poll_interval
                log.debug("%s: %s", self.host_id, e)
                return False
            except keys.InvalidId:
                self._consume(due_key)  # garbage in the due index
                return True
            held = HeldLease(self.ctx, execution_id, lease)
            try:
                execution = open_execution(self.ctx, execution_id, held)
            except UnknownExecution:
                held.release()
                self._consume(due_key)
                return True
            self._consume(due_key)
            with self._lock:
                self.running[execution_id] = execution
            self._keeper.add(held)
            self._heartbeat()  # list it at once: a crash from here on leaves it adoptable
            self._pool.submit(self._run, execution)
            return True
        finally:
            with self._lock:
                self._claiming.discard(execution_id)

    def _consume(self, due_key: str | None) -> None:
        """Delete a due entry that has done its job; one left behind is only a hint, looked at again."""
        if due_key is None:
            return
        try:
            self.ctx.store.delete(due_key)
        except StoreError as e:
            log.warning("%s: could not delete %s (%s); it will be looked at again", self.host_id, due_key, e)

    def _run(self, execution: Execution) -> None:
        outcome: Outcome | None = None
        try:
            outcome = execution.run()
        except Exception:
            log.exception("%s: execution %s crashed the driver", self.host_id, execution.id)
        finally:
            self._keeper.remove(execution.held)
            with self._lock:
                self.running.pop(execution.id, None)
            status = outcome.status if outcome else "error"
            log.info("%s: %s -> %s %s", self.host_id, execution.id, status, outcome.detail if outcome else "")
