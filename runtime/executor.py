"""The executor: drives one execution through its steps, in snapshot, replay or hybrid mode.

One step, snapshot mode (DESIGN.md's ordering):

    guest calls td.call -> unwind -> host runs the activity (retry policy, timeout,
    idempotency key = execution id + step) -> commit snapshot N (create-only) ->
    rewind -> the call returns

Every suspension point starts as a *wait* (run this activity, sleep until T,
wait for signal S). Resolving a wait ends in a *result*, committed in a
snapshot whose pending result the next restore hands back to the guest. Waits
that take time - a sleep, a retry backoff, a signal wait - are committed too,
so the due time and attempt count survive a crash; long ones *park*: the
instance is dropped and a due-index entry lets any host resume it later.

Replay mode answers host calls inline from a journal instead of unwinding;
hybrid journals every step and also snapshots every K-th one.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import wasmtime

from guest import abi
from runtime.activities import ActivityContext, Registry
from runtime.clock import Clock
from runtime.engine import Engine
from runtime.instance import Exited, GuestInstance, GuestTrap, Suspension
from snapshots import chain as chains
from snapshots import inbox, keys, leases, retention
from snapshots.delta import chunk_hashes
from snapshots.format import JournalRecord, Snapshot
from snapshots.journal import read_journal
from snapshots.records import ExecutionRecord, read_execution
from snapshots.store import CorruptObject, NotFound, ObjectStore, PreconditionFailed, StoreError, retrying

log = logging.getLogger("tardigrade.executor")

MAX_LOG_BYTES_PER_STEP = 256 * 1024


class ExecutionFailed(Exception):
    """The execution cannot go on (unknown activity, non-determinism...); it ends as failed."""


class AlreadyEnded(Exception):
    """The execution has a terminal record: report it, write nothing."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.status)
        self.outcome = outcome


class Fenced(Exception):
    """Another host committed this step first, or took our lease: stop at once."""


class Park(Exception):
    """Leave the guest mid-call (replay and hybrid steps run inline); carries how the execution stopped."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.status)
        self.outcome = outcome


@dataclass
class HostOptions:
    host_id: str
    park_after_ms: int = 1000  # sleeps and backoffs longer than this park the execution
    lease_ttl: float = 15.0
    poll_interval: float = 0.5  # how often a running execution looks at its inbox
    compaction: chains.CompactionPolicy = field(default_factory=chains.CompactionPolicy)
    clock: Clock = field(default_factory=Clock)
    store_retry_deadline: float = 300.0  # how long a step waits for an unreachable store
    retain_chains: int = 2  # after a new full image, older chains are archived into history and deleted


@dataclass
class Outcome:
    execution_id: str
    status: str  # completed | failed | cancelled | parked | migrated | fenced
    detail: str = ""
    wake_at_ms: int | None = None
    output: bytes = b""
    exit_code: int | None = None


EventListener = Callable[[str, dict[str, Any]], None]
LogListener = Callable[[str, str, bytes], None]


class HostContext:
    """What every execution on one host shares: store, engine, activities, options, caches."""

    def __init__(
        self,
        store: ObjectStore,
        engine: Engine,
        activities: Registry,
        options: HostOptions,
        on_event: EventListener | None = None,
        on_log: LogListener | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.activities = activities
        self.options = options
        self.on_event = on_event or (lambda _id, _ev: None)
        self.on_log = on_log or (lambda _id, _stream, _data: None)
        self._pristine: dict[str, dict[str, array]] = {}
        self._lock = threading.Lock()

    def module(self, sha256: str) -> wasmtime.Module:
        loaded = self.engine.loaded(sha256)
        if loaded is not None:
            return loaded  # compiled here from bytes that matched this sha256
        try:
            wasm = self.store.get(keys.module(sha256))
        except NotFound:
            raise ExecutionFailed(f"module {sha256} is not in the store") from None
        if hashlib.sha256(wasm).hexdigest() != sha256:
            raise ExecutionFailed(f"module object {keys.module(sha256)} does not match its sha256")
        return self.engine.module(sha256, wasm)

    def pristine(self, sha256: str, instance: GuestInstance) -> dict[str, array]:
        """Chunk hashes of a fresh instance's memories (call before `_initialize`)."""
        with self._lock:
            cached = self._pristine.get(sha256)
        if cached is None:
            cached = {name: chunk_hashes(view) for name, view in instance.regions().items()}
            with self._lock:
                self._pristine[sha256] = cached
        return cached

    def retry(self, op: Callable[[], Any], what: str) -> Any:
        def on_retry(attempt: int, err: Exception, delay: float) -> None:
            log.warning("store unavailable during %s (attempt %d): %s; retrying in %.1fs", what, attempt, err, delay)

        return retrying(op, deadline_s=self.options.store_retry_deadline, on_retry=on_retry)


class HeldLease:
    """Our lease on one execution; every change goes through here, under one lock."""

    def __init__(self, ctx: HostContext, execution_id: str, lease: leases.Lease) -> None:
        self.ctx = ctx
        self.execution_id = execution_id
        self.lease = lease
        self.lost = False
        self._lock = threading.Lock()

    def renew(self, **changes: Any) -> None:
        with self._lock:
            if self.lost or self.lease.owner != self.ctx.options.host_id:
                return
            try:
                self.lease = self.ctx.retry(
                    lambda: leases.renew(
                        self.ctx.store, self.execution_id, self.lease, self.ctx.options.lease_ttl, **changes
                    ),
                    "lease renewal",
                )
            except leases.LeaseLost:
                self.lost = True

    def release(self) -> None:
        with self._lock:
            if not self.lost:
                try:
                    self.lease = self.ctx.retry(
                        lambda: leases.release(self.ctx.store, self.execution_id, self.lease), "releasing the lease"
                    )
                except leases.LeaseLost:
                    self.lost = True

    def hand_off(self, to_host: str, since: float) -> None:
        with self._lock:
            self.lease = self.ctx.retry(
                lambda: leases.hand_off(
                    self.ctx.store, self.execution_id, self.lease, to_host, self.ctx.options.lease_ttl, since
                ),
                "handing the lease over",
            )


def _input_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _group_plain(group: list[JournalRecord]) -> deque[tuple[str, Any]]:
    return deque((str(k), v) for r in group for k, v in r.meta.get("plain", []))


class Execution:
    """One execution being driven on this host; one thread drives it."""

    def __init__(self, ctx: HostContext, record: ExecutionRecord, held: HeldLease) -> None:
        self.ctx = ctx
        self.record = record
        self.id = record.id
        self.mode = record.mode
        self.held = held
        self.opts = ctx.options
        self.clock = ctx.options.clock
        self.instance: GuestInstance | None = None
        self.writer: chains.SnapshotWriter | None = None
        self.unwound = False  # the guest's stack is in memory: a snapshot can be taken
        self.step = 0  # suspension points resolved and committed
        self.journal_seq = 0
        self.pending: dict[str, Any] | None = None  # {"type": "wait"|"result", "call": {...}, ...}
        self.pending_input = b""  # the input bytes of the pending call
        self.wait_committed = False
        self.result_blob = b""  # what td.result copies out
        self.out_buf = bytearray()
        self.log_buf = bytearray()
        self.cancel: str | None = None  # None | "requested" | "delivered"
        self.consumed: list[str] = []  # inbox keys consumed, not yet deleted
        self.migrate_to: str | None = None
        self.leaving = False  # set before parking or handing off writes its own due entries
        self.plain: list[list[Any]] = []  # plain-call values since the last journal record
        self.replay: deque[list[JournalRecord]] = deque()  # journal groups still to answer from
        self.replay_plain: deque[tuple[str, Any]] = deque()
        self.restored: dict[str, Any] | None = None  # reported with the next commit
        self._load_started = 0.0
        self._last_inbox_check = 0.0
        self._poked = threading.Event()

    def _drop_instance(self) -> None:
        """Free the guest's memory now: parked, moved away, ended, or fenced off."""
        if self.instance is not None:
            self.instance.close()
            self.instance = None

    def poke(self) -> None:
        """Something arrived for this execution (signal, cancel, migrate): look at the inbox soon."""
        self._last_inbox_check = 0.0
        self._poked.set()

    # -- guest callbacks (runtime.instance.Host) --------------------------------------

    def result_bytes(self) -> bytes:
        return self.result_blob

    def input_bytes(self) -> bytes:
        data = self.record.input
        self._plain("input", len(data))
        return data

    def output(self, data: bytes) -> None:
        self.out_buf += data

    def log_bytes(self, stream: str, data: bytes) -> None:
        if self.replay:
            return  # replayed code logged this when it ran live
        if len(self.log_buf) < MAX_LOG_BYTES_PER_STEP:
            self.log_buf += data[: MAX_LOG_BYTES_PER_STEP - len(self.log_buf)]
        self.ctx.on_log(self.id, stream, data)

    def now_ms(self) -> int:
        return int(self._plain("now", self.clock.ms()))

    def now_ns(self) -> int:
        return int(self._plain("clock", int(self.clock.time() * 1e9)))

    def random_bytes(self, n: int) -> bytes:
        return base64.b64decode(self._plain("random", base64.b64encode(os.urandom(n)).decode()))

    def _plain(self, kind: str, live_value: Any) -> Any:
        """Replay and hybrid: answer a plain call from the journal while replaying, record it when live."""
        if self.mode == "snapshot":
            return live_value
        if self.replay:
            if not self.replay_plain:
                raise ExecutionFailed(
                    f"non-determinism before step {self.step + 1}: the guest called {kind}, "
                    "the journal has no such call here"
                )
            want, value = self.replay_plain.popleft()
            if want != kind:
                raise ExecutionFailed(
                    f"non-determinism before step {self.step + 1}: the guest called {kind}, the journal has {want}"
                )
            return value
        self.plain.append([kind, live_value])
        return live_value

    def suspend(self, s: Suspension) -> int | None:
        """A suspension point, inside the guest's call. None unwinds; an int is returned to the guest."""
        if self.mode == "snapshot":
            return None
        if self.replay:
            answer = self._replay_step(s)
            if answer is not None:
                return answer
        else:
            self._new_wait(s)
        call_step = self.step + 1
        if self.mode == "hybrid" and (call_step % self.record.snapshot_every == 0 or s.kind != "call"):
            return None  # a snapshot step (and waits that may park): unwind
        while self.pending is not None and self.pending["type"] == "wait":
            outcome = self._advance_wait()
            if outcome is not None:
                raise Park(outcome)
        assert self.pending is not None
        return int(self.pending["code"])

    # -- the driver --------------------------------------------------------------------

    def run(self) -> Outcome:
        """Drive the execution until it ends, parks, moves away, or is fenced off."""
        try:
            self._load()
            while True:
                if self.held.lost:
                    raise Fenced(f"lost the lease of {self.id}")
                if self.pending is not None and self.pending["type"] == "wait":
                    outcome = self._advance_wait()
                    if outcome is not None:
                        return outcome
                    continue
                assert self.instance is not None
                self.unwound = False
                try:
                    status = (
                        self.instance.start()
                        if self.pending is None
                        else self.instance.resume(int(self.pending["code"]))
                    )
                except Park as p:
                    return p.outcome
                if isinstance(status, Exited):
                    return self._finish(status.code)
                self.unwound = True
                if self.mode == "snapshot":
                    self._new_wait(status.suspension)
                # hybrid: suspend() already set the pending wait before unwinding
        except AlreadyEnded as e:
            self._drop_instance()
            self.held.release()
            return e.outcome
        except (GuestTrap, ExecutionFailed) as e:
            return self._fail(str(e))
        except CorruptObject as e:
            return self._fail(str(e), commit=False)
        except (Fenced, leases.LeaseLost, PreconditionFailed) as e:
            log.warning("%s: stopping, another host owns this execution now (%s)", self.id, e)
            self._drop_instance()
            return Outcome(self.id, "fenced", str(e))

    # -- loading: fresh start, restore, replay -------------------------------------------

    def _load(self) -> None:
        self._load_started = time.perf_counter()
        store = self.ctx.store
        latest = self.ctx.retry(lambda: chains.latest_seq(store, self.id), "listing snapshots")
        module = self.ctx.module(self.record.module)
        self.instance = GuestInstance(self.ctx.engine, module, self)
        pristine = self.ctx.pristine(self.record.module, self.instance)
        self.writer = chains.SnapshotWriter(self.id, self.record.module, pristine, self.opts.compaction)
        info: dict[str, Any] = {"host": self.opts.host_id, "at": time.time()}
        if latest:
            t_fetch = time.perf_counter()
            loaded = self.ctx.retry(lambda: chains.load_chain(store, self.id, latest), "reading snapshots")
            last = loaded.latest
            if last.kind == "terminal":
                m = last.meta
                raise AlreadyEnded(
                    Outcome(
                        self.id,
                        str(m.get("status")),
                        str(m.get("error", "")),
                        output=last.blobs.get("output", b""),
                        exit_code=m.get("exit_code"),
                    )
                )
            if last.module != self.record.module:
                raise CorruptObject(keys.snap(self.id, last.seq), f"belongs to module {last.module}")
            t_apply = time.perf_counter()
            self._restore(loaded)
            info.update(
                seq=last.seq,
                objects=loaded.objects_read,
                bytes=loaded.bytes_read,
                fetch_ms=round((t_apply - t_fetch) * 1000, 3),
                apply_ms=round((time.perf_counter() - t_apply) * 1000, 3),
            )
        else:
            self.instance.initialize()
        if self.mode != "snapshot":
            replayed = self._load_journal()
            if replayed:
                info["replay_steps"] = replayed
        if latest or self.replay or self.journal_seq:
            info["restore_ms"] = round((time.perf_counter() - self._load_started) * 1000, 3)
            lease = self.held.lease
            if lease.handoff_from and lease.handoff_at:
                info["migrated_from"] = lease.handoff_from
                info["pause_ms"] = round((time.time() - lease.handoff_at) * 1000, 1)
                self.held.renew(
                    handoff_from=None,
                    handoff_at=None,
                    note={
                        "migration": {"from": lease.handoff_from, "to": self.opts.host_id, "pause_ms": info["pause_ms"]}
                    },
                )
            self.restored = info
            self.ctx.on_event(self.id, {"kind": "restored", **info})
        self._check_inbox(force=True)

    def _restore(self, loaded: chains.LoadedChain) -> None:
        assert self.instance is not None and self.writer is not None
        last = loaded.latest
        self.instance.grow_to({n: r.size for n, r in last.regions.items()})
        restored = chains.apply_chain(self.id, loaded, self.instance.regions(), self.writer.pristine)
        meta = last.meta
        self.instance.set_globals(meta["globals"])
        self.writer = chains.SnapshotWriter.resume(
            self.id, self.record.module, self.writer.pristine, loaded, restored, self.opts.compaction
        )
        self.unwound = True
        self.step = int(meta["step"])
        self.pending = meta["pending"]
        self.wait_committed = self.pending is not None and self.pending["type"] == "wait"
        self.pending_input = last.blobs.get("input", b"")
        self.result_blob = last.blobs.get("result", b"")
        self.out_buf = bytearray(loaded.stream("output"))
        self.cancel = meta.get("cancel")
        self.consumed = list(meta.get("consumed", []))
        self.journal_seq = int(meta.get("journal_seq", 0))

    def _load_journal(self) -> int:
        """Queue the journal records after the restored state for replay; returns how many steps."""
        # A hybrid snapshot is committed after its step's journal record: only later records matter.
        after = self.journal_seq
        records: list[JournalRecord] = self.ctx.retry(
            lambda: read_journal(self.ctx.store, self.id, after), "reading the journal"
        )
        if not records:
            return 0
        self.journal_seq = records[-1].seq
        groups: dict[int, list[JournalRecord]] = {}
        for r in records:
            groups.setdefault(int(r.meta["call_step"]), []).append(r)
        pending_step = self.step + 1
        if self.pending is not None and self.pending["type"] == "wait" and pending_step in groups:
            # Hybrid: the snapshot holds a wait that the journal saw progress on.
            self._adopt(groups[pending_step][-1])
        tail = [
            groups[s]
            for s in sorted(groups)
            if s > self.step and not (s == pending_step and self.pending and self.pending["type"] == "wait")
        ]
        self.replay = deque(tail)
        self.replay_plain = _group_plain(tail[0]) if tail else deque()
        return len(tail)

    def _adopt(self, rec: JournalRecord) -> None:
        """Take a journal record's state as ours."""
        self.pending = dict(rec.meta["pending"])
        self.cancel = rec.meta.get("cancel", self.cancel)
        self.consumed = list(rec.meta.get("consumed", self.consumed))
        if self.pending["type"] == "result":
            self.step = int(rec.meta["call_step"])
            self.result_blob = rec.blobs.get("result", b"")
        else:
            self.wait_committed = True

    def _replay_step(self, s: Suspension) -> int | None:
        """Answer suspension `s` from the journal; None when it is live from here on."""
        group = self.replay.popleft()
        if self.replay_plain:
            raise ExecutionFailed(
                f"non-determinism before step {self.step + 1}: the journal has {self.replay_plain[0][0]} "
                f"calls the guest did not make"
            )
        self.replay_plain = _group_plain(self.replay[0]) if self.replay else deque()
        want = group[0].meta["call"]
        got = {"kind": s.kind, "name": s.name, "input": _input_digest(s.data)}
        if want != got:
            raise ExecutionFailed(
                f"non-determinism at step {self.step + 1}: the guest made {got['kind']} {got['name']!r} "
                f"(input {got['input']}), the journal recorded {want['kind']} {want['name']!r} (input {want['input']})"
            )
        self.pending_input = s.data
        self._adopt(group[-1])
        if self.pending is not None and self.pending["type"] == "result":
            return int(self.pending["code"])
        return None  # the journal ends inside this call: go on live from its wait

    # -- waits -------------------------------------------------------------------------

    def _new_wait(self, s: Suspension) -> None:
        now = self.clock.ms()
        if self.restored is not None and "recovery_ms" not in self.restored:
            self.restored["recovery_ms"] = round((time.perf_counter() - self._load_started) * 1000, 3)
        call = {"kind": s.kind, "name": s.name, "input": _input_digest(s.data)}
        self.pending_input = s.data
        self.wait_committed = False
        if s.kind == "call":
            self.pending = {"type": "wait", "call": call, "attempt": 1, "until": now}
        elif s.kind == "sleep":
            self.pending = {"type": "wait", "call": call, "until": now + s.ms, "ms": s.ms}
        else:
            until = now + s.timeout_ms if s.timeout_ms is not None else None
            self.pending = {"type": "wait", "call": call, "until": until}

    def _advance_wait(self) -> Outcome | None:
        """Move the pending wait forward: resolve it, commit progress, wait here, or park."""
        wait = self.pending
        assert wait is not None and wait["type"] == "wait"
        call = wait["call"]
        self._check_inbox()
        if self.migrate_to:
            return self._migrate()
        if self.cancel == "requested" and call["kind"] in ("call", "signal"):
            self.cancel = "delivered"
            return self._resolve(abi.ERR_CANCELLED, b"cancelled", {"kind": "cancelled", "name": call["name"]})
        if self.cancel == "requested" and call["kind"] == "sleep":
            return self._resolve(0, b"", {"kind": "cancelled", "name": "sleep"})
        now = self.clock.ms()
        if call["kind"] == "signal":
            msg = self._find_signal(call["name"])
            if msg is not None:
                self.consumed.append(msg.key)
                return self._resolve(len(msg.payload), msg.payload, {"kind": "signal", "name": msg.name})
            if wait["until"] is not None and now >= wait["until"]:
                return self._resolve(
                    abi.ERR_TIMEOUT, b"timed out", {"kind": "signal", "name": call["name"], "timeout": True}
                )
            return self._wait_for(wait["until"], {"kind": "signal_wait", "name": call["name"]})
        if now < wait["until"]:
            if call["kind"] == "sleep":
                return self._wait_for(wait["until"], {"kind": "sleep", "name": f"{wait['ms']} ms"})
            return self._wait_for(wait["until"], {"kind": "backoff", "name": call["name"], "attempt": wait["attempt"]})
        if call["kind"] == "sleep":
            return self._resolve(0, b"", {"kind": "timer_fired", "name": f"{wait['ms']} ms"})
        return self._run_activity(wait)

    def _run_activity(self, wait: dict[str, Any]) -> Outcome | None:
        name, attempt = wait["call"]["name"], int(wait["attempt"])
        act = self.ctx.activities.get(name)
        step = self.step + 1
        if act is None:
            raise ExecutionFailed(f"unknown activity {name!r} at step {step}")
        ctx = ActivityContext(self.id, step, attempt, f"{self.id}:{step}")
        started = time.time()
        result = self.ctx.activities.attempt(act, self.pending_input, ctx)
        ended = time.time()
        event: dict[str, Any] = {
            "kind": "activity",
            "name": name,
            "attempt": attempt,
            "started_at": started,
            "ended_at": ended,
            "duration_ms": round((ended - started) * 1000, 3),
        }
        if result.ok:
            return self._resolve(len(result.data), result.data, event)
        event["error"] = result.data.decode("utf-8", "replace")
        if result.retryable and not act.retry.exhausted(attempt):
            delay_ms = int(act.retry.delay_after(attempt) * 1000)
            self.pending = dict(wait, attempt=attempt + 1, until=self.clock.ms() + delay_ms)
            self._commit(dict(event, kind="retry", retry_in_ms=delay_ms))  # attempt counts survive crashes
            self.wait_committed = True
            return None
        return self._resolve(abi.ERR_FAILED, result.data, dict(event, failed=True))

    def _resolve(self, code: int, data: bytes, event: dict[str, Any]) -> Outcome | None:
        assert self.pending is not None
        self.pending = {"type": "result", "call": self.pending["call"], "code": code}
        self.result_blob = data
        self.step += 1
        self._commit(event)
        if self.migrate_to:
            return self._migrate()
        return None

    def _wait_for(self, until_ms: int | None, event: dict[str, Any]) -> Outcome | None:
        """Wait for a timer or a signal: in this process if short, else park."""
        if not self.wait_committed:
            self._commit(dict(event, until=until_ms))
            self.wait_committed = True
        remaining = None if until_ms is None else until_ms - self.clock.ms()
        if remaining is not None and remaining <= self.opts.park_after_ms:
            end = time.monotonic() + self.clock.real_seconds(max(0, remaining) / 1000)
            while time.monotonic() < end:
                self._poked.wait(min(self.opts.poll_interval, max(0.0, end - time.monotonic())))
                self._poked.clear()
                if self._check_inbox(force=True):
                    break
            return None
        return self._park()

    def _park(self) -> Outcome:
        assert self.pending is not None
        self.leaving = True
        if self.restored is not None and self.restored.get("migrated_from") and self.instance is not None:
            # Moved here while parked: record the move before parking again.
            self._commit({"kind": "parked", "name": self.pending["call"]["name"], "until": self.pending.get("until")})
        until = self.pending.get("until")
        if until is not None:
            self.ctx.retry(lambda: inbox.mark_due(self.ctx.store, self.id, int(until)), "writing the due index")
        self._drop_instance()
        self.held.release()
        self.ctx.on_event(self.id, {"kind": "parked", "until": until, "step": self._call_step()})
        # A message that raced with parking must still wake the execution.
        if self._check_inbox(force=True) or self.cancel == "requested":
            inbox.mark_due(self.ctx.store, self.id, inbox.NOW)
        return Outcome(self.id, "parked", wake_at_ms=until)

    # -- inbox -----------------------------------------------------------------------

    def _inbox(self) -> list[inbox.Message]:
        msgs: list[inbox.Message] = self.ctx.retry(lambda: inbox.read_all(self.ctx.store, self.id), "reading the inbox")
        return [m for m in msgs if m.key not in self.consumed]

    def _check_inbox(self, force: bool = False) -> bool:
        """Take in commands from the inbox; True if the pending wait should look again."""
        now = time.monotonic()
        if not force and now - self._last_inbox_check < self.opts.poll_interval:
            return False
        self._last_inbox_check = now
        attention = False
        for msg in self._inbox():
            if msg.kind == "cancel":
                if self.cancel is None:
                    self.cancel = "requested"
                    self.ctx.on_event(self.id, {"kind": "cancel_requested"})
                self.consumed.append(msg.key)
                attention = True
            elif msg.kind == "migrate":
                self.consumed.append(msg.key)
                target = str(msg.meta.get("to", ""))
                if target and target != self.opts.host_id:
                    self.migrate_to = target
                    attention = True
            elif msg.kind == "signal" and self.pending is not None and self.pending["type"] == "wait":
                attention = attention or (
                    self.pending["call"]["kind"] == "signal" and self.pending["call"]["name"] == msg.name
                )
        return attention

    def _find_signal(self, name: str) -> inbox.Message | None:
        return next((m for m in self._inbox() if m.kind == "signal" and m.name == name), None)

    def _delete_consumed(self) -> None:
        """Consumed messages go once a commit records them; a failed delete is retried after the next."""
        for key in list(self.consumed):
            try:
                self.ctx.store.delete(key)
            except StoreError:
                return
            self.consumed.remove(key)

    # -- committing ------------------------------------------------------------------

    def _commit(self, event: dict[str, Any]) -> None:
        """Make the current state durable: a snapshot, a journal record, or both (hybrid)."""
        if self.held.lost:
            raise Fenced(f"lost the lease of {self.id}")
        event = dict(event, host=self.opts.host_id, at=time.time(), step=self._call_step())
        if self.restored is not None:
            event["restored"] = self.restored
            self.restored = None
        if self.mode != "snapshot":
            self._commit_journal(event)
        if self.unwound:
            self._commit_snapshot(event)
        self.log_buf.clear()
        self._delete_consumed()
        self.ctx.on_event(self.id, event)

    def _call_step(self) -> int:
        """The step the pending host call belongs to (resolved results count already)."""
        return self.step + (1 if self.pending is not None and self.pending["type"] == "wait" else 0)

    def _meta(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.pending is not None
        return {
            "step": self.step,
            "call_step": self._call_step(),
            "call": self.pending["call"],
            "pending": self.pending,
            "event": event,
            "cancel": self.cancel,
            "consumed": list(self.consumed),
            "output_len": len(self.out_buf),
            "epoch": self.held.lease.epoch,
            "journal_seq": self.journal_seq,
        }

    def _commit_snapshot(self, event: dict[str, Any]) -> None:
        assert self.instance is not None and self.writer is not None
        t0 = time.perf_counter()
        full = self.writer.next_is_full()
        meta = self._meta(event)
        meta["globals"] = self.instance.get_globals()
        blobs = {"result": self.result_blob, "log": bytes(self.log_buf)}
        if self.pending is not None and self.pending["type"] == "wait":
            blobs["input"] = self.pending_input
        enc = self.writer.encode(self.instance.regions(), meta, blobs, full=full, streams={"output": self.out_buf})
        encoded = time.perf_counter()
        self._put_create_only(keys.snap(self.id, enc.snapshot.seq), enc.data)
        self.writer.advance(enc)
        if enc.snapshot.kind == "full" and enc.snapshot.seq > 1 and self.opts.retain_chains > 0:
            self._prune_in_background()
        event.update(
            seq=enc.snapshot.seq,
            snapshot=enc.snapshot.kind,
            snapshot_bytes=len(enc.data),
            changed_chunks=enc.changed_chunks,
            encode_ms=round((encoded - t0) * 1000, 3),
            persist_ms=round((time.perf_counter() - t0) * 1000, 3),
        )

    def _prune_in_background(self) -> None:
        """Retention must not slow a step down; a prune that dies half-way is redone next time."""

        def work() -> None:
            try:
                report = retention.prune(self.ctx.store, self.id, self.opts.retain_chains)
                if report.deleted:
                    log.info("%s: pruned %d snapshot objects into %s", self.id, report.deleted, report.archive)
            except Exception:
                log.exception("%s: pruning old snapshots failed", self.id)

        threading.Thread(target=work, name=f"prune-{self.id}", daemon=True).start()

    def _commit_journal(self, event: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        seq = self.journal_seq + 1
        meta = self._meta(event)
        meta["plain"] = self.plain
        blobs = {"result": self.result_blob, "log": bytes(self.log_buf)}
        data = JournalRecord(seq, meta, blobs).encode()
        self._put_create_only(keys.journal(self.id, seq), data)
        self.journal_seq = seq
        self.plain = []
        event.update(journal_seq=seq, journal_bytes=len(data), journal_ms=round((time.perf_counter() - t0) * 1000, 3))

    def _put_create_only(self, key: str, data: bytes) -> None:
        store = self.ctx.store

        def put() -> None:
            try:
                store.put(key, data, create_only=True)
            except PreconditionFailed:
                # Our own earlier attempt may have landed before the connection broke.
                try:
                    if store.get(key) == data:
                        return
                except NotFound:
                    pass
                raise Fenced(f"{key} was committed by another host") from None

        self.ctx.retry(put, f"committing {key}")

    # -- the end ----------------------------------------------------------------------

    def _finish(self, code: int) -> Outcome:
        if self.cancel is not None:
            return self._terminal("cancelled", "", code)
        if code == 0:
            return self._terminal("completed", "", code)
        return self._terminal("failed", f"run() returned {code}", code)

    def _fail(self, error: str, commit: bool = True) -> Outcome:
        log.warning("%s failed: %s", self.id, error)
        self._drop_instance()
        if not commit:
            self.held.release()
            self.ctx.on_event(self.id, {"kind": "failed", "error": error})
            return Outcome(self.id, "failed", error)
        try:
            return self._terminal("failed", error, None)
        except (Fenced, PreconditionFailed) as e:
            return Outcome(self.id, "fenced", str(e))

    def _terminal(self, status: str, error: str, code: int | None) -> Outcome:
        store = self.ctx.store
        last = self.ctx.retry(lambda: chains.latest_seq(store, self.id), "listing snapshots")
        seq = last + 1
        event = {
            "kind": status,
            "exit_code": code,
            "error": error,
            "host": self.opts.host_id,
            "at": time.time(),
            "step": self.step,
        }
        meta = {
            "status": status,
            "exit_code": code,
            "error": error,
            "step": self.step,
            "event": event,
            "output_len": len(self.out_buf),
            "last_good_seq": last,
            "journal_seq": self.journal_seq,
        }
        snap = Snapshot(
            seq,
            self.record.module,
            "terminal",
            None,
            meta=meta,
            blobs={"output": bytes(self.out_buf), "log": bytes(self.log_buf)},
        )
        self._put_create_only(keys.snap(self.id, seq), snap.encode())
        self._drop_instance()
        self.held.release()
        self.ctx.on_event(self.id, event)
        return Outcome(self.id, status, error, output=bytes(self.out_buf), exit_code=code)

    # -- migration ---------------------------------------------------------------------

    def _migrate(self) -> Outcome:
        """Hand the execution to another host at a committed point."""
        stopped = time.time()  # the guest runs no more here: the pause starts
        target = self.migrate_to
        assert target is not None and self.pending is not None
        self.leaving = True
        if self.pending["type"] == "wait" and (not self.wait_committed or self.restored is not None):
            # Commit the wait (and any restore not yet on record) so the next host starts from here.
            self._commit({"kind": "migrating", "name": self.pending["call"]["name"], "to": target})
            self.wait_committed = True
        self.held.hand_off(target, stopped)
        self.ctx.retry(lambda: inbox.mark_due(self.ctx.store, self.id, inbox.NOW), "writing the due index")
        self._drop_instance()
        self.ctx.on_event(self.id, {"kind": "migrated", "to": target, "step": self._call_step()})
        return Outcome(self.id, "migrated", f"handed to {target}")


def open_execution(ctx: HostContext, execution_id: str, held: HeldLease) -> Execution:
    return Execution(ctx, read_execution(ctx.store, execution_id), held)


def acquire(ctx: HostContext, execution_id: str, *, steal_dead_local: bool = False) -> HeldLease:
    """Take the execution's lease for this host (LeaseBusy if a live host has it)."""
    may_steal = leases.holder_process_dead if steal_dead_local else None
    lease = ctx.retry(
        lambda: leases.acquire(
            ctx.store, execution_id, ctx.options.host_id, ctx.options.lease_ttl, may_steal=may_steal
        ),
        "taking the lease",
    )
    return HeldLease(ctx, execution_id, lease)
