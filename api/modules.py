"""Installing modules into a store: prepare (if needed), then a create-only, content-addressed put."""

from __future__ import annotations

from guest.toolchain import PrepareReport, prepare
from guest.toolchain.prepare import DEFAULT_MAX_MODULE_BYTES
from snapshots import keys
from snapshots.store import ObjectStore, PreconditionFailed


def install_module(
    store: ObjectStore, wasm: bytes, max_bytes: int = DEFAULT_MAX_MODULE_BYTES, *, isolated: bool = False
) -> PrepareReport:
    """Store the snapshot-ready form of `wasm` under modules/<sha256>.wasm; returns what prepare found.

    `isolated` runs the Binaryen transform in a child process: a module that makes
    libbinaryen abort then costs a failed upload, not the server."""
    report = prepare(wasm, max_bytes, isolated=isolated)
    try:
        store.put(keys.module(report.sha256), report.wasm, create_only=True)
    except PreconditionFailed:
        pass  # content-addressed: the same bytes are there already
    return report
