"""Snapshot chains: skip-deltas with a compaction policy, and their restore.

A chain starts with a full image at position 0 and continues with deltas. The
delta at position p is taken against position `p & (p - 1)` (p with its lowest
set bit cleared) - Subversion's skip-deltas. So:

- a restore of position p reads the full image plus one object per set bit of
  p: at most log2(max_chain) + 1 objects, however many steps ran;
- every step is still one object (one PUT); odd positions carry one step's
  changes, and position 2^k carries the changes of the last 2^k steps, so a
  page changed at every step is written about log2(p) / 2 times on average;
- a new full image starts the next chain when the position reaches
  `max_chain`, or when the objects a restore would read outweigh the full
  image (`max_path_ratio`).

A full image holds every chunk that differs from the *pristine* image (the
region as a fresh instance has it), so the restorer starts from a fresh
instance and applies the path in order.
"""

from __future__ import annotations

from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import xxhash

from snapshots import keys
from snapshots.delta import (
    CHUNK,
    SUPER,
    ZERO_CHUNK_HASH,
    Hasher,
    RegionState,
    changed,
    chunk_hashes,
    gather,
    scatter,
    super_digest,
    super_hashes,
    to_ranges,
)
from snapshots.format import HEADER_PROBE, Region, Snapshot, decode_header
from snapshots.store import CorruptObject, NotFound, ObjectInfo, ObjectStore

FETCH_THREADS = 16


def base_position(p: int) -> int:
    """The chain position the delta at `p` is taken against."""
    return p & (p - 1)


def restore_path(p: int) -> list[int]:
    """Positions a restore of `p` reads, oldest first: [0, ..., p]."""
    path = [p]
    while p:
        p = base_position(p)
        path.append(p)
    return path[::-1]


@dataclass(frozen=True)
class CompactionPolicy:
    max_chain: int = 1024  # positions per chain: a restore reads <= log2(max_chain) + 1 objects
    max_path_ratio: float = 1.0  # start a new chain when a restore would read more than this x the full image


def list_snapshots(store: ObjectStore, execution_id: str) -> list[ObjectInfo]:
    return list(store.list(keys.snap_prefix(execution_id)))


def latest_seq(store: ObjectStore, execution_id: str) -> int:
    """The newest committed seq, 0 when there is none."""
    objs = list_snapshots(store, execution_id)
    return keys.seq_of(objs[-1].key) if objs else 0


def read_header(store: ObjectStore, key: str, magic: bytes) -> dict[str, Any]:
    """Just the header of a snapshot or journal object (a ranged read)."""
    header = decode_header(key, store.get_range(key, 0, HEADER_PROBE), magic)
    if isinstance(header, int):
        header = decode_header(key, store.get_range(key, 0, header), magic)
        if isinstance(header, int):
            raise CorruptObject(key, "header runs past the end of the object")
    return header


def read_snapshot(store: ObjectStore, execution_id: str, seq: int) -> Snapshot:
    key = keys.snap(execution_id, seq)
    try:
        snap = Snapshot.decode(key, store.get(key))
    except NotFound:
        raise CorruptObject(key, "snapshot object is missing") from None
    if snap.seq != seq:
        raise CorruptObject(key, f"holds seq {snap.seq}")
    return snap


@dataclass
class LoadedChain:
    snapshots: list[Snapshot]  # the restore path, oldest (the full image) first
    sizes: list[int]  # stored bytes of each object, same order

    @property
    def latest(self) -> Snapshot:
        return self.snapshots[-1]

    def stream(self, name: str) -> bytes:
        """An append-only stream (see SnapshotWriter.encode), whole: its pieces along the path."""
        return b"".join(s.blobs.get(name, b"") for s in self.snapshots)

    @property
    def objects_read(self) -> int:
        return len(self.snapshots)

    @property
    def bytes_read(self) -> int:
        return sum(self.sizes)


def load_chain(store: ObjectStore, execution_id: str, seq: int) -> LoadedChain:
    """Read snapshot `seq` and the objects its restore needs, verifying each."""
    last_key = keys.snap(execution_id, seq)
    try:
        raw_last = store.get(last_key)
    except NotFound:
        raise CorruptObject(last_key, "snapshot object is missing") from None
    last = Snapshot.decode(last_key, raw_last)
    if last.kind == "terminal" or last.full_seq is None:
        return LoadedChain([last], [len(raw_last)])
    full_seq = last.full_seq
    if not 0 < full_seq <= seq:
        raise CorruptObject(last_key, f"names full image {full_seq}, outside 1..{seq}")
    seqs = [full_seq + p for p in restore_path(seq - full_seq)]

    def fetch(s: int) -> tuple[Snapshot, int]:
        key = keys.snap(execution_id, s)
        try:
            raw = store.get(key)
        except NotFound:
            raise CorruptObject(key, f"snapshot object is missing (needed to restore seq {seq})") from None
        return Snapshot.decode(key, raw), len(raw)

    with ThreadPoolExecutor(max_workers=min(FETCH_THREADS, max(1, len(seqs) - 1))) as pool:
        fetched = list(pool.map(fetch, seqs[:-1]))
    fetched.append((last, len(raw_last)))
    for want_seq, (snap, _) in zip(seqs, fetched, strict=True):
        key = keys.snap(execution_id, want_seq)
        pos = want_seq - full_seq
        want_kind = "full" if pos == 0 else "delta"
        want_base = None if pos == 0 else full_seq + base_position(pos)
        if snap.seq != want_seq or snap.kind != want_kind or snap.full_seq != full_seq or snap.base_seq != want_base:
            raise CorruptObject(
                key,
                f"is {snap.kind} seq {snap.seq} (chain {snap.full_seq}, base {snap.base_seq}); "
                f"the restore of {seq} needs {want_kind} seq {want_seq} (chain {full_seq}, base {want_base})",
            )
    return LoadedChain([s for s, _ in fetched], [n for _, n in fetched])


@dataclass
class Restored:
    """Region states along the restored path: what a writer needs to continue the chain."""

    path_states: dict[int, dict[str, RegionState]]  # chain position -> region states
    path_sizes: dict[int, int]
    path_streams: dict[int, dict[str, int]]  # chain position -> stream lengths
    hashers: dict[str, Hasher]  # seeded with the restored regions, for the next snapshot


def apply_chain(
    execution_id: str, loaded: LoadedChain, targets: dict[str, memoryview], pristine: dict[str, array]
) -> Restored:
    """Write the path's pages into `targets` (a fresh instance grown to the newest sizes) and verify them."""
    running = {name: array("Q", pristine.get(name, array("Q"))) for name in targets}
    states: dict[int, dict[str, RegionState]] = {}
    sizes: dict[int, int] = {}
    streams: dict[int, dict[str, int]] = {}
    stream_lens: dict[str, int] = {}
    full_seq = loaded.snapshots[0].seq
    for snap, size in zip(loaded.snapshots, loaded.sizes, strict=True):
        pos = 0
        pages = memoryview(snap.pages)
        at: dict[str, RegionState] = {}
        for name, region in snap.regions.items():
            n = sum(c for _, c in region.runs) * CHUNK
            data = pages[pos : pos + n]
            try:
                scatter(targets[name], region.runs, data)
            except (KeyError, ValueError) as e:
                raise CorruptObject(keys.snap(execution_id, snap.seq), f"cannot apply region {name}: {e}") from None
            hashes = running[name]
            want = region.size // CHUNK
            if len(hashes) < want:
                hashes.extend([ZERO_CHUNK_HASH] * (want - len(hashes)))
            k = 0
            for start, count in region.runs:
                for i in range(start, start + count):
                    hashes[i] = xxhash.xxh3_64_intdigest(data[k * CHUNK : (k + 1) * CHUNK])
                    k += 1
            at[name] = RegionState(array("Q", hashes[:want]))
            pos += n
        for name in snap.meta.get("streams", []):
            stream_lens[name] = stream_lens.get(name, 0) + len(snap.blobs.get(name, b""))
        states[snap.seq - full_seq] = at
        sizes[snap.seq - full_seq] = size
        streams[snap.seq - full_seq] = dict(stream_lens)
    last = loaded.latest
    key = keys.snap(execution_id, last.seq)
    hashers = {}
    for name, region in last.regions.items():
        view = targets[name][: region.size]
        applied = states[last.seq - full_seq][name]  # hashes of the bytes the chain wrote
        if applied.digest != region.digest:
            raise CorruptObject(key, f"region {name} rebuilds to digest {applied.digest}, recorded {region.digest}")
        # Then memory itself, in 64 KiB super-chunks: proves the bytes really landed where they belong.
        supers = super_hashes(view) if region.size % SUPER == 0 else None
        if supers is None or super_digest(supers) != region.super_digest:
            # Not page-sized, or no super digest recorded (an older writer): check every chunk.
            actual = RegionState(chunk_hashes(view))
            if actual.digest != region.digest:
                raise CorruptObject(key, f"restored region {name} has digest {actual.digest}, recorded {region.digest}")
        hashers[name] = Hasher()
        if supers is not None:
            hashers[name].seed(supers, applied.hashes)
    return Restored(states, sizes, streams, hashers)


@dataclass
class Encoded:
    """A snapshot ready to commit, and the region states it commits."""

    snapshot: Snapshot
    data: bytes
    states: dict[str, RegionState]
    changed_chunks: int
    stream_lens: dict[str, int] = field(default_factory=dict)


@dataclass
class SnapshotWriter:
    """Turns region views into the next snapshot of an execution's chain."""

    execution_id: str
    module: str
    pristine: dict[str, array]  # chunk hashes of each region in a fresh instance
    policy: CompactionPolicy = field(default_factory=CompactionPolicy)
    seq: int = 0  # last committed seq (0: none)
    full_seq: int | None = None
    states: dict[int, dict[str, RegionState]] = field(default_factory=dict)  # position -> states, on the live path
    sizes: dict[int, int] = field(default_factory=dict)  # position -> stored bytes, on the live path
    streams: dict[int, dict[str, int]] = field(default_factory=dict)  # position -> stream lengths, on the live path
    hashers: dict[str, Hasher] = field(default_factory=dict)

    def _next_position(self) -> int:
        return self.seq + 1 - self.full_seq if self.full_seq is not None else 0

    def next_is_full(self) -> bool:
        p = self._next_position()
        if self.full_seq is None or p >= self.policy.max_chain or base_position(p) not in self.states:
            return True
        path_bytes = sum(self.sizes.get(q, 0) for q in restore_path(base_position(p)) if q)
        return path_bytes > self.policy.max_path_ratio * max(self.sizes.get(0, 0), 64 * 1024)

    def encode(
        self,
        views: dict[str, memoryview],
        meta: dict[str, Any],
        blobs: dict[str, bytes],
        *,
        full: bool,
        streams: dict[str, bytes | bytearray] | None = None,
    ) -> Encoded:
        """Encode the next snapshot. `streams` are append-only byte sequences (an output, say):
        each object carries what was appended since its base, so the path holds them whole."""
        seq = self.seq + 1
        base_pos = base_position(self._next_position())
        base_states = {} if full else self.states[base_pos]
        stream_lens = {}
        blobs = dict(blobs)
        for name, data in (streams or {}).items():
            start = 0 if full else self.streams.get(base_pos, {}).get(name, 0)
            blobs[name] = bytes(data[start:])
            stream_lens[name] = len(data)
        meta = dict(meta, streams=sorted(stream_lens))
        regions, parts, states = {}, [], {}
        changed_chunks = 0
        for name, view in views.items():
            hasher = self.hashers.setdefault(name, Hasher())
            hashes = hasher.hashes(view)
            base = self.pristine.get(name, array("Q")) if full else base_states[name].hashes
            runs = to_ranges(changed(hashes, base, ZERO_CHUNK_HASH))
            parts.append(gather(view, runs))
            states[name] = RegionState(hashes)
            regions[name] = Region(len(view), runs, states[name].digest, hasher.super_digest)
            changed_chunks += sum(c for _, c in runs)
        snap = Snapshot(
            seq=seq,
            module=self.module,
            kind="full" if full else "delta",
            full_seq=seq if full else self.full_seq,
            base_seq=None if full else self.full_seq + base_position(self._next_position()),  # type: ignore[operator]
            regions=regions,
            meta=meta,
            blobs=blobs,
            pages=b"".join(parts),
        )
        return Encoded(snap, snap.encode(), states, changed_chunks, stream_lens)

    def advance(self, enc: Encoded) -> None:
        """Record `enc` as committed (after its create-only write succeeded)."""
        snap = enc.snapshot
        self.seq = snap.seq
        if snap.kind == "terminal":
            return
        if snap.kind == "full":
            self.full_seq = snap.seq
        p = snap.seq - self.full_seq  # type: ignore[operator]
        keep = set(restore_path(p))
        self.states = {q: s for q, s in self.states.items() if q in keep}
        self.sizes = {q: s for q, s in self.sizes.items() if q in keep}
        self.streams = {q: s for q, s in self.streams.items() if q in keep}
        self.states[p] = enc.states
        self.sizes[p] = len(enc.data)
        self.streams[p] = enc.stream_lens

    @classmethod
    def resume(
        cls,
        execution_id: str,
        module: str,
        pristine: dict[str, array],
        loaded: LoadedChain,
        restored: Restored,
        policy: CompactionPolicy,
    ) -> SnapshotWriter:
        """A writer that continues a restored chain."""
        last = loaded.latest
        return cls(
            execution_id,
            module,
            pristine,
            policy,
            last.seq,
            last.full_seq,
            restored.path_states,
            restored.path_sizes,
            restored.path_streams,
            restored.hashers,
        )
