"""Activities for the example workflows in this folder.

    tardigrade run order_fulfillment.wasm --id o1 --activities guest/examples/activities.py

They fake the outside world deterministically (ids derive from the
idempotency key, so a retried call returns the same id). Two environment
variables make them useful for demos and crash tests:
- TD_LEDGER=path: every finished attempt appends "key attempt name" to the file,
  which shows that no committed step ran twice;
- TD_ACTIVITY_DELAY=seconds: each activity takes that long.
"""

from __future__ import annotations

import hashlib
import os
import time

from runtime.activities import ActivityContext, RetryPolicy, activity


def _work(name: str, ctx: ActivityContext) -> None:
    delay = float(os.environ.get("TD_ACTIVITY_DELAY", "0") or 0)
    if delay:
        time.sleep(delay)
    ledger = os.environ.get("TD_LEDGER")
    if ledger:
        with open(ledger, "a") as f:
            f.write(f"{ctx.idempotency_key} {ctx.attempt} {name}\n")


def _id(prefix: str, ctx: ActivityContext) -> bytes:
    return f"{prefix}-{hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:8]}".encode()


# -- deep_state.c: the built-in echo, plus the ledger ----------------------------------


@activity(name="echo")
def echo(data: bytes, ctx: ActivityContext) -> bytes:
    _work("echo", ctx)
    return data


# -- order_fulfillment.c ------------------------------------------------------------


@activity(name="inventory.reserve", retry=RetryPolicy(initial_interval=0.5, maximum_attempts=5))
def reserve(data: bytes, ctx: ActivityContext) -> bytes:
    _work("inventory.reserve", ctx)
    return _id("res", ctx)


@activity(name="inventory.release")
def release(data: bytes, ctx: ActivityContext) -> bytes:
    _work("inventory.release", ctx)
    return b"released " + data


class InsufficientFunds(Exception):
    pass


@activity(
    name="payments.charge",
    retry=RetryPolicy(
        initial_interval=1.0,
        backoff_coefficient=2.0,
        maximum_interval=60,
        maximum_attempts=5,
        non_retryable_errors=("InsufficientFunds",),
    ),
    timeout=30,
)
def charge(data: bytes, ctx: ActivityContext) -> bytes:
    _work("payments.charge", ctx)
    if b"broke" in data:
        raise InsufficientFunds("card declined")
    return _id("pay", ctx)


@activity(name="shipping.label")
def label(data: bytes, ctx: ActivityContext) -> bytes:
    _work("shipping.label", ctx)
    return _id("1Z", ctx)


@activity(name="email.send")
def email(data: bytes, ctx: ActivityContext) -> bytes:
    _work("email.send", ctx)
    return _id("msg", ctx)


@activity(name="orders.complete")
def complete(data: bytes, ctx: ActivityContext) -> bytes:
    _work("orders.complete", ctx)
    return b"completed"


# -- transfer.c -----------------------------------------------------------------------


class AccountClosed(Exception):
    pass


@activity(name="bank.debit")
def debit(data: bytes, ctx: ActivityContext) -> bytes:
    _work("bank.debit", ctx)
    return _id("debit", ctx)


@activity(name="bank.credit", retry=RetryPolicy(initial_interval=0.2, non_retryable_errors=("AccountClosed",)))
def credit(data: bytes, ctx: ActivityContext) -> bytes:
    _work("bank.credit", ctx)
    account = data.split()[0] if data.split() else b""
    if account == b"closed":
        raise AccountClosed(f"account {account.decode()} is closed")
    return _id("credit", ctx)


@activity(name="bank.refund")
def refund(data: bytes, ctx: ActivityContext) -> bytes:
    _work("bank.refund", ctx)
    return _id("refund", ctx)


# -- approval.c and reminder.c ----------------------------------------------------------


@activity(name="review.request")
def request_review(data: bytes, ctx: ActivityContext) -> bytes:
    _work("review.request", ctx)
    return _id("review", ctx)


@activity(name="review.escalate")
def escalate(data: bytes, ctx: ActivityContext) -> bytes:
    _work("review.escalate", ctx)
    return b"escalated " + data


@activity(name="notify.send")
def notify(data: bytes, ctx: ActivityContext) -> bytes:
    _work("notify.send", ctx)
    return _id("note", ctx)
