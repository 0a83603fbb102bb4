"""A no-op object store: the baseline that durability overhead is measured against.

It discards what durability writes (snapshot and journal objects, the
terminal record included), so a run on it pays for encoding a snapshot but not
for storing it. Everything else - modules, execution records, leases, inbox,
due index - is kept in memory with the real semantics (create-only, compare-and-swap, sorted
listing), because the executor reads those back even in a run that never
restores. A NullStore cannot restore anything: after a "crash" it looks like
an execution that never committed a step.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterator

import xxhash

from snapshots.store import NotFound, ObjectInfo, PreconditionFailed

DISCARDED = ("/snap/", "/journal/")


def _discarded(key: str) -> bool:
    """Snapshot and journal objects: listing them finds none, so every run looks like a fresh start."""
    return key.startswith("executions/") and any(part in key for part in DISCARDED)


class NullStore:
    """Implements snapshots.store.ObjectStore; durability writes go nowhere."""

    def __init__(self) -> None:
        self.url = "null://"
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.discarded_puts = 0
        self.discarded_bytes = 0

    def get(self, key: str) -> bytes:
        with self._lock:
            try:
                return self._objects[key]
            except KeyError:
                raise NotFound(key) from None

    def get_range(self, key: str, start: int, length: int) -> bytes:
        return self.get(key)[start : start + length]

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        data = self.get(key)
        return data, xxhash.xxh3_128_hexdigest(data)

    def put(self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None) -> str:
        etag = xxhash.xxh3_128_hexdigest(data)
        if _discarded(key):
            with self._lock:
                self.discarded_puts += 1
                self.discarded_bytes += len(data)
            return etag
        with self._lock:
            current = self._objects.get(key)
            if create_only and current is not None:
                raise PreconditionFailed(key, "object exists (create-only write)")
            if if_match is not None:
                if current is None:
                    raise PreconditionFailed(key, "object does not exist (conditional write)")
                if xxhash.xxh3_128_hexdigest(current) != if_match:
                    raise PreconditionFailed(key, "ETag mismatch")
            self._objects[key] = bytes(data)
        return etag

    def list(self, prefix: str, start_after: str = "") -> Iterator[ObjectInfo]:
        with self._lock:
            found = sorted((k, len(v)) for k, v in self._objects.items() if k.startswith(prefix) and k > start_after)
        for key, size in found:
            yield ObjectInfo(key, size)

    def list_prefixes(self, prefix: str) -> builtins.list[str]:
        with self._lock:
            names = {k[len(prefix) :].split("/", 1)[0] for k in self._objects if k.startswith(prefix)}
        return sorted(names)

    def delete(self, key: str) -> None:
        with self._lock:
            self._objects.pop(key, None)
