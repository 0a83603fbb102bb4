"""Activities for the test workflows (tests/guests/script.c)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from runtime.activities import ActivityContext, ActivityError, RetryPolicy, activity


def _ledger(name: str, ctx: ActivityContext) -> None:
    path = os.environ.get("TD_LEDGER")
    if path:
        with open(path, "a") as f:
            f.write(f"{ctx.idempotency_key} {ctx.attempt} {name}\n")


@activity(
    name="test.flaky",
    retry=RetryPolicy(initial_interval=1.0, backoff_coefficient=1.5, maximum_attempts=6),
)
def flaky(data: bytes, ctx: ActivityContext) -> bytes:
    """Fails until its attempt number exceeds int(input); every attempt is in the ledger."""
    _ledger("test.flaky", ctx)
    if ctx.attempt <= int(data or b"0"):
        raise ConnectionError(f"attempt {ctx.attempt} failed")
    return f"ok after {ctx.attempt} attempts".encode()


@activity(name="test.fatal", retry=RetryPolicy(initial_interval=0.1, non_retryable_errors=("Fatal",)))
def fatal(data: bytes, ctx: ActivityContext) -> bytes:
    _ledger("test.fatal", ctx)
    raise ActivityError("this cannot work", type="Fatal")


@activity(name="test.slow", timeout=0.3, retry=RetryPolicy(initial_interval=0.1, maximum_attempts=2))
def slow(data: bytes, ctx: ActivityContext) -> bytes:
    _ledger("test.slow", ctx)
    time.sleep(float(data or b"1"))
    return b"finished"


@activity(name="test.touch")
def touch(data: bytes, ctx: ActivityContext) -> bytes:
    """Creates the file named by its input: lets a test see that a step ran."""
    _ledger("test.touch", ctx)
    Path(data.decode()).touch()
    return b"touched"
