"""The wasmtime engine: configuration, guest limits, and the local compiled-module cache.

Compiled artifacts (.cwasm) live only on this host's disk, keyed by module hash
and engine configuration. They are never read from or written to the shared
store: deserializing a compiled artifact runs native code, so only artifacts
this host produced are ever loaded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import wasmtime

MiB = 1024 * 1024
DEFAULT_FUEL_PER_SEGMENT = 20_000_000_000


@dataclass(frozen=True)
class Limits:
    """What one guest may consume."""

    max_memory_bytes: int = 512 * MiB  # linear memory; growth beyond it fails
    fuel_per_segment: int = DEFAULT_FUEL_PER_SEGMENT  # instructions between two host calls
    max_module_bytes: int = 32 * MiB


class Engine:
    """One wasmtime engine per process, shared by every execution (it is thread-safe)."""

    def __init__(self, cache_dir: Path | None = None, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        config = wasmtime.Config()
        config.cranelift_nan_canonicalization = True  # same float bits on every host
        config.consume_fuel = True
        config.wasm_multi_memory = True  # the asyncify unwind buffer lives in a second memory
        self.wasmtime = wasmtime.Engine(config)
        self.fingerprint = hashlib.sha256(
            f"wasmtime={importlib.metadata.version('wasmtime')};nan=1;fuel=1;multimem=1".encode()
        ).hexdigest()[:16]
        self.cache_dir = cache_dir / "cwasm" if cache_dir else None
        self._modules: dict[str, wasmtime.Module] = {}
        self._lock = threading.Lock()

    def loaded(self, sha256: str) -> wasmtime.Module | None:
        """The compiled module, if this process has it already (no store read needed)."""
        with self._lock:
            return self._modules.get(sha256)

    def module(self, sha256: str, wasm: bytes) -> wasmtime.Module:
        """The compiled module for `wasm` (whose sha256 the caller verified), cached in memory and on disk."""
        with self._lock:
            cached = self._modules.get(sha256)
        if cached is not None:
            return cached
        module = self._load_or_compile(sha256, wasm)
        with self._lock:
            self._modules[sha256] = module
        return module

    def _load_or_compile(self, sha256: str, wasm: bytes) -> wasmtime.Module:
        path = self.cache_dir / f"{sha256}-{self.fingerprint}.cwasm" if self.cache_dir else None
        if path is not None and path.is_file():
            try:
                return wasmtime.Module.deserialize_file(self.wasmtime, str(path))
            except wasmtime.WasmtimeError:
                path.unlink(missing_ok=True)  # stale or truncated: compile afresh
        module = wasmtime.Module(self.wasmtime, wasm)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(module.serialize())
            os.replace(tmp, path)
        return module
