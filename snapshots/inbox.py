"""Messages to an execution (signals, cancel, migrate) and the due index that wakes it.

Messages are create-only objects under `executions/<id>/inbox/`, named by ULID
so they list in arrival order. The executor consumes them and records what it
consumed in its next snapshot, so a message is never applied twice.

The due index (`due/<ms>-<id>`) is how parked executions cost nothing: a host
lists the index, takes the entries whose time has come, and only then touches
the execution. Entries are hints - whoever acts re-checks the execution - so
a stale or duplicate entry is harmless.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from snapshots import keys
from snapshots.store import NotFound, ObjectStore

KINDS = ("signal", "cancel", "migrate")


@dataclass(frozen=True)
class Message:
    key: str
    kind: str
    name: str = ""
    payload: bytes = b""
    meta: dict[str, Any] = field(default_factory=dict)


def post(
    store: ObjectStore, execution_id: str, kind: str, name: str = "", payload: bytes = b"", **meta: Any
) -> Message:
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}; expected one of {', '.join(KINDS)}")
    key = keys.inbox(execution_id, keys.new_ulid(), kind)
    body = {"name": name, "payload_b64": base64.b64encode(payload).decode(), "meta": meta}
    store.put(key, json.dumps(body).encode(), create_only=True)
    return Message(key, kind, name, payload, meta)


def read_all(store: ObjectStore, execution_id: str) -> list[Message]:
    out = []
    for obj in store.list(keys.inbox_prefix(execution_id)):
        kind = obj.key.rsplit(".", 1)[-1]
        try:
            body = json.loads(store.get(obj.key))
        except (NotFound, ValueError):
            continue  # consumed (deleted) while we listed, or garbage: skip
        out.append(
            Message(
                obj.key,
                kind,
                str(body.get("name", "")),
                base64.b64decode(body.get("payload_b64", "")),
                body.get("meta", {}),
            )
        )
    return out


NOW = 0  # "look at it as soon as you can": new executions, signals, commands, hand-offs


def mark_due(store: ObjectStore, execution_id: str, at_ms: int) -> str:
    key = keys.due(at_ms, execution_id)
    store.put(key, b"")
    return key


def clear_due(store: ObjectStore, execution_id: str, *at_ms: int | None) -> None:
    """Delete the entries this execution has at the given times (NOW and a timer, say)."""
    for at in at_ms:
        if at is not None:
            store.delete(keys.due(at, execution_id))


@dataclass(frozen=True)
class DueEntry:
    key: str
    at_ms: int
    execution_id: str


def list_due(store: ObjectStore, now_ms: int | None = None) -> list[DueEntry]:
    """Entries due at or before `now_ms` (all of them if None), earliest first."""
    out = []
    for obj in store.list(keys.DUE_PREFIX):
        at, execution_id = keys.parse_due(obj.key)
        if now_ms is not None and at > now_ms:
            break  # keys sort by time
        out.append(DueEntry(obj.key, at, execution_id))
    return out
