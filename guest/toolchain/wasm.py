"""A minimal reader of the wasm binary format: imports, exports, globals, custom sections.

Just enough to inspect a module before anything else touches it: it never
compiles or runs code, and rejects malformed input with a WasmFormatError that
says where it stopped making sense.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAGIC = b"\0asm\x01\0\0\0"
_VALTYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128", 0x70: "funcref", 0x6F: "externref"}
_KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}


class WasmFormatError(ValueError):
    """The bytes are not a wasm module this reader understands."""


@dataclass(frozen=True)
class FuncSig:
    params: tuple[str, ...]
    results: tuple[str, ...]

    def __str__(self) -> str:
        return f"({', '.join(self.params)}) -> ({', '.join(self.results)})"


@dataclass(frozen=True)
class Import:
    module: str
    name: str
    kind: str
    sig: FuncSig | None = None  # for functions


@dataclass(frozen=True)
class Export:
    name: str
    kind: str
    index: int


@dataclass
class ModuleInfo:
    imports: list[Import] = field(default_factory=list)
    exports: list[Export] = field(default_factory=list)
    custom_sections: dict[str, bytes] = field(default_factory=dict)
    func_sigs: list[FuncSig] = field(default_factory=list)  # imported functions first, then defined ones
    memories: int = 0  # defined (not imported) memories
    mutable_globals: int = 0  # defined mutable globals

    def export(self, name: str) -> Export | None:
        return next((e for e in self.exports if e.name == name), None)

    def export_sig(self, name: str) -> FuncSig | None:
        e = self.export(name)
        if e is None or e.kind != "func" or e.index >= len(self.func_sigs):
            return None
        return self.func_sigs[e.index]


class _Reader:
    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise WasmFormatError(f"unexpected end of data at byte {self.pos}")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uleb(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise WasmFormatError(f"LEB128 number too long at byte {self.pos}")

    def bytes(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise WasmFormatError(f"unexpected end of data at byte {self.pos} (wanted {n} more)")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def name(self) -> str:
        raw = self.bytes(self.uleb())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise WasmFormatError(f"name is not UTF-8 at byte {self.pos}") from e

    def valtype(self) -> str:
        b = self.byte()
        if b not in _VALTYPES:
            raise WasmFormatError(f"unsupported value type 0x{b:02x} at byte {self.pos - 1}")
        return _VALTYPES[b]

    def limits(self) -> None:
        flags = self.byte()
        self.uleb()
        if flags & 1:
            self.uleb()

    def skip_const_expr(self) -> None:
        # Init expressions of globals: a handful of const instructions then `end`.
        while True:
            op = self.byte()
            if op == 0x0B:
                return
            if op in (0x41, 0x42, 0x23, 0xD2):  # i32.const, i64.const (sleb), global.get, ref.func
                self.uleb()
            elif op == 0x43:
                self.bytes(4)
            elif op == 0x44:
                self.bytes(8)
            elif op == 0xD0:  # ref.null t
                self.byte()
            elif op in (0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E):  # extended-const arithmetic
                continue
            else:
                raise WasmFormatError(f"unsupported opcode 0x{op:02x} in a constant expression")


def inspect_module(data: bytes) -> ModuleInfo:
    """Read the parts of a wasm module's structure that Tardigrade checks."""
    if len(data) < 8 or data[:4] != MAGIC[:4]:
        raise WasmFormatError("not a wasm module (missing \\0asm magic)")
    if data[:8] != MAGIC:
        raise WasmFormatError("unsupported wasm version (want a core module, version 1)")
    info = ModuleInfo()
    types: list[FuncSig] = []
    r = _Reader(data, 8)
    while r.pos < r.end:
        sid = r.byte()
        size = r.uleb()
        start = r.pos
        s = _Reader(data, start, start + size)
        if s.end > len(data):
            raise WasmFormatError(f"section {sid} runs past the end of the module")
        if sid == 0:
            name = s.name()
            info.custom_sections[name] = data[s.pos : s.end]
        elif sid == 1:
            for _ in range(s.uleb()):
                form = s.byte()
                if form != 0x60:
                    raise WasmFormatError(f"unsupported type form 0x{form:02x}")
                params = tuple(s.valtype() for _ in range(s.uleb()))
                results = tuple(s.valtype() for _ in range(s.uleb()))
                types.append(FuncSig(params, results))
        elif sid == 2:
            for _ in range(s.uleb()):
                module, name, kind = s.name(), s.name(), s.byte()
                sig = None
                if kind == 0:
                    ti = s.uleb()
                    if ti >= len(types):
                        raise WasmFormatError(f"import {module}.{name} uses unknown type {ti}")
                    sig = types[ti]
                    info.func_sigs.append(sig)
                elif kind == 1:
                    s.byte()
                    s.limits()
                elif kind == 2:
                    s.limits()
                elif kind == 3:
                    s.valtype()
                    s.byte()
                else:
                    raise WasmFormatError(f"import {module}.{name} has unsupported kind {kind}")
                info.imports.append(Import(module, name, _KINDS[kind], sig))
        elif sid == 3:
            for _ in range(s.uleb()):
                ti = s.uleb()
                if ti >= len(types):
                    raise WasmFormatError(f"function uses unknown type {ti}")
                info.func_sigs.append(types[ti])
        elif sid == 5:
            info.memories = s.uleb()
        elif sid == 6:
            for _ in range(s.uleb()):
                s.valtype()
                if s.byte() & 1:
                    info.mutable_globals += 1
                s.skip_const_expr()
        elif sid == 7:
            for _ in range(s.uleb()):
                name, kind, index = s.name(), s.byte(), s.uleb()
                info.exports.append(Export(name, _KINDS.get(kind, f"kind{kind}"), index))
        r.pos = start + size
    if r.pos != len(data):
        raise WasmFormatError("trailing bytes after the last section")
    return info
