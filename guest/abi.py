"""The guest ABI: the contract between a workflow module and the host.

Everything both sides must agree on lives here and only here: import names and
signatures, result codes, the names the prepare step gives to what it exports,
and the custom section that marks a module as prepared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

IMPORT_MODULE = "td"
WASI_MODULE = "wasi_snapshot_preview1"

ValType = Literal["i32", "i64"]


@dataclass(frozen=True)
class HostCall:
    name: str
    params: tuple[ValType, ...]
    results: tuple[ValType, ...]
    suspends: bool  # the host snapshots after a suspension point returns


HOST_CALLS: dict[str, HostCall] = {
    c.name: c
    for c in (
        # Suspension points.
        HostCall("call", ("i32", "i32", "i32", "i32"), ("i64",), True),
        HostCall("sleep", ("i64",), (), True),
        HostCall("signal", ("i32", "i32"), ("i64",), True),
        # Plain host calls: no snapshot of their own.
        HostCall("result", ("i32", "i32"), ("i32",), False),
        HostCall("input", ("i32", "i32"), ("i32",), False),
        HostCall("output", ("i32", "i32"), (), False),
        HostCall("log", ("i32", "i32"), (), False),
        HostCall("now", (), ("i64",), False),
        HostCall("random", ("i32", "i32"), (), False),
        HostCall("wait_timeout", ("i64",), (), False),
    )
}
SUSPENSION_IMPORTS = tuple(f"{IMPORT_MODULE}.{c.name}" for c in HOST_CALLS.values() if c.suspends)

# Negative results of `call` and `signal` (mirrored in include/tardigrade.h).
ERR_FAILED = -1  # activity failed for good; the error text is available via `result`
ERR_CANCELLED = -2  # the execution was cancelled: compensate and return
ERR_TIMEOUT = -3  # a signal wait reached its deadline

ENTRY_EXPORT = "run"
INIT_EXPORT = "_initialize"
MEMORY_EXPORT = "memory"

# Names the prepare step adds.
GLOBAL_EXPORT_PREFIX = "td.global."  # + index of every mutable global
ASYNCIFY_MEMORY_EXPORT = "td.asyncify_memory"
ASYNCIFY_MEMORY_INTERNAL = "asyncify_memory"
ASYNCIFY_EXPORTS = (
    "asyncify_start_unwind",
    "asyncify_stop_unwind",
    "asyncify_start_rewind",
    "asyncify_stop_rewind",
    "asyncify_get_state",
)
ASYNCIFY_STATE_NORMAL = 0
ASYNCIFY_STATE_UNWINDING = 1
ASYNCIFY_STATE_REWINDING = 2
# The unwind buffer: a header {current, end} at offset 0 of the asyncify memory,
# the saved stack after it. One 64 KiB page holds thousands of frames.
ASYNCIFY_MEMORY_PAGES = 1
ASYNCIFY_BUFFER_OFFSET = 0
ASYNCIFY_HEADER_SIZE = 8

PREPARED_SECTION = "tardigrade.prepared"
PREPARE_VERSION = 1
