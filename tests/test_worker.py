"""The worker's safety net: an execution whose owner vanished without a trace is still adopted."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path

import pytest

from conftest import wait_for
from engine_helpers import _engine, registry
from runtime.executor import HostContext, HostOptions
from runtime.observe import describe
from runtime.worker import LEASE_SWEEP_TTLS, Worker
from snapshots import keys, leases
from snapshots.file import FileStore
from snapshots.records import ExecutionRecord, create_execution


@pytest.mark.parametrize("owner", ["ghost", "rescuer"])
def test_an_orphan_no_heartbeat_mentions_is_adopted(wasm: dict[str, Path], tmp_path: Path, owner: str) -> None:
    """`ghost`: a host took the lease and died before any heartbeat listed the execution.
    `rescuer`: the lease was handed to this (live) host and the due entry that should wake it was lost."""
    store = FileStore(tmp_path / "s")
    data = wasm["order_fulfillment"].read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    store.put(keys.module(sha), data)
    create_execution(store, ExecutionRecord("orphan", sha, base64.b64encode(b"order-1").decode()))
    # No due entry and no heartbeat mentions it: only an expired lease.
    lease = leases.Lease(owner=owner, epoch=1, expires_at=time.time() - 1)
    store.put(keys.lease("orphan"), lease.to_json(), create_only=True)

    ttl = 0.3
    worker = Worker(HostContext(store, _engine, registry(), HostOptions("rescuer", lease_ttl=ttl)), poll_interval=0.05)
    worker.start()
    try:
        timeout = LEASE_SWEEP_TTLS * ttl + 15
        wait_for(lambda: describe(store, "orphan").status == "completed", timeout=timeout, what="the adoption")
    finally:
        worker.stop()
    st = describe(store, "orphan")
    assert st.status == "completed" and '"order":"order-1"' in (st.output or "")


def test_many_executions_at_once_in_one_process(wasm: dict[str, Path], tmp_path: Path) -> None:
    """Threads share the engine, the registry and the store; each execution must come out right."""
    import threading

    from engine_helpers import start

    outputs: dict[int, bytes] = {}

    def one(i: int) -> None:
        out = start(tmp_path / "s", wasm["bench"], f"t{i}", "steps=150 mem=4 pages=8 fill=random")
        outputs[i] = out.output if out.status == "completed" else out.detail.encode()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(outputs) == 8 and len(set(outputs.values())) == 1, outputs  # same guest, same input: same output
    assert next(iter(outputs.values())).startswith(b"steps=150 checksum=")
