"""The object-store protocol every backend implements, and its errors.

Like litestream's ReplicaClient: a handful of operations on keys and bytes, no
knowledge of what the bytes mean. Restore, compaction, leases and retention
are written once on top of this protocol, never per backend.

Semantics every backend guarantees:
- `put(create_only=True)` is atomic and fails with PreconditionFailed if the
  key exists: this is the fencing that stops a second owner of an execution.
- `put(if_match=etag)` replaces the object only if its current ETag matches
  (compare-and-swap), else PreconditionFailed.
- `list` returns keys in lexicographic order.
- Transient failures raise Unavailable; callers retry them (see `retrying`).
"""

from __future__ import annotations

import builtins
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar


class StoreError(Exception):
    """Base class of store errors."""


class NotFound(StoreError):
    """The key does not exist."""

    def __init__(self, key: str) -> None:
        super().__init__(f"object not found: {key}")
        self.key = key


class PreconditionFailed(StoreError):
    """A create-only write found the key taken, or an ETag did not match."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(f"{key}: {detail}")
        self.key = key


class Unavailable(StoreError):
    """The store could not be reached or answered with a transient error."""


class CorruptObject(StoreError):
    """An object's bytes do not match their checksum or format."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(f"corrupt object {key}: {detail}")
        self.key = key


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


class ObjectStore(Protocol):
    """A bucket or directory of immutable-by-convention objects."""

    url: str

    def get(self, key: str) -> bytes:
        """The object's bytes; NotFound if absent."""
        ...

    def get_range(self, key: str, start: int, length: int) -> bytes:
        """Up to `length` bytes from offset `start`; NotFound if absent."""
        ...

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        """The object's bytes and ETag, for a later compare-and-swap."""
        ...

    def put(self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None) -> str:
        """Write an object durably and return its ETag (see the module doc for the conditions)."""
        ...

    def list(self, prefix: str, start_after: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with `prefix`, in key order, after `start_after`."""
        ...

    def list_prefixes(self, prefix: str) -> builtins.list[str]:
        """The distinct next path segments under `prefix` (like S3's CommonPrefixes), sorted."""
        ...

    def delete(self, key: str) -> None:
        """Remove an object; absent keys are fine."""
        ...


T = TypeVar("T")


def retrying(
    op: Callable[[], T],
    *,
    deadline_s: float = 300.0,
    on_retry: Callable[[int, Exception, float], None] | None = None,
) -> T:
    """Run `op`, retrying Unavailable with capped exponential backoff and jitter.

    An execution whose store goes away pauses here and continues when the store
    is back, up to `deadline_s`; then the last error propagates.
    """
    start = time.monotonic()
    attempt = 0
    while True:
        try:
            return op()
        except Unavailable as e:
            attempt += 1
            delay = min(5.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2)
            if time.monotonic() + delay - start > deadline_s:
                raise
            if on_retry is not None:
                on_retry(attempt, e, delay)
            time.sleep(delay)
