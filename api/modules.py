"""Installing modules into a store: prepare (if needed), then a create-only, content-addressed put."""

from __future__ import annotations

from guest.toolchain import PrepareReport, prepare
from snapshots import keys
from snapshots.store import ObjectStore, PreconditionFailed


def install_module(store: ObjectStore, wasm: bytes, max_bytes: int | None = None) -> PrepareReport:
    """Store the snapshot-ready form of `wasm` under modules/<sha256>.wasm; returns what prepare found."""
    report = prepare(wasm) if max_bytes is None else prepare(wasm, max_bytes)
    try:
        store.put(keys.module(report.sha256), report.wasm, create_only=True)
    except PreconditionFailed:
        pass  # content-addressed: the same bytes are there already
    return report
