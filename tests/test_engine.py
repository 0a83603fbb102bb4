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
