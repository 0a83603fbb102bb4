"""Execution leases: who may run an execution, for how long. Compare-and-swap on lease.json.

A lease names an owner host, an epoch that grows with every change of owner,
and an expiry the owner keeps pushing forward. Another host may take an
expired lease, a released one (owner None), or one handed to it. The lease is
the cheap first line; the create-only snapshot writes are the fencing that
holds even when two hosts both believe they own an execution.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from snapshots import keys
from snapshots.store import NotFound, ObjectStore, PreconditionFailed


class LeaseBusy(Exception):
    """Another live host holds the lease."""

    def __init__(self, execution_id: str, lease: Lease) -> None:
        left = max(0.0, lease.expires_at - time.time())
        super().__init__(f"execution {execution_id!r} is owned by {lease.owner} (lease expires in {left:.1f} s)")
        self.lease = lease


class LeaseLost(Exception):
    """Our lease changed under us: another host owns the execution now."""


@dataclass(frozen=True)
class Lease:
    owner: str | None
    epoch: int = 0
    expires_at: float = 0.0
    hostname: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    handoff_from: str | None = None
    handoff_at: float | None = None
    note: dict[str, Any] = field(default_factory=dict)  # e.g. the last migration, for status
    etag: str = field(default="", compare=False)

    def expired(self, now: float | None = None) -> bool:
        return (now or time.time()) >= self.expires_at

    def holder_alive(self, now: float | None = None) -> bool:
        return self.owner is not None and not self.expired(now)

    def to_json(self) -> bytes:
        d = asdict(self)
        d.pop("etag")
        return json.dumps(d, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, etag: str) -> Lease:
        raw: dict[str, Any] = json.loads(data)
        fields = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw and k != "etag"}
        return cls(**fields, etag=etag)


def read(store: ObjectStore, execution_id: str) -> Lease | None:
    try:
        data, etag = store.get_with_etag(keys.lease(execution_id))
    except NotFound:
        return None
    return Lease.from_json(data, etag)


def _write(store: ObjectStore, execution_id: str, new: Lease, old: Lease | None) -> Lease:
    key = keys.lease(execution_id)
    data = new.to_json()
    try:
        if old is None:
            etag = store.put(key, data, create_only=True)
        else:
            etag = store.put(key, data, if_match=old.etag)
    except PreconditionFailed:
        # A retried write whose first attempt landed (the reply was lost) finds its own bytes:
        # no other writer produces this owner, epoch, expiry and pid.
        current = read(store, execution_id)
        if current is None or current.to_json() != data:
            raise
        etag = current.etag
    return replace(new, etag=etag)


def acquire(
    store: ObjectStore,
    execution_id: str,
    owner: str,
    ttl: float,
    *,
    may_steal: Callable[[Lease], bool] | None = None,
) -> Lease:
    """Take the lease if it is free, expired, handed to `owner`, or `may_steal` allows; else LeaseBusy."""
    current = read(store, execution_id)
    now = time.time()
    if current is not None and current.holder_alive(now) and current.owner != owner:
        if may_steal is None or not may_steal(current):
            raise LeaseBusy(execution_id, current)
    epoch = (current.epoch if current else 0) + 1
    note = current.note if current else {}
    new = Lease(owner=owner, epoch=epoch, expires_at=now + ttl, note=note)
    if current is not None and current.owner == owner and current.handoff_from:
        new = replace(new, handoff_from=current.handoff_from, handoff_at=current.handoff_at)
    try:
        return _write(store, execution_id, new, current)
    except PreconditionFailed:
        latest = read(store, execution_id)
        raise LeaseBusy(execution_id, latest or new) from None


def renew(store: ObjectStore, execution_id: str, lease: Lease, ttl: float, **changes: Any) -> Lease:
    """Push the expiry forward (and apply `changes`); LeaseLost if someone else changed it."""
    new = replace(lease, expires_at=time.time() + ttl, **changes)
    try:
        return _write(store, execution_id, new, lease)
    except PreconditionFailed:
        raise LeaseLost(f"lease of {execution_id!r} changed under {lease.owner}") from None


def release(store: ObjectStore, execution_id: str, lease: Lease) -> Lease:
    """Give the lease up (the execution is parked or finished)."""
    new = replace(lease, owner=None, expires_at=0.0, handoff_from=None, handoff_at=None)
    try:
        return _write(store, execution_id, new, lease)
    except PreconditionFailed:
        raise LeaseLost(f"lease of {execution_id!r} changed under {lease.owner}") from None


def hand_off(
    store: ObjectStore, execution_id: str, lease: Lease, to_host: str, ttl: float, since: float | None = None
) -> Lease:
    """Give the lease to `to_host`, which restores and continues the execution.

    `since` is when the owner stopped running the guest: the target measures the pause from it."""
    now = time.time()
    new = replace(
        lease,
        owner=to_host,
        epoch=lease.epoch + 1,
        expires_at=now + ttl,
        handoff_from=lease.owner,
        handoff_at=since or now,
    )
    try:
        return _write(store, execution_id, new, lease)
    except PreconditionFailed:
        raise LeaseLost(f"lease of {execution_id!r} changed under {lease.owner}") from None


def holder_process_dead(lease: Lease) -> bool:
    """True if the lease's holder was a process on this machine that no longer exists."""
    if lease.hostname != socket.gethostname() or lease.pid <= 0:
        return False
    try:
        os.kill(lease.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
