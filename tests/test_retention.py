"""Retention keeps the newest chains, archives the rest into history, and restores still work."""

from __future__ import annotations

from pathlib import Path

from conftest import wait_for
from engine_helpers import resume, start, truncated_copy
from runtime.observe import history
from snapshots import chain
from snapshots.file import FileStore
from snapshots.retention import prune

POLICY = chain.CompactionPolicy(max_chain=8)


def test_old_chains_are_pruned_into_history(wasm: dict[str, Path], tmp_path: Path) -> None:
    out = start(tmp_path / "s", wasm["bench"], "b", "steps=40 mem=1 pages=1", policy=POLICY)
    assert out.status == "completed"
    store = FileStore(tmp_path / "s")
    # Pruning runs in the background after each new full image.
    wait_for(lambda: len(chain.list_snapshots(store, "b")) <= 2 * 8 + 1, timeout=10, what="the background prune")
    objs = chain.list_snapshots(store, "b")
    assert len(objs) <= 2 * 8 + 1  # two chains of 8 and the terminal record
    rows = history(store, "b")
    assert [r.step for r in rows if r.kind == "activity"] == list(range(1, 41))  # the story is whole
    assert prune(store, "b").deleted == 0  # idempotent


def test_restore_after_pruning(wasm: dict[str, Path], tmp_path: Path) -> None:
    ref = start(tmp_path / "ref", wasm["bench"], "b", "steps=40 mem=1 pages=1", policy=POLICY)
    copy = truncated_copy(tmp_path / "ref", tmp_path / "cut", "b", 100)  # drops only the terminal record
    store = FileStore(copy)
    objs = chain.list_snapshots(store, "b")
    (copy / objs[-1].key).unlink()  # and the last step: the restore needs the pruned store's newest chain
    report = prune(store, "b", keep_chains=1)
    assert report.deleted > 0 and report.archive
    out, _ = resume(copy, "b", policy=POLICY)
    assert out.status == "completed" and out.output == ref.output
