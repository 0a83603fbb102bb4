"""The storage layout. Keys are the contract between hosts: change nothing here lightly.

modules/<sha256>.wasm               prepared modules
executions/<id>/execution.json      create-only: module, input, mode, created
executions/<id>/snap/<seq>          create-only: one object per step
executions/<id>/journal/<seq>       replay mode, create-only
executions/<id>/lease.json          owner host, epoch, expiry (compare-and-swap)
executions/<id>/inbox/<ulid>.<kind> signals and commands
executions/<id>/history/<seq>.json  step summaries of pruned snapshots (retention)
due/<ms>-<id>                       "look at this execution at or after <ms>"
hosts/<host-id>.json                heartbeat
"""

from __future__ import annotations

import os
import re
import time

SEQ_DIGITS = 12
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class InvalidId(ValueError):
    """An id that could escape its key prefix or is not printable."""


def validate_id(value: str, what: str = "execution id") -> str:
    """Return `value` if it is a safe id: [A-Za-z0-9][A-Za-z0-9_.-]*, at most 128 chars, no '..'."""
    if not isinstance(value, str) or not _ID_RE.match(value) or ".." in value:
        raise InvalidId(
            f"invalid {what} {value!r}: use 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit, without '..'"
        )
    return value


def validate_module_id(value: str) -> str:
    if not isinstance(value, str) or not _SHA_RE.match(value):
        raise InvalidId(f"invalid module id {value!r}: expected a lowercase sha256 hex digest")
    return value


def module(sha256: str) -> str:
    return f"modules/{validate_module_id(sha256)}.wasm"


def execution_prefix(execution_id: str) -> str:
    return f"executions/{validate_id(execution_id)}/"


def execution(execution_id: str) -> str:
    return execution_prefix(execution_id) + "execution.json"


def snap_prefix(execution_id: str) -> str:
    return execution_prefix(execution_id) + "snap/"


def snap(execution_id: str, seq: int) -> str:
    return f"{snap_prefix(execution_id)}{seq:0{SEQ_DIGITS}d}"


def journal_prefix(execution_id: str) -> str:
    return execution_prefix(execution_id) + "journal/"


def journal(execution_id: str, seq: int) -> str:
    return f"{journal_prefix(execution_id)}{seq:0{SEQ_DIGITS}d}"


def seq_of(key: str) -> int:
    """The sequence number at the end of a snap/ or journal/ key."""
    return int(key.rsplit("/", 1)[1])


def lease(execution_id: str) -> str:
    return execution_prefix(execution_id) + "lease.json"


def inbox_prefix(execution_id: str) -> str:
    return execution_prefix(execution_id) + "inbox/"


def inbox(execution_id: str, ulid: str, kind: str) -> str:
    return f"{inbox_prefix(execution_id)}{ulid}.{kind}"


def history_prefix(execution_id: str) -> str:
    return execution_prefix(execution_id) + "history/"


def history(execution_id: str, last_seq: int) -> str:
    return f"{history_prefix(execution_id)}{last_seq:0{SEQ_DIGITS}d}.json"


DUE_PREFIX = "due/"


def due(at_ms: int, execution_id: str) -> str:
    return f"{DUE_PREFIX}{max(0, at_ms):013d}-{validate_id(execution_id)}"


def parse_due(key: str) -> tuple[int, str]:
    stamp, _, execution_id = key[len(DUE_PREFIX) :].partition("-")
    return int(stamp), execution_id


HOSTS_PREFIX = "hosts/"


def host(host_id: str) -> str:
    return f"{HOSTS_PREFIX}{validate_id(host_id, 'host id')}.json"


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid() -> str:
    """A ULID: 48-bit millisecond time + 80 random bits, Crockford base32; sorts by time."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))
