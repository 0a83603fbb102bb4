"""Execution records (execution.json) and host heartbeats: small JSON documents in the store."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeVar

from snapshots import keys
from snapshots.store import NotFound, ObjectStore, PreconditionFailed

Mode = Literal["snapshot", "replay", "hybrid"]
MODES: tuple[str, ...] = ("snapshot", "replay", "hybrid")


class _JsonRecord:
    """A dataclass stored as one JSON document; unknown fields are ignored (newer writers)."""

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()  # type: ignore[call-overload]

    @classmethod
    def from_json(cls: type[R], data: bytes) -> R:
        raw: dict[str, Any] = json.loads(data)
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})  # type: ignore[attr-defined]


R = TypeVar("R", bound=_JsonRecord)


class ExecutionConflict(Exception):
    """An execution with this id exists with different parameters."""


class UnknownExecution(LookupError):
    def __init__(self, execution_id: str) -> None:
        super().__init__(f"no execution with id {execution_id!r}")
        self.execution_id = execution_id


@dataclass(frozen=True)
class ExecutionRecord(_JsonRecord):
    id: str
    module: str  # sha256 of the prepared module
    input_b64: str = ""
    mode: Mode = "snapshot"
    snapshot_every: int = 1  # hybrid: snapshot every K-th step
    created_at: float = field(default_factory=time.time)
    entry: str = "run"

    @property
    def input(self) -> bytes:
        return base64.b64decode(self.input_b64)

    def same_params(self, other: ExecutionRecord) -> bool:
        mine, theirs = asdict(self), asdict(other)
        mine.pop("created_at")
        theirs.pop("created_at")
        return mine == theirs


def create_execution(store: ObjectStore, record: ExecutionRecord) -> tuple[ExecutionRecord, bool]:
    """Create-only; returns (record, created). Same params again is idempotent; different ones conflict."""
    keys.validate_id(record.id)
    keys.validate_module_id(record.module)
    if record.mode not in MODES:
        raise ValueError(f"unknown mode {record.mode!r}; expected one of {', '.join(MODES)}")
    if record.snapshot_every < 1:
        raise ValueError(f"snapshot_every must be >= 1, got {record.snapshot_every}")
    try:
        store.put(keys.execution(record.id), record.to_json(), create_only=True)
        return record, True
    except PreconditionFailed:
        existing = read_execution(store, record.id)
        if existing.same_params(record):
            return existing, False
        raise ExecutionConflict(
            f"execution {record.id!r} exists with different parameters "
            f"(module {existing.module[:12]}, mode {existing.mode})"
        ) from None


def read_execution(store: ObjectStore, execution_id: str) -> ExecutionRecord:
    try:
        return ExecutionRecord.from_json(store.get(keys.execution(execution_id)))
    except NotFound:
        raise UnknownExecution(execution_id) from None


def list_execution_ids(store: ObjectStore) -> list[str]:
    return [p.rstrip("/") for p in store.list_prefixes("executions/")]


@dataclass
class HostRecord(_JsonRecord):
    host_id: str
    url: str = ""
    started_at: float = field(default_factory=time.time)
    heartbeat_at: float = field(default_factory=time.time)
    ttl: float = 10.0
    executions: list[str] = field(default_factory=list)
    capacity: int = 0

    def alive(self, now: float | None = None) -> bool:
        return (now or time.time()) - self.heartbeat_at <= self.ttl


def list_hosts(store: ObjectStore) -> list[HostRecord]:
    out = []
    for obj in store.list(keys.HOSTS_PREFIX):
        try:
            out.append(HostRecord.from_json(store.get(obj.key)))
        except (NotFound, ValueError, TypeError):
            continue
    return out
