"""Snapshot chains: writing deltas with a compaction policy, and restoring them.

A chain is one full image followed by deltas, each delta relative to the
previous snapshot. A full image holds every chunk that differs from the
*pristine* image (the region as a fresh instance has it), so the restorer
starts from a fresh instance and applies the chain in order. The policy writes
a new full image when the chain gets long or heavy, so a restore reads at most
`max_chain` + 1 objects, whatever the number of steps.
"""

from __future__ import annotations

from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from snapshots import keys
from snapshots.delta import CHUNK, ZERO_CHUNK_HASH, RegionState, changed, chunk_hashes, gather, scatter, to_ranges
from snapshots.format import Region, Snapshot, SnapshotKind
from snapshots.store import CorruptObject, NotFound, ObjectInfo, ObjectStore

FETCH_THREADS = 16


@dataclass(frozen=True)
class CompactionPolicy:
    max_chain: int = 32  # deltas after a full image before the next full one
    max_chain_ratio: float = 1.0  # ... or when the deltas outweigh the last full image by this factor


@dataclass
class ChainState:
    """What the writer knows about the chain it extends."""

    seq: int = 0  # last committed seq (0: nothing yet)
    full_seq: int | None = None
    chain_len: int = 0  # deltas since full_seq
    chain_bytes: int = 0  # their stored size
    full_bytes: int = 0  # stored size of the full image


def list_snapshots(store: ObjectStore, execution_id: str) -> list[ObjectInfo]:
    return list(store.list(keys.snap_prefix(execution_id)))


def latest_seq(store: ObjectStore, execution_id: str) -> int:
    """The newest committed seq, 0 when there is none."""
    objs = list_snapshots(store, execution_id)
    return keys.seq_of(objs[-1].key) if objs else 0


def read_snapshot(store: ObjectStore, execution_id: str, seq: int) -> Snapshot:
    key = keys.snap(execution_id, seq)
    snap = Snapshot.decode(key, store.get(key))
    if snap.seq != seq:
        raise CorruptObject(key, f"holds seq {snap.seq}")
    return snap


@dataclass
class LoadedChain:
    snapshots: list[Snapshot]
    sizes: list[int]  # stored bytes of each object, same order

    @property
    def objects_read(self) -> int:
        return len(self.snapshots)

    @property
    def bytes_read(self) -> int:
        return sum(self.sizes)

    @property
    def latest(self) -> Snapshot:
        return self.snapshots[-1]


def load_chain(store: ObjectStore, execution_id: str, seq: int) -> LoadedChain:
    """Read snapshot `seq` and everything it depends on, verifying each object."""
    last_key = keys.snap(execution_id, seq)
    try:
        raw_last = store.get(last_key)
    except NotFound:
        raise CorruptObject(last_key, "snapshot object is missing") from None
    last = Snapshot.decode(last_key, raw_last)
    if last.kind == "terminal" or last.full_seq is None:
        return LoadedChain([last], [len(raw_last)])
    if not 0 < last.full_seq <= seq:
        raise CorruptObject(last_key, f"names full image {last.full_seq}, outside 1..{seq}")
    wanted = list(range(last.full_seq, seq))

    def fetch(s: int) -> tuple[Snapshot, int]:
        key = keys.snap(execution_id, s)
        try:
            raw = store.get(key)
        except NotFound:
            raise CorruptObject(key, f"snapshot object is missing (needed to restore seq {seq})") from None
        return Snapshot.decode(key, raw), len(raw)

    with ThreadPoolExecutor(max_workers=min(FETCH_THREADS, max(1, len(wanted)))) as pool:
        fetched = list(pool.map(fetch, wanted))
    chain = [s for s, _ in fetched] + [last]
    for expect, snap in enumerate(chain, start=last.full_seq):
        key = keys.snap(execution_id, expect)
        if snap.seq != expect:
            raise CorruptObject(key, f"holds seq {snap.seq}")
        want_kind = "full" if expect == last.full_seq else "delta"
        if snap.kind != want_kind or snap.full_seq != last.full_seq:
            raise CorruptObject(key, f"is a {snap.kind} of chain {snap.full_seq}, expected a {want_kind} of {last.full_seq}")
    return LoadedChain(chain, [n for _, n in fetched] + [len(raw_last)])


def apply_chain(
    execution_id: str, chain: list[Snapshot], targets: dict[str, memoryview]
) -> dict[str, RegionState]:
    """Write the chain's pages into `targets` (pristine, sized as the newest snapshot says) and verify."""
    last = chain[-1]
    for snap in chain:
        pos = 0
        pages = memoryview(snap.pages)
        for name, region in snap.regions.items():
            n = sum(c for _, c in region.runs) * CHUNK
            try:
                scatter(targets[name], region.runs, pages[pos : pos + n])
            except (KeyError, ValueError) as e:
                raise CorruptObject(keys.snap(execution_id, snap.seq), f"cannot apply region {name}: {e}") from None
            pos += n
    states = {}
    for name, region in last.regions.items():
        state = RegionState(chunk_hashes(targets[name]))
        if state.digest != region.digest:
            raise CorruptObject(
                keys.snap(execution_id, last.seq),
                f"restored region {name} has digest {state.digest}, the snapshot recorded {region.digest}",
            )
        states[name] = state
    return states


@dataclass
class Encoded:
    """A snapshot ready to commit, and the region states it commits."""

    snapshot: Snapshot
    data: bytes
    states: dict[str, RegionState]
    changed_chunks: int


@dataclass
class SnapshotWriter:
    """Turns region views into the next snapshot of an execution's chain."""

    execution_id: str
    module: str
    pristine: dict[str, array]  # chunk hashes of each region in a fresh instance
    policy: CompactionPolicy = field(default_factory=CompactionPolicy)
    chain: ChainState = field(default_factory=ChainState)
    committed: dict[str, RegionState] = field(default_factory=dict)

    def next_is_full(self) -> bool:
        c, p = self.chain, self.policy
        if c.full_seq is None or not self.committed:
            return True
        if c.chain_len >= p.max_chain:
            return True
        return c.chain_bytes > p.max_chain_ratio * max(c.full_bytes, 64 * 1024)

    def encode(
        self,
        views: dict[str, memoryview],
        meta: dict[str, Any],
        blobs: dict[str, bytes],
        *,
        full: bool,
    ) -> Encoded:
        seq = self.chain.seq + 1
        regions = {}
        parts: list[bytes] = []
        states: dict[str, RegionState] = {}
        changed_chunks = 0
        for name, view in views.items():
            hashes = chunk_hashes(view)
            base = self.pristine.get(name, array("Q")) if full else self.committed[name].hashes
            idx = changed(hashes, base, ZERO_CHUNK_HASH)
            runs = to_ranges(idx)
            parts.append(gather(view, runs))
            state = RegionState(hashes)
            states[name] = state
            regions[name] = Region(len(view), runs, state.digest)
            changed_chunks += len(idx)
        kind: SnapshotKind = "full" if full else "delta"
        snap = Snapshot(
            seq=seq,
            module=self.module,
            kind=kind,
            full_seq=seq if full else self.chain.full_seq,
            regions=regions,
            meta=meta,
            blobs=blobs,
            pages=b"".join(parts),
        )
        return Encoded(snap, snap.encode(), states, changed_chunks)

    def encode_terminal(self, meta: dict[str, Any], blobs: dict[str, bytes]) -> Encoded:
        snap = Snapshot(seq=self.chain.seq + 1, module=self.module, kind="terminal", full_seq=None, meta=meta, blobs=blobs)
        return Encoded(snap, snap.encode(), {}, 0)

    def commit(self, store: ObjectStore, enc: Encoded) -> None:
        """Create-only write; PreconditionFailed means another writer owns this seq."""
        store.put(keys.snap(self.execution_id, enc.snapshot.seq), enc.data, create_only=True)
        self.advance(enc)

    def advance(self, enc: Encoded) -> None:
        """Record `enc` as committed (after a successful write)."""
        snap, c = enc.snapshot, self.chain
        c.seq = snap.seq
        if snap.kind == "full":
            c.full_seq, c.chain_len, c.chain_bytes, c.full_bytes = snap.seq, 0, 0, len(enc.data)
        elif snap.kind == "delta":
            c.chain_len += 1
            c.chain_bytes += len(enc.data)
        if enc.states:
            self.committed = enc.states

    @classmethod
    def resume(
        cls,
        execution_id: str,
        module: str,
        pristine: dict[str, array],
        loaded: LoadedChain,
        states: dict[str, RegionState],
        policy: CompactionPolicy,
    ) -> SnapshotWriter:
        """A writer that continues a restored chain."""
        last = loaded.latest
        chain = ChainState(
            seq=last.seq,
            full_seq=last.full_seq,
            chain_len=len(loaded.snapshots) - 1,
            chain_bytes=sum(loaded.sizes[1:]),
            full_bytes=loaded.sizes[0],
        )
        return cls(execution_id, module, pristine, policy, chain, states)

