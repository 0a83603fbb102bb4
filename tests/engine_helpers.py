"""In-process helpers for tests that drive the executor directly (no subprocess)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import time
from pathlib import Path

from conftest import ACTIVITIES, CACHE
from runtime.activities import Registry
from runtime.engine import Engine
from runtime.executor import Execution, HostContext, HostOptions, Outcome, acquire
from snapshots import keys
from snapshots.chain import CompactionPolicy
from snapshots.file import FileStore
from snapshots.records import ExecutionRecord, create_execution, read_execution

_engine = Engine(CACHE)
_registry: Registry | None = None


def registry() -> Registry:
    global _registry
    if _registry is None:
        _registry = Registry([ACTIVITIES])
    return _registry


def context(store_dir: Path, host: str = "test-host", **options: object) -> HostContext:
    opts = HostOptions(host, lease_ttl=0.05, **options)  # type: ignore[arg-type]
    return HostContext(FileStore(store_dir), _engine, registry(), opts)


def start(
    store_dir: Path,
    wasm: Path,
    execution_id: str,
    text: str,
    mode: str = "snapshot",
    policy: CompactionPolicy | None = None,
) -> Outcome:
    ctx = context(store_dir, compaction=policy or CompactionPolicy())
    data = wasm.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    ctx.store.put(keys.module(sha), data)
    record, _ = create_execution(
        ctx.store,
        ExecutionRecord(execution_id, sha, base64.b64encode(text.encode()).decode(), mode=mode),  # type: ignore[arg-type]
    )
    return Execution(ctx, record, acquire(ctx, execution_id)).run()


def resume(
    store_dir: Path, execution_id: str, host: str = "resume-host", policy: CompactionPolicy | None = None
) -> tuple[Outcome, Execution]:
    time.sleep(0.06)  # let the previous owner's short lease expire
    ctx = context(store_dir, host, compaction=policy or CompactionPolicy())
    ex = Execution(ctx, read_execution(ctx.store, execution_id), acquire(ctx, execution_id))
    return ex.run(), ex


def truncated_copy(src: Path, dst: Path, execution_id: str, keep_snapshots: int) -> Path:
    """A copy of a store as it was right after snapshot `keep_snapshots` was committed."""
    shutil.copytree(src, dst)
    snap_dir = dst / "executions" / execution_id / "snap"
    for f in sorted(snap_dir.iterdir())[keep_snapshots:]:
        f.unlink()
    (dst / "executions" / execution_id / "lease.json").unlink(missing_ok=True)
    return dst
