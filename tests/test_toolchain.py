"""The toolchain: build and prepare produce snapshot-ready modules."""

from __future__ import annotations

import json
from pathlib import Path

from guest import abi
from guest.toolchain import inspect_module, prepare


def test_prepared_module_exports_what_snapshots_need(wasm: dict[str, Path]) -> None:
    data = wasm["deep_state"].read_bytes()
    info = inspect_module(data)
    names = {e.name for e in info.exports}
    assert {"run", "memory", abi.ASYNCIFY_MEMORY_EXPORT, *abi.ASYNCIFY_EXPORTS} <= names
    globals_ = [n for n in names if n.startswith(abi.GLOBAL_EXPORT_PREFIX)]
    assert f"{abi.GLOBAL_EXPORT_PREFIX}0" in globals_  # the shadow stack pointer
    record = json.loads(info.custom_sections[abi.PREPARED_SECTION])
    assert record["prepare_version"] == abi.PREPARE_VERSION
    assert record["exported_globals"] == len(globals_)
    assert sorted(record["asyncify_imports"]) == sorted(abi.SUSPENSION_IMPORTS)


def test_prepare_is_idempotent(wasm: dict[str, Path]) -> None:
    data = wasm["order_fulfillment"].read_bytes()
    again = prepare(data)
    assert again.already_prepared and again.wasm == data
