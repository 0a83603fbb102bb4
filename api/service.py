"""Operations on executions shared by the CLI and the HTTP API: start, signal, cancel, migrate.

They only write to the store (an execution record, an inbox message, a due
entry); whichever host owns or picks up the execution acts on them.
"""

from __future__ import annotations

import base64
import time

from runtime.observe import TERMINAL, ExecutionStatus, describe
from snapshots import inbox, keys
from snapshots.records import ExecutionRecord, create_execution, list_hosts
from snapshots.store import NotFound, ObjectStore


class BadRequest(ValueError):
    """The request cannot be applied to this execution (the message says why)."""


class UnknownModule(LookupError):
    pass


class UnknownHost(LookupError):
    pass


def new_execution_id() -> str:
    return "ex-" + keys.new_ulid().lower()


def start(
    store: ObjectStore,
    module: str,
    *,
    execution_id: str | None = None,
    input: bytes = b"",
    mode: str = "snapshot",
    snapshot_every: int = 1,
) -> tuple[ExecutionRecord, bool]:
    """Create an execution (idempotent on id) and make it due, so a host picks it up."""
    keys.validate_module_id(module)
    try:
        store.get_range(keys.module(module), 0, 8)
    except NotFound:
        raise UnknownModule(f"no module {module} in the store; upload it first") from None
    if mode == "hybrid" and snapshot_every < 2:
        snapshot_every = 16
    record = ExecutionRecord(
        id=keys.validate_id(new_execution_id() if execution_id is None else execution_id),
        module=module,
        input_b64=base64.b64encode(input).decode(),
        mode=mode,  # type: ignore[arg-type]
        snapshot_every=snapshot_every if mode == "hybrid" else 1,
    )
    record, created = create_execution(store, record)
    if created:
        inbox.mark_due(store, record.id, inbox.NOW)
    return record, created


def _live(store: ObjectStore, execution_id: str, action: str) -> ExecutionStatus:
    st = describe(store, execution_id)
    if st.status in TERMINAL:
        raise BadRequest(f"execution {execution_id!r} has {st.status}; cannot {action} it")
    return st


def signal(store: ObjectStore, execution_id: str, name: str, payload: bytes = b"") -> None:
    if not name or len(name) > 256:
        raise BadRequest("signal name must be 1-256 characters")
    _live(store, execution_id, "signal")
    inbox.post(store, execution_id, "signal", name, payload)
    inbox.mark_due(store, execution_id, inbox.NOW)


def cancel(store: ObjectStore, execution_id: str) -> None:
    _live(store, execution_id, "cancel")
    inbox.post(store, execution_id, "cancel")
    inbox.mark_due(store, execution_id, inbox.NOW)


def migrate(store: ObjectStore, execution_id: str, to_host: str) -> ExecutionStatus:
    keys.validate_id(to_host, "host id")
    hosts = {h.host_id: h for h in list_hosts(store)}
    target = hosts.get(to_host)
    if target is None:
        raise UnknownHost(f"no host {to_host!r}; known hosts: {', '.join(sorted(hosts)) or 'none'}")
    if not target.alive():
        raise BadRequest(f"host {to_host!r} has not sent a heartbeat for {time.time() - target.heartbeat_at:.0f} s")
    st = _live(store, execution_id, "migrate")
    inbox.post(store, execution_id, "migrate", to=to_host, requested_at=time.time())
    inbox.mark_due(store, execution_id, inbox.NOW)
    return st
