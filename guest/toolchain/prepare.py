"""Make any wasm module that imports the `td` ABI snapshot-ready.

What prepare does, in order:
1. validates the bytes (wasmtime's validator) and checks the ABI: a `run`
   export of type () -> i32, only known `td` imports with the right
   signatures, otherwise WASI preview 1 imports only, one defined memory;
2. applies Binaryen's Asyncify limited to the three suspension imports, with
   the unwind buffer in a secondary memory of its own - so no guest address
   space is taken from the program, whatever its language or allocator;
3. exports every mutable global as `td.global.<i>` (the shadow stack pointer is
   one: forget it and restored frames corrupt each other) and the asyncify
   memory as `td.asyncify_memory`;
4. validates the result and records what it did in a custom section.

Preparing a prepared module returns it unchanged.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import wasmtime

from guest import abi
from guest.toolchain.wasm import FuncSig, ModuleInfo, WasmFormatError, inspect_module

DEFAULT_MAX_MODULE_BYTES = 32 * 1024 * 1024

ErrorKind = Literal["invalid", "too_large", "abi"]


class PrepareError(ValueError):
    """A module that cannot be made snapshot-ready; `kind` says why."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class PrepareReport:
    wasm: bytes
    sha256: str
    already_prepared: bool
    exported_globals: int
    imports: list[str]
    exports: list[str]


def check_module(data: bytes, max_bytes: int = DEFAULT_MAX_MODULE_BYTES) -> ModuleInfo:
    """Validate bytes and the guest ABI; raise PrepareError naming the problem."""
    if len(data) > max_bytes:
        raise PrepareError("too_large", f"module is {len(data)} bytes; the limit is {max_bytes} bytes")
    try:
        wasmtime.Module.validate(wasmtime.Engine(), data)
    except wasmtime.WasmtimeError as e:
        raise PrepareError("invalid", f"invalid wasm: {str(e).strip()}") from None
    try:
        info = inspect_module(data)
    except WasmFormatError as e:
        raise PrepareError("invalid", f"invalid wasm: {e}") from None
    _check_abi(info)
    return info


def _check_abi(info: ModuleInfo) -> None:
    want_run = FuncSig((), ("i32",))
    run_sig = info.export_sig(abi.ENTRY_EXPORT)
    if run_sig is None:
        raise PrepareError("abi", "module does not export a function `run` (define `int run(void)`)")
    if run_sig != want_run:
        raise PrepareError("abi", f"export `run` has type {run_sig}; expected {want_run}")
    for imp in info.imports:
        where = f"{imp.module}.{imp.name}"
        if imp.module == abi.IMPORT_MODULE:
            call = abi.HOST_CALLS.get(imp.name)
            if call is None:
                known = ", ".join(sorted(abi.HOST_CALLS))
                raise PrepareError("abi", f"unknown import `{where}`; the td ABI has: {known}")
            want = FuncSig(call.params, call.results)
            if imp.kind != "func" or imp.sig != want:
                raise PrepareError("abi", f"import `{where}` has type {imp.sig}; expected {want}")
        elif imp.module == abi.WASI_MODULE:
            if imp.kind != "func":
                raise PrepareError("abi", f"import `{where}` is a {imp.kind}; WASI imports must be functions")
        else:
            raise PrepareError(
                "abi",
                f"unsupported import `{where}`: workflows may import only `td.*` and `{abi.WASI_MODULE}.*` functions",
            )
    if info.export(abi.MEMORY_EXPORT) is None:
        raise PrepareError("abi", f"module must export its memory as `{abi.MEMORY_EXPORT}`")
    if is_prepared(info):
        missing = [n for n in (*abi.ASYNCIFY_EXPORTS, abi.ASYNCIFY_MEMORY_EXPORT) if info.export(n) is None]
        if missing or info.memories != 2:
            raise PrepareError(
                "abi", f"module claims to be prepared but lacks {', '.join(missing) or 'its asyncify memory'}"
            )
    elif info.memories != 1:
        raise PrepareError("abi", f"module must define exactly one memory (it defines {info.memories})")


def is_prepared(info: ModuleInfo) -> bool:
    return abi.PREPARED_SECTION in info.custom_sections


def prepare(data: bytes, max_bytes: int = DEFAULT_MAX_MODULE_BYTES, *, isolated: bool = False) -> PrepareReport:
    """Return the snapshot-ready form of `data` (unchanged if it is prepared already).

    With `isolated`, the checks run here and the Binaryen transform in a child process."""
    info = check_module(data, max_bytes)
    if is_prepared(info):
        return _report(data, info, already_prepared=True)
    if isolated:
        return _prepare_in_child(data)
    return _transform(data)


def _prepare_in_child(data: bytes) -> PrepareReport:
    with tempfile.TemporaryDirectory(prefix="td-prepare-") as tmp:
        src, dst = Path(tmp) / "in.wasm", Path(tmp) / "out.wasm"
        src.write_bytes(data)
        proc = subprocess.run(
            [sys.executable, "-m", "guest.toolchain.prepare", str(src), str(dst)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0 or not dst.is_file():
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
            raise PrepareError("invalid", f"prepare failed: {detail[0]}")
        out = dst.read_bytes()
    return _report(out, inspect_module(out), already_prepared=False)


def _transform(data: bytes) -> PrepareReport:
    """The Binaryen part of prepare, on bytes that passed check_module."""
    from guest.toolchain import binaryen  # loads libbinaryen: only when a module is transformed

    with binaryen.session(data) as m:
        m.enable_features()
        m.run_passes(
            ["asyncify"],
            {
                "asyncify-imports": ",".join(abi.SUSPENSION_IMPORTS),
                "asyncify-in-secondary-memory": "1",
                "asyncify-secondary-memory-size": str(abi.ASYNCIFY_MEMORY_PAGES),
            },
        )
        exported = 0
        for index, name in m.mutable_globals():
            m.export_global(name, f"{abi.GLOBAL_EXPORT_PREFIX}{index}")
            exported += 1
        m.export_memory(abi.ASYNCIFY_MEMORY_INTERNAL, abi.ASYNCIFY_MEMORY_EXPORT)
        m.optimize()
        record = {
            "prepare_version": abi.PREPARE_VERSION,
            "asyncify_imports": list(abi.SUSPENSION_IMPORTS),
            "exported_globals": exported,
            "source_sha256": hashlib.sha256(data).hexdigest(),
        }
        m.add_custom_section(abi.PREPARED_SECTION, json.dumps(record, sort_keys=True).encode())
        if not m.validate():
            raise PrepareError("invalid", "Binaryen produced an invalid module (please report this)")
        out = m.write()
    return _report(out, inspect_module(out), already_prepared=False)


def _report(data: bytes, info: ModuleInfo, already_prepared: bool) -> PrepareReport:
    record = json.loads(info.custom_sections[abi.PREPARED_SECTION])
    return PrepareReport(
        wasm=data,
        sha256=hashlib.sha256(data).hexdigest(),
        already_prepared=already_prepared,
        exported_globals=int(record["exported_globals"]),
        imports=[f"{i.module}.{i.name}" for i in info.imports],
        exports=[e.name for e in info.exports],
    )


if __name__ == "__main__":  # python -m guest.toolchain.prepare IN OUT (what `isolated` runs)
    try:
        Path(sys.argv[2]).write_bytes(prepare(Path(sys.argv[1]).read_bytes()).wasm)
    except PrepareError as e:
        sys.exit(f"{e.kind}: {e}")
