"""Shared fixtures: built guests, a CLI runner, store helpers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from guest.toolchain import build

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "guest" / "examples"
ACTIVITIES = str(EXAMPLES / "activities.py")
TEST_ACTIVITIES = str(REPO / "tests" / "activities.py")
CACHE = Path(os.environ.get("TD_CACHE_DIR") or REPO / ".cache")

GUESTS = {
    "order_fulfillment": EXAMPLES / "order_fulfillment.c",
    "transfer": EXAMPLES / "transfer.c",
    "deep_state": EXAMPLES / "deep_state.c",
    "approval": EXAMPLES / "approval.c",
    "reminder": EXAMPLES / "reminder.c",
    "bench": REPO / "benchmarks" / "guests" / "bench.c",
    "trap": REPO / "tests" / "guests" / "trap.c",
    "hog": REPO / "tests" / "guests" / "hog.c",
    "spin": REPO / "tests" / "guests" / "spin.c",
    "script": REPO / "tests" / "guests" / "script.c",
}


@pytest.fixture(scope="session")
def wasm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every guest, built and prepared once per session."""
    out = tmp_path_factory.mktemp("wasm")
    built = {}
    for name, src in GUESTS.items():
        if src.exists():
            built[name] = out / f"{name}.wasm"
            build([src], built[name], cache_dir=CACHE)
    return built


def env(**extra: str) -> dict[str, str]:
    e = dict(os.environ, TD_CACHE_DIR=str(CACHE))
    e.pop("TD_STORE", None)
    e.update(extra)
    return e


def cli(*args: str, timeout: float = 120, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """Run `tardigrade ARGS` in a new process."""
    return subprocess.run(
        [sys.executable, "-m", "api", *args], capture_output=True, text=True, timeout=timeout, env=env(**extra_env)
    )


def cli_bg(*args: str, **extra_env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "api", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(**extra_env),
    )


def wait_for(cond: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def kill9(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)


def count_files(path: Path) -> int:
    return len(list(path.iterdir())) if path.is_dir() else 0


def ledger_counts(path: Path) -> dict[str, int]:
    """idempotency key -> how many attempts finished, from a TD_LEDGER file."""
    counts: dict[str, int] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key = line.split()[0]
            counts[key] = counts.get(key, 0) + 1
    return counts


# -- S3 (SeaweedFS) ------------------------------------------------------------------
# One `weed mini` per session; every test that asks for `s3_url` gets a bucket of its own
# and the AWS_* variables, so `open_store(url)` here and `cli()` subprocesses reach it.
# Mark such tests `@pytest.mark.s3` (`-m "not s3"` leaves them out).

import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402

from s3server import SeaweedFS, weed_binary  # noqa: E402


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedFS]:
    """A running SeaweedFS for the whole session, stopped (and its temp dir removed) at the end."""
    try:
        weed_binary()
    except RuntimeError as e:
        pytest.skip(str(e))
    server = SeaweedFS()
    try:
        server.start()
        yield server
    finally:
        server.close()


def new_bucket(server: SeaweedFS, tag: str = "t") -> str:
    """Create a fresh bucket (3-63 chars, lowercase) and return its name."""
    name = f"td-{tag}-{uuid.uuid4().hex[:12]}"[:63].lower()
    server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_url(seaweed: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`s3://<fresh bucket>`, with the credential/endpoint/region variables set for this test."""
    if not seaweed.running:  # a test that stopped the server and failed before restarting it
        seaweed.start()
    for name, value in seaweed.env().items():
        monkeypatch.setenv(name, value)
    yield f"s3://{new_bucket(seaweed)}"
