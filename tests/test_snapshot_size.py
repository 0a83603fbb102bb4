"""Snapshots carry only changed pages, and restore cost does not grow with the step count."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from engine_helpers import start
from snapshots import chain
from snapshots.file import FileStore

KiB = 1024
STEPS = 2000


def test_bytes_per_step_and_restore_objects(wasm: dict[str, Path], tmp_path: Path) -> None:
    # 16 MiB of incompressible memory; one page changes per step.
    policy = chain.CompactionPolicy()
    out = start(tmp_path / "s", wasm["bench"], "b", f"steps={STEPS} mem=16 pages=1 fill=random", policy=policy)
    assert out.status == "completed", out.detail
    store = FileStore(tmp_path / "s")
    objs = chain.list_snapshots(store, "b")[:-1]  # minus the terminal record
    assert len(objs) == STEPS

    headers = [chain.read_snapshot(store, "b", i + 1) for i in range(len(objs))]
    fulls = [o.size for o, h in zip(objs, headers, strict=True) if h.kind == "full"]
    deltas = [o.size for o, h in zip(objs, headers, strict=True) if h.kind == "delta"]
    # A full image holds the 16 MiB; it is written once per chain, not per step.
    assert len(fulls) == math.ceil(STEPS / policy.max_chain)
    assert all(f > 16 * 1024 * KiB for f in fulls)
    # Per step: one changed page (4 KiB, random) plus stack and bookkeeping.
    assert statistics.median(deltas) <= 2 * 4 * KiB, statistics.median(deltas)
    # Skip-deltas rewrite a page once per level: still a small multiple of a page on average.
    assert sum(deltas) / len(deltas) <= 8 * 4 * KiB, sum(deltas) / len(deltas)

    # Restore reads one object per set bit of the chain position, plus the full image:
    # bounded by the policy (11 objects for chains of 1024), the same bound at step 20 as at 2000.
    bound = int(math.log2(policy.max_chain)) + 1
    loaded = {n: chain.load_chain(store, "b", n) for n in (20, 1000, 1500, STEPS)}
    reads = {n: c.objects_read for n, c in loaded.items()}
    assert all(r <= bound for r in reads.values()), reads
    assert reads[STEPS] <= bound
    # Bytes read stay within twice the memory image, however many steps ran.
    assert loaded[STEPS].bytes_read <= 2 * max(fulls), loaded[STEPS].bytes_read
