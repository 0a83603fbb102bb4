"""What every experiment shares: the guest, stores, statistics, driving and crashing executions."""

from __future__ import annotations

import base64
import builtins
import hashlib
import math
import os
import shutil
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from runtime.activities import Registry
from runtime.engine import Engine
from runtime.executor import Execution, HostContext, HostOptions, Outcome, acquire
from snapshots import keys
from snapshots.chain import CompactionPolicy
from snapshots.file import FileStore
from snapshots.records import ExecutionRecord, create_execution
from snapshots.store import ObjectInfo, ObjectStore, PreconditionFailed

REPO = Path(__file__).resolve().parents[1]
GUEST_SOURCE = REPO / "benchmarks" / "guests" / "bench.c"
CACHE = Path(os.environ.get("TD_CACHE_DIR") or REPO / ".cache")
MODES = ("snapshot", "replay", "hybrid")
HYBRID_K = 16
KiB = 1024
MiB = 1024 * 1024
LEASE_TTL = 3600.0  # in-process runs hold their lease for the whole run; nothing renews it


# -- statistics ----------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    """Linear-interpolated quantile (q in 0..1) of a non-empty list."""
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def stats(values: list[float]) -> dict[str, float]:
    """median, p90, mean, min, max and n of `values` (NaNs when there are none)."""
    if not values:
        nan = float("nan")
        return {"median": nan, "p90": nan, "mean": nan, "min": nan, "max": nan, "n": 0}
    return {
        "median": statistics.median(values),
        "p90": quantile(values, 0.9),
        "mean": statistics.fmean(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


# -- parameters ----------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    """Sizes of the matrix: quick for a few minutes on 2 cores, full for the record."""

    overhead_steps: int
    overhead_repeats: int
    footprint_steps: int
    recovery_ns: tuple[int, ...]
    recovery_inproc_repeats: int
    recovery_child_repeats: int
    recovery_cli_repeats: int
    mem_sizes: tuple[int, ...]
    mem_steps: int
    mem_repeats: int
    throughput_levels: tuple[int, ...]
    throughput_steps: int
    throughput_repeats: int
    put_rtt_samples: int
    guest_mib: int = 1  # the guest of experiments 1-3 and 6
    guest_pages: int = 4  # pages it changes per step (target 1: <= 4)

    @classmethod
    def for_matrix(cls, quick: bool) -> Params:
        if quick:
            return cls(
                overhead_steps=200,
                overhead_repeats=3,
                footprint_steps=300,
                recovery_ns=(10, 100, 1000),
                recovery_inproc_repeats=3,
                recovery_child_repeats=3,
                recovery_cli_repeats=1,
                mem_sizes=(1, 16, 64),
                mem_steps=40,
                mem_repeats=3,
                throughput_levels=(1, 4, 16),
                throughput_steps=60,
                throughput_repeats=2,
                put_rtt_samples=50,
            )
        return cls(
            overhead_steps=600,
            overhead_repeats=5,
            footprint_steps=1000,
            recovery_ns=(10, 100, 1000, 10000),
            recovery_inproc_repeats=7,
            recovery_child_repeats=3,
            recovery_cli_repeats=1,
            mem_sizes=(1, 16, 64),
            mem_steps=120,
            mem_repeats=5,
            throughput_levels=(1, 4, 16),
            throughput_steps=200,
            throughput_repeats=3,
            put_rtt_samples=200,
        )


def guest_input(steps: int, mem: int = 1, pages: int = 4, compute: int = 0, fill: str = "random") -> str:
    return f"steps={steps} mem={mem} pages={pages} compute={compute} fill={fill}"


def pages_for_percent(mem_mib: int, percent: float) -> int:
    """How many 4 KiB pages are `percent` % of `mem_mib` MiB (at least one)."""
    return max(1, round(mem_mib * 256 * percent / 100))


# -- the guest -----------------------------------------------------------------------


@dataclass(frozen=True)
class Guest:
    path: Path
    wasm: bytes
    sha256: str


def build_guest(workdir: Path) -> Guest:
    from guest.toolchain import build

    out = workdir / "bench.wasm"
    report = build([GUEST_SOURCE], out, cache_dir=CACHE)
    return Guest(out, report.wasm, report.sha256)


def install(store: ObjectStore, guest: Guest) -> None:
    try:
        store.put(keys.module(guest.sha256), guest.wasm, create_only=True)
    except PreconditionFailed:
        pass


# -- stores --------------------------------------------------------------------------


@dataclass
class Namespace:
    """One empty corner of a store: the store object, and a URL a subprocess can open."""

    kind: str
    store: ObjectStore
    url: str
    env: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        """Free the space it took (file stores; S3 namespaces go with the server's directory)."""
        if self.kind == "file":
            rmtree(Path(self.url))


class StoreKind:
    """How to make fresh, empty namespaces of one kind of store."""

    name = ""
    env: dict[str, str]

    def fresh(self, label: str) -> Namespace:
        raise NotImplementedError


class NullKind(StoreKind):
    name = "null"

    def __init__(self) -> None:
        self.env = {}

    def fresh(self, label: str) -> Namespace:
        from benchmarks.nullstore import NullStore

        return Namespace(self.name, NullStore(), "null://")


class FileKind(StoreKind):
    name = "file"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {}

    def fresh(self, label: str) -> Namespace:
        path = self.root / f"{label}-{uuid.uuid4().hex[:8]}"
        return Namespace(self.name, FileStore(path), str(path))


class S3Kind(StoreKind):
    name = "s3"

    def __init__(self, endpoint: str, bucket: str, env: dict[str, str]) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        self.env = env

    def fresh(self, label: str) -> Namespace:
        from snapshots.url import open_store

        prefix = f"{label}-{uuid.uuid4().hex[:8]}"
        url = f"s3://{self.bucket}/{prefix}"
        return Namespace(self.name, open_store(url, s3_endpoint=self.endpoint), url, self.env)


def key_class(key: str) -> str:
    if key.startswith("modules/"):
        return "module"
    if key.startswith("executions/"):
        rest = key.split("/", 2)[2] if key.count("/") >= 2 else ""
        for cls in ("snap", "journal", "inbox", "history"):
            if rest.startswith(cls + "/"):
                return cls
        if rest == "lease.json":
            return "lease"
        if rest == "execution.json":
            return "execution"
    if key.startswith("due/"):
        return "due"
    return "other"


class CountingStore:
    """Wraps a store; counts requests and bytes by operation and key class, optionally timing reads."""

    def __init__(
        self,
        inner: ObjectStore,
        *,
        spans: dict[str, list[tuple[float, float]]] | None = None,
        capture_snapshots: bool = False,
    ) -> None:
        self.inner = inner
        self.captured: dict[str, bytes] | None = {} if capture_snapshots else None  # snap key -> bytes put
        self.url = inner.url
        self.requests: Counter[str] = Counter()  # "put:snap" -> count
        self.bytes: Counter[str] = Counter()  # "put:snap" -> bytes
        self.spans = spans  # "get"/"list" -> (start, end) perf_counter pairs of every read, when given
        self._lock = threading.Lock()

    def _count(self, op: str, key: str, n: int = 0) -> None:
        label = f"{op}:{key_class(key)}"
        with self._lock:
            self.requests[label] += 1
            self.bytes[label] += n

    def _span(self, op: str, t0: float) -> None:
        if self.spans is not None:
            t1 = time.perf_counter()
            with self._lock:
                self.spans.setdefault(op, []).append((t0, t1))

    def get(self, key: str) -> bytes:
        t0 = time.perf_counter()
        try:
            data = self.inner.get(key)
        finally:
            self._span("get", t0)
        self._count("get", key, len(data))
        return data

    def get_range(self, key: str, start: int, length: int) -> bytes:
        t0 = time.perf_counter()
        try:
            data = self.inner.get_range(key, start, length)
        finally:
            self._span("get", t0)
        self._count("get", key, len(data))
        return data

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        t0 = time.perf_counter()
        try:
            data, etag = self.inner.get_with_etag(key)
        finally:
            self._span("get", t0)
        self._count("get", key, len(data))
        return data, etag

    def put(self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None) -> str:
        self._count("put", key, len(data))
        etag = self.inner.put(key, data, create_only=create_only, if_match=if_match)
        if self.captured is not None and key_class(key) == "snap":
            with self._lock:
                self.captured[key] = bytes(data)
        return etag

    def list(self, prefix: str, start_after: str = "") -> Iterator[ObjectInfo]:
        t0 = time.perf_counter()
        try:
            found = list(self.inner.list(prefix, start_after))
        finally:
            self._span("list", t0)
        self._count("list", prefix)
        return iter(found)

    def list_prefixes(self, prefix: str) -> builtins.list[str]:
        t0 = time.perf_counter()
        try:
            return self.inner.list_prefixes(prefix)
        finally:
            self._span("list", t0)
            self._count("list", prefix)

    def delete(self, key: str) -> None:
        self._count("delete", key)
        self.inner.delete(key)

    def total(self, op: str, classes: tuple[str, ...] | None = None) -> tuple[int, int]:
        """(requests, bytes) of one operation, over the given key classes (all when None)."""
        n = b = 0
        for label, count in self.requests.items():
            o, cls = label.split(":", 1)
            if o == op and (classes is None or cls in classes):
                n += count
                b += self.bytes[label]
        return n, b


# -- the bench context ---------------------------------------------------------------


@dataclass
class Bench:
    """Everything an experiment needs; one per `python -m benchmarks.run`."""

    quick: bool
    params: Params
    workdir: Path
    outdir: Path
    console: Console
    engine: Engine
    registry: Registry
    guest: Guest
    stores: dict[str, StoreKind]  # "file", "s3" (when SeaweedFS is up), "null"
    notes: list[str] = field(default_factory=list)
    profile_always: bool = False

    @property
    def durable_stores(self) -> list[str]:
        return [name for name in ("file", "s3") if name in self.stores]

    def log(self, message: str) -> None:
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}", highlight=False)

    def context(
        self,
        store: ObjectStore,
        host: str = "bench-host",
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> HostContext:
        options = HostOptions(host, lease_ttl=LEASE_TTL, compaction=CompactionPolicy())
        return HostContext(store, self.engine, self.registry, options, on_event=on_event)


# -- driving executions ----------------------------------------------------------------


@dataclass
class Run:
    execution_id: str
    outcome: Outcome
    events: list[dict[str, Any]]  # every event, with "_t" (perf_counter when it was emitted)
    wall_s: float

    @property
    def steps(self) -> list[dict[str, Any]]:
        """Committed activity steps, in order."""
        return [e for e in self.events if e.get("kind") == "activity"]


class EventLog:
    """Collects events per execution id, stamped with perf_counter; thread-safe."""

    def __init__(self) -> None:
        self.by_id: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def __call__(self, execution_id: str, event: dict[str, Any]) -> None:
        stamped = dict(event, _t=time.perf_counter())
        with self._lock:
            self.by_id.setdefault(execution_id, []).append(stamped)


def create(store: ObjectStore, guest: Guest, execution_id: str, text: str, mode: str) -> ExecutionRecord:
    install(store, guest)
    record, _ = create_execution(
        store,
        ExecutionRecord(
            execution_id,
            guest.sha256,
            base64.b64encode(text.encode()).decode(),
            mode=mode,  # type: ignore[arg-type]
            snapshot_every=HYBRID_K if mode == "hybrid" else 1,
        ),
    )
    return record


def run_execution(
    bench: Bench,
    store: ObjectStore,
    execution_id: str,
    text: str,
    mode: str,
    *,
    ctx: HostContext | None = None,
    log: EventLog | None = None,
    execution_cls: type[Execution] = Execution,
) -> Run:
    """Create an execution and drive it to its end in this thread."""
    log = log or EventLog()
    ctx = ctx or bench.context(store, on_event=log)
    record = create(store, bench.guest, execution_id, text, mode)
    t0 = time.perf_counter()
    outcome = execution_cls(ctx, record, acquire(ctx, execution_id)).run()
    wall = time.perf_counter() - t0
    wait_for_prunes(execution_id)
    if outcome.status != "completed":
        raise RuntimeError(f"{execution_id} ({mode}) ended {outcome.status}: {outcome.detail}")
    return Run(execution_id, outcome, log.by_id.get(execution_id, []), wall)


def wait_for_prunes(execution_id: str = "", timeout: float = 120.0) -> None:
    """Join the executor's background retention threads ("prune-<id>") of `execution_id` (all when "").

    Retention prunes old chains in the background after a full image; a store is
    only looked at, timed or truncated once they are done."""
    deadline = time.monotonic() + timeout
    for t in threading.enumerate():
        if t.name.startswith(f"prune-{execution_id}") and t is not threading.current_thread():
            t.join(max(0.0, deadline - time.monotonic()))


def step_times_ms(steps: list[dict[str, Any]], skip: int = 1) -> list[float]:
    """Milliseconds between consecutive committed steps, after the first `skip` steps."""
    ts = [e["_t"] for e in steps]
    return [(b - a) * 1000 for a, b in zip(ts[skip:], ts[skip + 1 :], strict=False)]


# -- crashes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CrashPoint:
    """What a store holds right after step `step` committed: the newest snapshot and journal seqs."""

    step: int
    snap_seq: int
    journal_seq: int


def crash_point(steps: list[dict[str, Any]], step: int) -> CrashPoint:
    snap = journal = 0
    for e in steps:
        if int(e["step"]) > step:
            break
        snap = int(e.get("seq") or snap)
        journal = int(e.get("journal_seq") or journal)
    return CrashPoint(step, snap, journal)


def truncate(store: ObjectStore, execution_id: str, point: CrashPoint) -> int:
    """Make the store look as if the host died right after `point` committed; returns objects deleted.

    Deletes later snapshot and journal objects (the terminal record among them),
    the lease, inbox entries and the execution's due entries. History archives
    (retention's record of pruned chains) stay: no restore reads them."""
    doomed: list[str] = []
    for obj in store.list(keys.execution_prefix(execution_id)):
        cls = key_class(obj.key)
        if (
            (cls == "snap" and keys.seq_of(obj.key) > point.snap_seq)
            or (cls == "journal" and keys.seq_of(obj.key) > point.journal_seq)
            or cls in ("lease", "inbox")
        ):
            doomed.append(obj.key)
    doomed += [o.key for o in store.list(keys.DUE_PREFIX) if o.key.endswith("-" + execution_id)]
    if len(doomed) > 8:
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(store.delete, doomed))
    else:
        for key in doomed:
            store.delete(key)
    return len(doomed)


def drop_lease(store: ObjectStore, execution_id: str) -> None:
    store.delete(keys.lease(execution_id))


def store_size(store: ObjectStore, prefix: str) -> tuple[int, int]:
    """(objects, bytes) under `prefix`."""
    n = b = 0
    for obj in store.list(prefix):
        n += 1
        b += obj.size
    return n, b


def rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
