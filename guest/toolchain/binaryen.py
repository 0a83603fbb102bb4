"""Thin cffi binding over the libbinaryen bundled by PyPI's icpp-binaryen.

Only the calls the prepare step needs. Binaryen keeps pass arguments and
optimization levels in process-global state, so every use goes through
`session()`, which holds a lock and resets that state.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cffi import FFI

_CDEF = """
typedef struct BinaryenModule *BinaryenModuleRef;
typedef struct BinaryenGlobal *BinaryenGlobalRef;
typedef struct BinaryenExport *BinaryenExportRef;
typedef uint32_t BinaryenIndex;
typedef uint32_t BinaryenFeatures;

BinaryenModuleRef BinaryenModuleRead(char *input, size_t inputSize);
void BinaryenModuleDispose(BinaryenModuleRef module);
bool BinaryenModuleValidate(BinaryenModuleRef module);
void BinaryenModuleOptimize(BinaryenModuleRef module);
void BinaryenSetOptimizeLevel(int level);
void BinaryenSetShrinkLevel(int level);
BinaryenFeatures BinaryenModuleGetFeatures(BinaryenModuleRef module);
void BinaryenModuleSetFeatures(BinaryenModuleRef module, BinaryenFeatures features);
BinaryenFeatures BinaryenFeatureMutableGlobals(void);
BinaryenFeatures BinaryenFeatureBulkMemory(void);
BinaryenFeatures BinaryenFeatureSignExt(void);
BinaryenFeatures BinaryenFeatureNontrappingFPToInt(void);
BinaryenFeatures BinaryenFeatureMultiMemory(void);
BinaryenFeatures BinaryenFeatureMultivalue(void);
BinaryenFeatures BinaryenFeatureSIMD128(void);
void BinaryenSetPassArgument(const char *name, const char *value);
void BinaryenClearPassArguments(void);
void BinaryenModuleRunPasses(BinaryenModuleRef module, const char **passes, BinaryenIndex numPasses);
BinaryenIndex BinaryenGetNumGlobals(BinaryenModuleRef module);
BinaryenGlobalRef BinaryenGetGlobalByIndex(BinaryenModuleRef module, BinaryenIndex index);
const char *BinaryenGlobalGetName(BinaryenGlobalRef global);
bool BinaryenGlobalIsMutable(BinaryenGlobalRef global);
BinaryenExportRef BinaryenAddGlobalExport(BinaryenModuleRef module, const char *internalName,
                                          const char *externalName);
BinaryenExportRef BinaryenAddMemoryExport(BinaryenModuleRef module, const char *internalName,
                                          const char *externalName);
BinaryenExportRef BinaryenGetExport(BinaryenModuleRef module, const char *externalName);
void BinaryenAddCustomSection(BinaryenModuleRef module, const char *name, const char *contents,
                              BinaryenIndex contentsSize);
typedef struct {
  void *binary;
  size_t binaryBytes;
  char *sourceMap;
} BinaryenModuleAllocateAndWriteResult;
BinaryenModuleAllocateAndWriteResult BinaryenModuleAllocateAndWrite(BinaryenModuleRef module,
                                                                    const char *sourceMapUrl);
"""

_lock = threading.Lock()
_ffi = FFI()
_ffi.cdef(_CDEF)
_ffi.cdef("void free(void *ptr);", override=True)
_lib: Any = None
_libc: Any = None


def _load() -> tuple[Any, Any]:
    global _lib, _libc
    if _lib is None:
        import icpp_binaryen  # the wheel that bundles libbinaryen with its C API

        path = Path(icpp_binaryen.__file__).parent / "lib" / "libbinaryen.so"
        _lib = _ffi.dlopen(str(path))
        _libc = _ffi.dlopen(None)
    return _lib, _libc


class Module:
    """A Binaryen module read from bytes; valid only inside its session."""

    def __init__(self, data: bytes) -> None:
        self._lib, self._libc = _load()
        self._buf = _ffi.new("char[]", data)  # Binaryen may keep pointers into the input
        self._ref = self._lib.BinaryenModuleRead(self._buf, len(data))
        if self._ref == _ffi.NULL:
            raise ValueError("Binaryen could not read the module")
        self._keep: list[Any] = []

    def enable_features(self) -> None:
        lib = self._lib
        features = lib.BinaryenModuleGetFeatures(self._ref)
        for f in (
            lib.BinaryenFeatureMutableGlobals,
            lib.BinaryenFeatureBulkMemory,
            lib.BinaryenFeatureSignExt,
            lib.BinaryenFeatureNontrappingFPToInt,
            lib.BinaryenFeatureMultiMemory,
            lib.BinaryenFeatureMultivalue,
            lib.BinaryenFeatureSIMD128,
        ):
            features |= f()
        lib.BinaryenModuleSetFeatures(self._ref, features)

    def run_passes(self, passes: list[str], args: dict[str, str], optimize_level: int = 2) -> None:
        lib = self._lib
        lib.BinaryenClearPassArguments()
        for k, v in args.items():
            lib.BinaryenSetPassArgument(k.encode(), v.encode())
        lib.BinaryenSetOptimizeLevel(optimize_level)
        lib.BinaryenSetShrinkLevel(0)
        names = [_ffi.new("char[]", p.encode()) for p in passes]
        lib.BinaryenModuleRunPasses(self._ref, _ffi.new("const char *[]", names), len(names))
        lib.BinaryenClearPassArguments()

    def optimize(self) -> None:
        self._lib.BinaryenModuleOptimize(self._ref)

    def mutable_globals(self) -> list[tuple[int, str]]:
        """(index, internal name) of every mutable global, imported ones included."""
        lib = self._lib
        out = []
        for i in range(lib.BinaryenGetNumGlobals(self._ref)):
            g = lib.BinaryenGetGlobalByIndex(self._ref, i)
            if lib.BinaryenGlobalIsMutable(g):
                out.append((i, _ffi.string(lib.BinaryenGlobalGetName(g)).decode()))
        return out

    def has_export(self, name: str) -> bool:
        return bool(self._lib.BinaryenGetExport(self._ref, name.encode()) != _ffi.NULL)

    def export_global(self, internal: str, external: str) -> None:
        self._lib.BinaryenAddGlobalExport(self._ref, internal.encode(), external.encode())

    def export_memory(self, internal: str, external: str) -> None:
        self._lib.BinaryenAddMemoryExport(self._ref, internal.encode(), external.encode())

    def add_custom_section(self, name: str, contents: bytes) -> None:
        self._lib.BinaryenAddCustomSection(self._ref, name.encode(), contents, len(contents))

    def validate(self) -> bool:
        return bool(self._lib.BinaryenModuleValidate(self._ref))

    def write(self) -> bytes:
        res = self._lib.BinaryenModuleAllocateAndWrite(self._ref, _ffi.NULL)
        try:
            return bytes(_ffi.buffer(res.binary, res.binaryBytes))
        finally:
            self._libc.free(res.binary)
            if res.sourceMap != _ffi.NULL:
                self._libc.free(res.sourceMap)

    def dispose(self) -> None:
        if self._ref is not None:
            self._lib.BinaryenModuleDispose(self._ref)
            self._ref = None


@contextmanager
def session(data: bytes) -> Iterator[Module]:
    """Read a module under the process-wide Binaryen lock; dispose it afterwards."""
    with _lock:
        module = Module(data)
        try:
            yield module
        finally:
            module.dispose()
