"""WASI preview 1, stdio only.

Guests get stdout/stderr (which become the execution's log), an empty stdin,
no arguments, no environment, no preopened directories, and clocks and
randomness that go through the host's journaled `now` and `random`. Every
other WASI function answers ENOSYS, so a libc that probes for files fails
cleanly instead of trapping.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Protocol

ESUCCESS = 0
EBADF = 8
EINVAL = 28
ENOSYS = 52
ESPIPE = 70

FILETYPE_CHARACTER_DEVICE = 2
RIGHT_FD_SEEK = 1 << 2
RIGHT_FD_TELL = 1 << 5


class ProcExit(Exception):
    """The guest called proc_exit."""

    def __init__(self, code: int) -> None:
        super().__init__(f"proc_exit({code})")
        self.code = code


class Caller(Protocol):
    """The guest instance a WASI call comes from."""

    host: Host

    def read(self, ptr: int, length: int) -> bytes: ...
    def write(self, ptr: int, data: bytes) -> None: ...


class Host(Protocol):
    """What the shim needs from the execution."""

    def log_bytes(self, stream: str, data: bytes) -> None: ...
    def now_ns(self) -> int: ...
    def random_bytes(self, n: int) -> bytes: ...


def fd_write(c: Caller, fd: int, iovs: int, iovs_len: int, nwritten: int) -> int:
    if fd not in (1, 2):
        return EBADF
    total = 0
    chunks = []
    for i in range(iovs_len):
        ptr, length = struct.unpack("<II", c.read(iovs + 8 * i, 8))
        chunks.append(c.read(ptr, length))
        total += length
    c.host.log_bytes("stdout" if fd == 1 else "stderr", b"".join(chunks))
    c.write(nwritten, struct.pack("<I", total))
    return ESUCCESS


def fd_read(c: Caller, fd: int, iovs: int, iovs_len: int, nread: int) -> int:
    if fd != 0:
        return EBADF
    c.write(nread, struct.pack("<I", 0))  # stdin is empty
    return ESUCCESS


def fd_close(c: Caller, fd: int) -> int:
    return ESUCCESS if fd in (0, 1, 2) else EBADF


def fd_seek(c: Caller, fd: int, offset: int, whence: int, newoffset: int) -> int:
    return ESPIPE if fd in (0, 1, 2) else EBADF


def fd_fdstat_get(c: Caller, fd: int, buf: int) -> int:
    if fd not in (0, 1, 2):
        return EBADF
    # filetype u8, flags u16, rights_base u64, rights_inheriting u64. Without the seek and
    # tell rights libc's isatty() says yes, so stdout is line-buffered: a reactor never
    # calls exit(), and a fully buffered stdout would lose its last lines.
    rights = 0xFFFFFFFF & ~(RIGHT_FD_SEEK | RIGHT_FD_TELL)
    c.write(buf, struct.pack("<BxHxxxxQQ", FILETYPE_CHARACTER_DEVICE, 0, rights, rights))
    return ESUCCESS


def fd_prestat_get(c: Caller, fd: int, buf: int) -> int:
    return EBADF  # no preopened directories


def sizes_get(c: Caller, count: int, size: int) -> int:
    c.write(count, struct.pack("<I", 0))
    c.write(size, struct.pack("<I", 0))
    return ESUCCESS


def empty_get(c: Caller, ptrs: int, buf: int) -> int:
    return ESUCCESS


def clock_time_get(c: Caller, clock_id: int, precision: int, out: int) -> int:
    if clock_id not in (0, 1):
        return EINVAL
    c.write(out, struct.pack("<Q", c.host.now_ns()))
    return ESUCCESS


def clock_res_get(c: Caller, clock_id: int, out: int) -> int:
    c.write(out, struct.pack("<Q", 1000))
    return ESUCCESS


def random_get(c: Caller, buf: int, length: int) -> int:
    c.write(buf, c.host.random_bytes(length))
    return ESUCCESS


def sched_yield(c: Caller) -> int:
    return ESUCCESS


def proc_exit(c: Caller, code: int) -> int:
    raise ProcExit(code)


# The implemented functions, by import name; every other one answers ENOSYS.
FUNCTIONS: dict[str, Callable[..., int]] = {
    "fd_write": fd_write,
    "fd_read": fd_read,
    "fd_close": fd_close,
    "fd_seek": fd_seek,
    "fd_fdstat_get": fd_fdstat_get,
    "fd_prestat_get": fd_prestat_get,
    "environ_sizes_get": sizes_get,
    "environ_get": empty_get,
    "args_sizes_get": sizes_get,
    "args_get": empty_get,
    "clock_time_get": clock_time_get,
    "clock_res_get": clock_res_get,
    "random_get": random_get,
    "sched_yield": sched_yield,
    "proc_exit": proc_exit,
}
