"""Activities: retry policy arithmetic, failure classification, and the built-in http.request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runtime.activities import Activity, ActivityContext, ActivityError, Registry, RetryPolicy

CTX = ActivityContext("ex-1", 3, 1, "ex-1:3")


def test_retry_policy_backoff_and_limits() -> None:
    p = RetryPolicy(initial_interval=1.0, backoff_coefficient=2.0, maximum_interval=5.0, maximum_attempts=4)
    assert [p.delay_after(a) for a in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert not p.exhausted(3) and p.exhausted(4)
    assert not RetryPolicy(maximum_attempts=0).exhausted(10_000)


def test_failures_are_classified() -> None:
    reg = Registry()

    def boom(data: bytes, ctx: ActivityContext) -> bytes:
        raise KeyError("nope")

    def fatal(data: bytes, ctx: ActivityContext) -> bytes:
        raise ActivityError("card declined", type="InsufficientFunds")

    plain = reg.attempt(Activity("boom", boom), b"", CTX)
    assert not plain.ok and plain.retryable and plain.error_type == "KeyError"
    listed = reg.attempt(Activity("f", fatal, RetryPolicy(non_retryable_errors=("InsufficientFunds",))), b"", CTX)
    assert not listed.ok and not listed.retryable and listed.data == b"InsufficientFunds: card declined"
    wrong = reg.attempt(Activity("w", lambda d, c: 42), b"", CTX)  # type: ignore[arg-type,return-value]
    assert not wrong.ok and not wrong.retryable and b"int" in wrong.data


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        reply = json.dumps({"got": body.decode(), "key": self.headers.get("Idempotency-Key")}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(reply)

    def do_GET(self) -> None:
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_http_request_activity(server: str) -> None:
    reg = Registry()
    act = reg.get("http.request")
    assert act is not None
    ok = reg.attempt(
        act, json.dumps({"method": "POST", "url": f"{server}/charge", "body": {"cents": 100}}).encode(), CTX
    )
    assert ok.ok
    reply = json.loads(ok.data)
    assert reply["status"] == 201
    assert json.loads(reply["body"]) == {"got": '{"cents": 100}', "key": "ex-1:3"}  # the idempotency key is sent
    down = reg.attempt(act, json.dumps({"url": f"{server}/flaky"}).encode(), CTX)
    assert not down.ok and down.retryable and down.error_type == "HTTPServerError"
    bad = reg.attempt(act, b"not json", CTX)
    assert not bad.ok and not bad.retryable and bad.error_type == "BadRequest"
