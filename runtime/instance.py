"""One running guest: a wasmtime instance plus the Asyncify suspend/resume protocol.

At a suspension point (`td.call`, `td.sleep`, `td.signal`) the import handler
asks the host what to do. Either the host answers at once (replay from a
journal), or the guest unwinds: the handler writes the unwind-buffer header,
calls `asyncify_start_unwind`, and `run` returns to us; after
`asyncify_stop_unwind` the whole call stack lies in the asyncify memory and
the instance can be snapshotted. To continue - in this instance or in a fresh
one whose memories and globals were restored - we call
`asyncify_start_rewind` and `run` again; the handler sees the rewinding state,
stops it, and returns the recorded result to the guest.
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import wasmtime

from guest import abi
from runtime import wasi
from runtime.engine import Engine, MiB

PAGE = 65536


@dataclass(frozen=True)
class Suspension:
    """What the guest asked for at a suspension point."""

    kind: str  # "call" | "sleep" | "signal"
    name: str = ""
    data: bytes = b""  # activity input
    ms: int = 0  # sleep duration
    timeout_ms: int | None = None  # signal wait deadline, set by td.wait_timeout


@dataclass(frozen=True)
class Suspended:
    suspension: Suspension


@dataclass(frozen=True)
class Exited:
    code: int


class GuestTrap(Exception):
    """The guest trapped, ran out of fuel, or broke the ABI; the message says which."""


class Host(wasi.Host, Protocol):
    """What an instance needs from the execution driving it."""

    def suspend(self, s: Suspension) -> int | None:
        """Answer a suspension point inline (an int), or None to unwind."""
        ...

    def result_bytes(self) -> bytes: ...
    def input_bytes(self) -> bytes: ...
    def output(self, data: bytes) -> None: ...
    def now_ms(self) -> int: ...


class GuestInstance:
    def __init__(self, engine: Engine, module: wasmtime.Module, host: Host) -> None:
        self.engine = engine
        self.host = host
        self.store = wasmtime.Store(engine.wasmtime)
        self.store.set_limits(memory_size=engine.limits.max_memory_bytes)
        self.store.set_fuel(engine.limits.fuel_per_segment)
        self._host_error: BaseException | None = None
        self._depth = 0  # nested calls into the guest under way
        self._close_when_idle = False
        self._suspended: Suspension | None = None
        self._rewind_value = 0
        self._timeout_ms: int | None = None
        linker = wasmtime.Linker(engine.wasmtime)
        self._define_imports(linker, module)
        self.instance = linker.instantiate(self.store, module)
        exports = self.instance.exports(self.store)
        self._exports = exports
        self.memory = self._memory(abi.MEMORY_EXPORT)
        self.asyncify_memory = self._memory(abi.ASYNCIFY_MEMORY_EXPORT)
        self._run = self._func(abi.ENTRY_EXPORT)
        self._start_unwind, self._stop_unwind, self._start_rewind, self._stop_rewind, self._get_state = (
            self._func(name) for name in abi.ASYNCIFY_EXPORTS
        )
        self._globals = sorted(
            (int(name[len(abi.GLOBAL_EXPORT_PREFIX) :]), g)
            for name, g in exports.items()
            if name.startswith(abi.GLOBAL_EXPORT_PREFIX) and isinstance(g, wasmtime.Global)
        )

    def _export(self, name: str) -> object:
        try:
            return self._exports[name]
        except KeyError:
            raise GuestTrap(f"module lacks export `{name}`: is it prepared? (run `tardigrade prepare`)") from None

    def _func(self, name: str) -> wasmtime.Func:
        item = self._export(name)
        if not isinstance(item, wasmtime.Func):
            raise GuestTrap(f"export `{name}` is not a function")
        return item

    def _memory(self, name: str) -> wasmtime.Memory:
        item = self._export(name)
        if not isinstance(item, wasmtime.Memory):
            raise GuestTrap(f"export `{name}` is not a memory")
        return item

    # -- memory access -------------------------------------------------------

    def view(self, memory: wasmtime.Memory) -> memoryview:
        """A zero-copy view of a memory; take a new one after the memory grows."""
        return memoryview(memory.get_buffer_ptr(self.store)).cast("B")

    def regions(self) -> dict[str, memoryview]:
        return {"memory": self.view(self.memory), "asyncify": self.view(self.asyncify_memory)}

    def region_sizes(self) -> dict[str, int]:
        return {"memory": self.memory.data_len(self.store), "asyncify": self.asyncify_memory.data_len(self.store)}

    def grow_to(self, sizes: dict[str, int]) -> None:
        for name, mem in (("memory", self.memory), ("asyncify", self.asyncify_memory)):
            want = sizes.get(name, 0)
            have = mem.data_len(self.store)
            if want > have:
                if want > self.engine.limits.max_memory_bytes:
                    raise GuestTrap(
                        f"snapshot needs {want} bytes of {name}; this host's limit is "
                        f"{self.engine.limits.max_memory_bytes}"
                    )
                mem.grow(self.store, (want - have + PAGE - 1) // PAGE)

    def read(self, ptr: int, length: int) -> bytes:
        view = self.view(self.memory)
        if ptr < 0 or length < 0 or ptr + length > len(view):
            raise GuestTrap(f"guest passed an out-of-bounds buffer ({ptr}, {length})")
        return bytes(view[ptr : ptr + length])

    def write(self, ptr: int, data: bytes) -> None:
        view = self.view(self.memory)
        if ptr < 0 or ptr + len(data) > len(view):
            raise GuestTrap(f"guest passed an out-of-bounds buffer ({ptr}, {len(data)})")
        view[ptr : ptr + len(data)] = data

    # -- globals ---------------------------------------------------------------

    def get_globals(self) -> list[list[int | str]]:
        out: list[list[int | str]] = []
        for index, g in self._globals:
            kind = str(g.type(self.store).content)
            value: Any = g.value(self.store)
            if kind == "f32":
                value = struct.unpack("<I", struct.pack("<f", value))[0]
            elif kind == "f64":
                value = struct.unpack("<Q", struct.pack("<d", value))[0]
            out.append([index, kind, int(value)])
        return out

    def set_globals(self, values: list[list[int | str]]) -> None:
        mine = dict(self._globals)
        for index, kind, value in values:
            g = mine.get(int(index))
            if g is None:
                raise GuestTrap(f"snapshot has global {index}; this module does not export it")
            g.set_value(self.store, _to_val(str(kind), int(value)))

    # -- running ---------------------------------------------------------------

    def initialize(self) -> None:
        """Run the module's constructors (`_initialize`): once per execution, never on restore."""
        init = self._exports.get(abi.INIT_EXPORT)
        if isinstance(init, wasmtime.Func):
            self._enter(lambda: init(self.store))

    def start(self) -> Suspended | Exited:
        return self._call_run()

    def resume(self, value: int) -> Suspended | Exited:
        """Rewind the unwound stack; the pending host call returns `value`."""
        self._rewind_value = value
        self._start_rewind(self.store, abi.ASYNCIFY_BUFFER_OFFSET)
        return self._call_run()

    def _call_run(self) -> Suspended | Exited:
        self._suspended = None
        code = self._enter(lambda: self._run(self.store))
        if self._suspended is not None:
            self._stop_unwind(self.store)
            return Suspended(self._suspended)
        if isinstance(code, Exited):
            return code
        return Exited(int(code))

    def _enter(self, fn: Callable[[], Any]) -> Any:
        self._host_error = None
        self.store.set_fuel(self.engine.limits.fuel_per_segment)
        self._depth += 1
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - traps, wasmtime errors and our host errors all land here
            err, self._host_error = self._host_error, None
            if isinstance(err, wasi.ProcExit):
                return Exited(err.code)
            if err is not None:
                raise err from None
            raise GuestTrap(self._describe_trap(e)) from None
        finally:
            self._depth -= 1
            if not self._depth and self._close_when_idle:
                self.store.close()

    def _describe_trap(self, e: BaseException) -> str:
        text = str(e).strip()
        if "fuel" in text:
            return (
                f"fuel limit exceeded: more than {self.engine.limits.fuel_per_segment} instructions without a host call"
            )
        # wasmtime puts the cause after a backtrace: "... Caused by:\n    wasm trap: <what>"
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        cause = lines[lines.index("Caused by:") + 1 :] if "Caused by:" in lines else lines[:1]
        first = "; ".join(cause) or type(e).__name__
        # A refused memory.grow only makes malloc return NULL; say how close to the limit the guest was.
        size = self.memory.data_len(self.store)
        limit = self.engine.limits.max_memory_bytes
        if size * 2 >= limit:
            first += f" (guest memory {size / MiB:.1f} MiB of a {limit // MiB} MiB limit: growth beyond it is refused)"
        return f"guest trap: {first}"

    # -- imports -----------------------------------------------------------------

    def _bind(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A host function for wasmtime: `fn(instance, *wasm args)`, holding the instance weakly.

        wasmtime-py keeps host functions in a process-wide table until their store is freed, and
        the store goes only when the instance does: a strong reference here would keep every
        instance, with its whole linear memory, alive forever. Exceptions are recorded on the
        instance (wasmtime-py itself keeps only a process-global last one).
        """
        ref = weakref.ref(self)

        def call(*args: Any) -> Any:
            inst = ref()
            if inst is None:
                raise RuntimeError("host call into a dropped guest instance")
            inst.store.set_fuel(inst.engine.limits.fuel_per_segment)
            try:
                return fn(inst, *args)
            except BaseException as e:
                inst._host_error = e
                raise

        return call

    def suspension_point(self, make: Callable[[], Suspension], returns: bool) -> int | None:
        """A suspension import: return the recorded result when rewinding, else ask the host."""
        if self._get_state(self.store) == abi.ASYNCIFY_STATE_REWINDING:
            self._stop_rewind(self.store)
            return self._rewind_value if returns else None
        s = make()
        self._timeout_ms = None
        inline = self.host.suspend(s)
        if inline is not None:
            return inline if returns else None
        base = abi.ASYNCIFY_BUFFER_OFFSET
        end = self.asyncify_memory.data_len(self.store)
        view = self.view(self.asyncify_memory)
        view[base : base + abi.ASYNCIFY_HEADER_SIZE] = struct.pack("<II", base + abi.ASYNCIFY_HEADER_SIZE, end)
        self._start_unwind(self.store, base)
        self._suspended = s
        return 0 if returns else None  # ignored: the guest is unwinding

    def close(self) -> None:
        """Free the store and its memories now rather than at the next garbage collection.

        Called from inside a host call (replay mode parks there), it waits until the guest's
        call has returned: the store must outlive the frames that run in it."""
        if self._depth:
            self._close_when_idle = True
        else:
            self.store.close()

    def _define_imports(self, linker: wasmtime.Linker, module: wasmtime.Module) -> None:
        for imp in module.imports:
            ftype = imp.type
            if not isinstance(ftype, wasmtime.FuncType):
                raise GuestTrap(f"unsupported import {imp.module}.{imp.name}: only functions can be imported")
            name = imp.name or ""
            if imp.module == abi.IMPORT_MODULE:
                fn = _TD.get(name)
                if fn is None:
                    raise GuestTrap(f"unknown import td.{name}")
            elif imp.module == abi.WASI_MODULE:
                fn = wasi.FUNCTIONS.get(name) or _enosys(ftype)
            else:
                raise GuestTrap(f"unsupported import {imp.module}.{name}")
            linker.define_func(imp.module, name, ftype, self._bind(fn))


# -- the td imports: functions of (instance, *wasm arguments) --------------------------------


def _text(inst: GuestInstance, ptr: int, n: int) -> str:
    return inst.read(ptr, n).decode("utf-8", "replace")


def _copy_out(inst: GuestInstance, ptr: int, cap: int, data: bytes) -> int:
    inst.write(ptr, data[:cap])
    return len(data)


def _wait_timeout(inst: GuestInstance, ms: int) -> None:
    inst._timeout_ms = ms


_TD: dict[str, Callable[..., Any]] = {
    "result": lambda inst, ptr, cap: _copy_out(inst, ptr, cap, inst.host.result_bytes()),
    "input": lambda inst, ptr, cap: _copy_out(inst, ptr, cap, inst.host.input_bytes()),
    "output": lambda inst, ptr, n: inst.host.output(inst.read(ptr, n)),
    "log": lambda inst, ptr, n: inst.host.log_bytes("log", inst.read(ptr, n)),
    "now": lambda inst: inst.host.now_ms(),
    "random": lambda inst, ptr, n: inst.write(ptr, inst.host.random_bytes(n)),
    "wait_timeout": _wait_timeout,
    "call": lambda inst, np, nl, ip, il: inst.suspension_point(
        lambda: Suspension("call", _text(inst, np, nl), inst.read(ip, il)), returns=True
    ),
    "sleep": lambda inst, ms: inst.suspension_point(lambda: Suspension("sleep", ms=max(0, ms)), returns=False),
    "signal": lambda inst, np, nl: inst.suspension_point(
        lambda: Suspension("signal", _text(inst, np, nl), timeout_ms=inst._timeout_ms), returns=True
    ),
}


def _to_val(kind: str, bits: int) -> wasmtime.Val:
    """A global's value from how snapshots store it (floats as their bit patterns)."""
    if kind == "i32":
        return wasmtime.Val.i32(bits)
    if kind == "i64":
        return wasmtime.Val.i64(bits)
    if kind == "f32":
        return wasmtime.Val.f32(struct.unpack("<f", struct.pack("<I", bits))[0])
    if kind == "f64":
        return wasmtime.Val.f64(struct.unpack("<d", struct.pack("<Q", bits))[0])
    raise GuestTrap(f"cannot restore a global of type {kind}")


def _enosys(ftype: wasmtime.FuncType) -> Callable[..., int | None]:
    results = ftype.results

    def fn(_inst: GuestInstance, *_args: int) -> int | None:
        return wasi.ENOSYS if results else None

    return fn
