"""The compiled-module cache: local disk only, keyed by module hash and engine configuration."""

from __future__ import annotations

import gc
import hashlib
from pathlib import Path

from runtime.engine import Engine


def test_compiled_modules_are_cached_locally_and_rebuilt_when_damaged(wasm: dict[str, Path], tmp_path: Path) -> None:
    data = wasm["order_fulfillment"].read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    first = Engine(tmp_path)
    first.module(sha, data)
    cached = list((tmp_path / "cwasm").iterdir())
    assert [p.name for p in cached] == [f"{sha}-{first.fingerprint}.cwasm"]

    second = Engine(tmp_path)  # a new process would do the same: load, not compile
    assert second.module(sha, data).exports
    assert cached[0].stat().st_size > 0

    # Loaded modules map the file: let them go before damaging it in place (the cache itself only
    # ever replaces files by rename, so mappings of live modules stay valid).
    del first, second
    gc.collect()
    cached[0].write_bytes(b"not a compiled module")  # damaged: compile afresh, never trust it
    third = Engine(tmp_path)
    assert third.module(sha, data).exports
    assert cached[0].read_bytes() != b"not a compiled module"


def test_the_store_never_holds_compiled_code(wasm: dict[str, Path], tmp_path: Path) -> None:
    from engine_helpers import start

    start(tmp_path / "store", wasm["order_fulfillment"], "o", "order-1")
    assert not [p for p in (tmp_path / "store").rglob("*") if p.suffix == ".cwasm"]


def test_dropped_instances_release_their_memory(wasm: dict[str, Path]) -> None:
    """Host functions must not keep an instance alive: wasmtime-py holds them in a process-wide table."""
    import resource
    import weakref

    from runtime.instance import GuestInstance

    data = wasm["bench"].read_bytes()
    engine = Engine(None)
    module = engine.module(hashlib.sha256(data).hexdigest(), data)
    refs = []
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(40):
        inst = GuestInstance(engine, module, None)  # type: ignore[arg-type]  # no host calls are made
        inst.grow_to({"memory": 32 << 20})
        view = inst.view(inst.memory)
        view[: len(view)] = b"\1" * len(view)  # touch every page
        refs.append(weakref.ref(inst))
        del inst, view
    assert all(r() is None for r in refs)  # freed by reference counting, no garbage collection needed
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 40 * 32 / 4, grown_mib  # 40 x 32 MiB were touched; far less is still held
