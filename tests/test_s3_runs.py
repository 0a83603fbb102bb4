"""Whole executions on S3 (SeaweedFS): a SIGKILL and resume, and the S3 server going away mid-run.

The same promises as on a local directory: the output equals an uninterrupted
run's, no committed step runs twice, and one step costs one snapshot object.
On top, S3 is a server that can restart: a run must wait for it and go on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from s3server import SeaweedFS

from conftest import ACTIVITIES, cli, cli_bg, kill9, ledger_counts, new_bucket, wait_for

pytestmark = pytest.mark.s3

EXECUTION_ID = "order-s3"  # activity results derive from it: every run here uses the same one
ORDER = "order-7"


@dataclass(frozen=True)
class Reference:
    stdout: str
    returncode: int
    keys: frozenset[str]  # idempotency keys of the activity steps
    snap_objects: int


def _bucket(url: str) -> str:
    return url.removeprefix("s3://").split("/", 1)[0]


def _snap_keys(server: SeaweedFS, bucket: str) -> list[str]:
    """The snapshot objects of EXECUTION_ID, straight from the bucket (not through the product's store)."""
    resp = server.client().list_objects_v2(Bucket=bucket, Prefix=f"executions/{EXECUTION_ID}/snap/")
    assert not resp.get("IsTruncated"), "more snapshot objects than one page: something wrote far too many"
    return [o["Key"] for o in resp.get("Contents", [])]


def _run_args(wasm: dict[str, Path], url: str) -> list[str]:
    return ["run", str(wasm["order_fulfillment"]), "--id", EXECUTION_ID, "--store", url, "--input", ORDER]


def _assert_ledger(ledger: Path, ref: Reference, *, twice_allowed: int) -> None:
    """The same steps as the reference ran; none more than twice, at most `twice_allowed` of them twice."""
    counts = ledger_counts(ledger)
    assert set(counts) == ref.keys, f"a different set of steps ran: {sorted(counts)}"
    assert all(c <= 2 for c in counts.values()), f"a step ran more than twice: {counts}"
    twice = [k for k, c in counts.items() if c == 2]
    assert len(twice) <= twice_allowed, f"more than the in-flight step ran twice: {twice}"


def _assert_one_object_per_step(server: SeaweedFS, bucket: str, ref: Reference) -> None:
    """Steps + 1 terminal record, numbered 1..n without gaps: each step cost exactly one snapshot PUT."""
    snaps = _snap_keys(server, bucket)
    assert len(snaps) == len(ref.keys) + 1, f"{len(snaps)} snapshot objects for {len(ref.keys)} steps: {snaps}"
    assert [int(k.rsplit("/", 1)[1]) for k in snaps] == list(range(1, len(snaps) + 1))


@pytest.fixture(scope="module")
def reference(seaweed: SeaweedFS, wasm: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """One uninterrupted run of order_fulfillment on a bucket of its own: what every other run must equal."""
    bucket = new_bucket(seaweed, "ref")
    ledger = tmp_path_factory.mktemp("ref") / "ref.ledger"
    r = cli(*_run_args(wasm, f"s3://{bucket}"), "-a", ACTIVITIES, TD_LEDGER=str(ledger), **seaweed.env())
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('{"order":"order-7"'), r.stdout
    keys = frozenset(ledger_counts(ledger))
    assert len(keys) == 5, f"order_fulfillment has five activity steps, the ledger shows {sorted(keys)}"
    _assert_ledger(ledger, Reference(r.stdout, 0, keys, 0), twice_allowed=0)
    snap_objects = len(_snap_keys(seaweed, bucket))
    ref = Reference(r.stdout, r.returncode, keys, snap_objects)
    _assert_one_object_per_step(seaweed, bucket, ref)
    return ref


def test_sigkill_after_two_snapshots_then_resume(
    seaweed: SeaweedFS, s3_url: str, wasm: dict[str, Path], tmp_path: Path, reference: Reference
) -> None:
    bucket = _bucket(s3_url)
    ledger = tmp_path / "crash.ledger"
    proc = cli_bg(*_run_args(wasm, s3_url), "-a", ACTIVITIES, TD_LEDGER=str(ledger), TD_ACTIVITY_DELAY="0.1")
    try:
        wait_for(
            lambda: len(_snap_keys(seaweed, bucket)) >= 2 or proc.poll() is not None, timeout=60, what="2 snapshots"
        )
        assert proc.poll() is None, f"finished before the kill: {proc.stderr.read() if proc.stderr else ''}"
    finally:
        kill9(proc)
    at_kill = len(_snap_keys(seaweed, bucket))
    assert 2 <= at_kill <= len(reference.keys), f"{at_kill} snapshot objects at the kill: not mid-run"

    resumed = cli("resume", EXECUTION_ID, "--store", s3_url, "-a", ACTIVITIES, TD_LEDGER=str(ledger))
    assert resumed.returncode == reference.returncode, resumed.stderr
    assert resumed.stdout == reference.stdout, "output differs from the uninterrupted run"
    _assert_ledger(ledger, reference, twice_allowed=1)
    _assert_one_object_per_step(seaweed, bucket, reference)

    status = cli("status", EXECUTION_ID, "--store", s3_url, "--json")
    assert status.returncode == 0, status.stderr
    assert '"status": "completed"' in status.stdout, status.stdout


def test_run_survives_an_s3_server_restart(
    seaweed: SeaweedFS, s3_url: str, wasm: dict[str, Path], tmp_path: Path, reference: Reference
) -> None:
    """The store vanishes mid-run for ~5 s (SIGTERM, 3 s down, restart): the run waits and completes by itself."""
    bucket = _bucket(s3_url)
    ledger = tmp_path / "restart.ledger"
    proc = cli_bg(*_run_args(wasm, s3_url), "-a", ACTIVITIES, "-v", TD_LEDGER=str(ledger), TD_ACTIVITY_DELAY="0.3")
    try:
        wait_for(
            lambda: len(_snap_keys(seaweed, bucket)) >= 1 or proc.poll() is not None, timeout=60, what="a snapshot"
        )
        assert proc.poll() is None, f"finished before the restart: {proc.stderr.read() if proc.stderr else ''}"
        try:
            seaweed.stop()
            down_since = time.monotonic()
            time.sleep(3)  # the outage itself: nothing to poll for
            assert proc.poll() is None, "the run gave up while the store was down"
        finally:
            seaweed.start()
        outage = time.monotonic() - down_since
        stdout, stderr = proc.communicate(timeout=120)
    except BaseException:
        kill9(proc)
        raise
    assert outage >= 3
    assert proc.returncode == reference.returncode, f"run failed after the restart:\n{stderr}"
    assert stdout == reference.stdout, f"output differs from the uninterrupted run:\n{stderr}"
    assert "store unavailable" in stderr, "the run never noticed the outage: the test proved nothing"
    _assert_ledger(ledger, reference, twice_allowed=1)
    _assert_one_object_per_step(seaweed, bucket, reference)
