"""Build C workflows and prepare any wasm module for snapshots."""

from guest.toolchain.build import BuildError, build
from guest.toolchain.prepare import PrepareError, PrepareReport, prepare
from guest.toolchain.wasm import ModuleInfo, WasmFormatError, inspect_module

__all__ = [
    "BuildError",
    "ModuleInfo",
    "PrepareError",
    "PrepareReport",
    "WasmFormatError",
    "build",
    "inspect_module",
    "prepare",
]
