"""One conformance suite for every ObjectStore backend: FileStore and S3Store (on SeaweedFS).

Restore, leases and fencing are written once on top of the protocol, so every
backend must agree on its semantics exactly: create-only puts and ETag
compare-and-swap (the fencing), ranges past the end, key order, prefixes,
pagination, and what happens when writers race.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError, ResponseStreamingError

from snapshots.file import FileStore
from snapshots.s3 import S3Store
from snapshots.store import NotFound, ObjectStore, PreconditionFailed, Unavailable
from snapshots.url import open_store

T = TypeVar("T")


@pytest.fixture(params=["file", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """A fresh, empty store of each kind."""
    if request.param == "file":
        return FileStore(tmp_path / "store")
    url: str = request.getfixturevalue("s3_url")
    return open_store(url)


def _keys(store: ObjectStore, prefix: str, start_after: str = "") -> list[str]:
    return [o.key for o in store.list(prefix, start_after)]


def _in_threads(n: int, fn: Callable[[int], T]) -> list[T]:
    """Run fn(0..n-1) on n threads released at the same instant (a barrier), to make them race."""
    barrier = threading.Barrier(n)

    def go(i: int) -> T:
        barrier.wait(timeout=30)
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(go, range(n)))


# -- conditional writes --------------------------------------------------------------


def test_create_only_put_twice_fails_and_keeps_the_first(store: ObjectStore) -> None:
    etag = store.put("executions/e/snap/000000000001", b"first", create_only=True)
    with pytest.raises(PreconditionFailed) as exc:
        store.put("executions/e/snap/000000000001", b"second", create_only=True)
    assert exc.value.key == "executions/e/snap/000000000001"
    assert store.get_with_etag("executions/e/snap/000000000001") == (b"first", etag)


def test_if_match_replaces_only_with_the_current_etag(store: ObjectStore) -> None:
    v1 = store.put("lease.json", b"v1", create_only=True)
    v2 = store.put("lease.json", b"v2", if_match=v1)
    assert v2 != v1
    assert store.get_with_etag("lease.json") == (b"v2", v2), "put's ETag must be the one a later read sees"

    with pytest.raises(PreconditionFailed):
        store.put("lease.json", b"stale writer", if_match=v1)
    assert store.get("lease.json") == b"v2", "a failed CAS must not write"

    v3 = store.put("lease.json", b"v3", if_match=v2)
    assert store.get_with_etag("lease.json") == (b"v3", v3)

    with pytest.raises(PreconditionFailed):
        store.put("no-such-lease.json", b"x", if_match=v3)
    with pytest.raises(NotFound):
        store.get("no-such-lease.json")


def test_unconditional_put_overwrites(store: ObjectStore) -> None:
    store.put("k", b"one")
    etag = store.put("k", b"two")
    assert store.get_with_etag("k") == (b"two", etag)


# -- reads ----------------------------------------------------------------------------


def test_get_and_get_range(store: ObjectStore) -> None:
    data = bytes(range(256)) * 4
    store.put("blob", data)
    store.put("empty", b"")
    assert store.get("blob") == data
    assert store.get_range("blob", 0, 8) == data[:8]
    assert store.get_range("blob", 1000, 10) == data[1000:1010]
    assert store.get_range("blob", 1020, 100) == data[1020:], "a range longer than the object is cut at its end"
    assert store.get_range("blob", len(data), 10) == b"", "a range starting at the end is empty"
    assert store.get_range("blob", len(data) + 500, 10) == b"", "a range starting past the end is empty"
    assert store.get("empty") == b""
    assert store.get_range("empty", 0, 16) == b""


def test_missing_keys_raise_not_found_and_delete_is_idempotent(store: ObjectStore) -> None:
    for read in (
        lambda: store.get("missing/key"),
        lambda: store.get_range("missing/key", 0, 8),
        lambda: store.get_with_etag("missing/key"),
    ):
        with pytest.raises(NotFound) as exc:
            read()
        assert exc.value.key == "missing/key"

    store.delete("missing/key")  # absent: fine
    store.put("present/key", b"x")
    store.delete("present/key")
    store.delete("present/key")
    with pytest.raises(NotFound):
        store.get("present/key")
    assert _keys(store, "present/") == []


# -- listing --------------------------------------------------------------------------

LAYOUT = [
    "due/0000000001000-e1",
    "executions/e1/execution.json",
    "executions/e1/lease.json",
    "executions/e1/snap/000000000001",
    "executions/e1/snap/000000000002",
    "executions/e1/snap/000000000010",
    "executions/e2/snap/000000000001",
    "executions/e10/execution.json",
    "hosts/h1.json",
]


@pytest.fixture
def laid_out(store: ObjectStore) -> ObjectStore:
    """The store with LAYOUT written in a shuffled order (list must sort, not echo write order)."""
    keys = LAYOUT[:]
    random.Random(7).shuffle(keys)
    for key in keys:
        store.put(key, key.encode())
    return store


def test_list_is_in_key_order_with_sizes(laid_out: ObjectStore) -> None:
    objects = list(laid_out.list(""))
    assert [o.key for o in objects] == sorted(LAYOUT)
    assert all(o.size == len(o.key) for o in objects)


def test_list_filters_by_prefix(laid_out: ObjectStore) -> None:
    assert _keys(laid_out, "executions/e1/snap/") == [
        "executions/e1/snap/000000000001",
        "executions/e1/snap/000000000002",
        "executions/e1/snap/000000000010",
    ]
    # A prefix is a string prefix, not a directory: e1 must not match e10, and vice versa.
    assert _keys(laid_out, "executions/e1/") == [k for k in sorted(LAYOUT) if k.startswith("executions/e1/")]
    assert _keys(laid_out, "executions/e10/") == ["executions/e10/execution.json"]
    assert _keys(laid_out, "executions/e1/snap/00000000001") == ["executions/e1/snap/000000000010"]
    assert _keys(laid_out, "nothing/") == []


def test_list_start_after(laid_out: ObjectStore) -> None:
    prefix = "executions/e1/snap/"
    assert _keys(laid_out, prefix, prefix + "000000000001") == [prefix + "000000000002", prefix + "000000000010"]
    assert _keys(laid_out, prefix, prefix + "000000000005") == [prefix + "000000000010"], "start_after need not exist"
    assert _keys(laid_out, prefix, prefix + "000000000010") == []
    assert _keys(laid_out, "", "executions/e2/snap/000000000001") == ["hosts/h1.json"]


def test_list_prefixes(laid_out: ObjectStore) -> None:
    assert laid_out.list_prefixes("") == ["due", "executions", "hosts"]
    assert laid_out.list_prefixes("executions/") == ["e1", "e10", "e2"]
    assert laid_out.list_prefixes("executions/e1/") == ["execution.json", "lease.json", "snap"]
    assert laid_out.list_prefixes("nothing/") == []


@pytest.fixture(
    params=[
        "file",
        pytest.param(
            "s3",
            marks=[
                pytest.mark.s3,
                pytest.mark.xfail(
                    strict=True,
                    reason="SeaweedFS 4.48 lists a 'directory' before sibling keys that sort before '/' "
                    "(x/a/b before x/a-b); the engine only lists flat prefixes (snap/, journal/, inbox/, due/), "
                    "where the order is right",
                ),
            ],
        ),
    ]
)
def byte_order_store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "file":
        return FileStore(tmp_path / "store")
    return open_store(request.getfixturevalue("s3_url"))


def test_list_is_byte_order_across_slashes(byte_order_store: ObjectStore) -> None:
    """'-' (0x2d) < '.' (0x2e) < '/' (0x2f): S3 order is plain byte order, not "directories first"."""
    for key in ("x/a/b", "x/a.b", "x/a-b", "x/a0"):
        byte_order_store.put(key, b"")
    assert _keys(byte_order_store, "x/") == ["x/a-b", "x/a.b", "x/a/b", "x/a0"]
    assert _keys(byte_order_store, "x/a") == ["x/a-b", "x/a.b", "x/a/b", "x/a0"]


@pytest.mark.s3
def test_list_paginates_beyond_1000_keys(s3_url: str) -> None:
    """S3 answers at most 1000 keys a page: list and list_prefixes must follow continuation tokens."""
    store = open_store(s3_url)
    n = 1100
    keys = [f"many/{i:05d}" for i in range(n)]
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(lambda k: store.put(k, b"."), keys))
    store.put("manz", b"after the prefix")

    assert _keys(store, "many/") == keys
    assert _keys(store, "many/", keys[99]) == keys[100:], "start_after plus a page boundary"
    assert _keys(store, "many/", keys[1049]) == keys[1050:]
    assert store.list_prefixes("many/") == [k.removeprefix("many/") for k in keys]
    assert len(_keys(store, "")) == n + 1


# -- races ----------------------------------------------------------------------------


def test_create_only_race_has_exactly_one_winner(store: ObjectStore) -> None:
    """The fencing of two hosts committing the same step: one put lands, every other one is refused."""
    key = "executions/race/snap/000000000001"

    def attempt(i: int) -> str | None:
        try:
            store.put(key, f"writer {i}".encode(), create_only=True)
        except PreconditionFailed:
            return None
        return f"writer {i}"

    results = _in_threads(16, attempt)
    winners = [r for r in results if r is not None]
    assert len(winners) == 1, f"{len(winners)} create-only puts of one key succeeded: {winners}"
    assert store.get(key) == winners[0].encode(), "the object is not the winner's"


def test_cas_counter_race_loses_no_increment(store: ObjectStore) -> None:
    """Read-modify-write with if_match and retry: the count is exact only if CAS is atomic."""
    store.put("counter", b"0", create_only=True)
    per_thread = 8

    def increment(_: int) -> int:
        conflicts = 0
        for _ in range(per_thread):
            while True:
                data, etag = store.get_with_etag("counter")
                try:
                    store.put("counter", str(int(data) + 1).encode(), if_match=etag)
                    break
                except PreconditionFailed:
                    conflicts += 1
        return conflicts

    conflicts = _in_threads(8, increment)
    assert int(store.get("counter")) == 8 * per_thread
    assert sum(conflicts) > 0, "the threads never collided: the race proved nothing"


# -- S3 error mapping (no server: a client that fails on cue) ----------------------------


class _FailingBody:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self) -> bytes:
        raise self.error


class _ScriptedClient:
    """Stands in for boto3's client: every call raises `error`, or returns a body that fails to stream."""

    def __init__(self, error: Exception | None = None, body_error: Exception | None = None) -> None:
        self.error = error
        self.body_error = body_error

    def _answer(self, **_: object) -> dict[str, object]:
        if self.error is not None:
            raise self.error
        assert self.body_error is not None
        return {"Body": _FailingBody(self.body_error), "ETag": '"e"'}

    get_object = put_object = head_object = _answer


def _client_error(status: int, code: str) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        (_ScriptedClient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1")), Unavailable),
        (_ScriptedClient(_client_error(503, "SlowDown")), Unavailable),
        (_ScriptedClient(_client_error(500, "InternalError")), Unavailable),
        (_ScriptedClient(body_error=ResponseStreamingError(error="connection reset")), Unavailable),
        (_ScriptedClient(body_error=ReadTimeoutError(endpoint_url="http://127.0.0.1:1")), Unavailable),
        (_ScriptedClient(_client_error(404, "NoSuchKey")), NotFound),
    ],
    ids=["refused", "503", "500", "body-reset", "body-timeout", "404"],
)
def test_s3_errors_map_to_store_errors(client: _ScriptedClient, expected: type[Exception]) -> None:
    """Only Unavailable is retried while a store restarts: a transient error that escapes as anything
    else (a body that breaks while streaming, say) ends the execution instead of pausing it."""
    store = S3Store("bucket", client=client)
    for read in (lambda: store.get("k"), lambda: store.get_range("k", 0, 4), lambda: store.get_with_etag("k")):
        with pytest.raises(expected):
            read()


def test_s3_put_maps_412_to_precondition_failed() -> None:
    store = S3Store("bucket", client=_ScriptedClient(_client_error(412, "PreconditionFailed")))
    with pytest.raises(PreconditionFailed):
        store.put("k", b"x", create_only=True)
    with pytest.raises(PreconditionFailed):
        store.put("k", b"x", if_match="e")
