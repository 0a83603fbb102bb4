"""Activities: the Python functions a workflow calls through `td_call`.

    from runtime.activities import RetryPolicy, activity

    @activity(name="payments.charge",
              retry=RetryPolicy(initial_interval=1.0, backoff_coefficient=2.0, maximum_interval=60,
                                maximum_attempts=5, non_retryable_errors=("InsufficientFunds",)),
              timeout=30)
    def charge(data: bytes, ctx) -> bytes:
        ...  # ctx.execution_id, ctx.step, ctx.attempt, ctx.idempotency_key

An activity fails by raising. The exception's class name (or ActivityError's
`type`) is matched against `non_retryable_errors`; every other failure, and an
attempt that outlives `timeout`, is retried by the policy.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import json
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

MAX_RESULT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    initial_interval: float = 1.0
    backoff_coefficient: float = 2.0
    maximum_interval: float = 60.0
    maximum_attempts: int = 5  # 0 means no limit
    non_retryable_errors: tuple[str, ...] = ()

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.maximum_interval, self.initial_interval * self.backoff_coefficient ** (attempt - 1))

    def exhausted(self, attempt: int) -> bool:
        return self.maximum_attempts > 0 and attempt >= self.maximum_attempts


@dataclass(frozen=True)
class ActivityContext:
    execution_id: str
    step: int
    attempt: int
    idempotency_key: str  # execution id + step: the same for every attempt of one call


ActivityFn = Callable[[bytes, ActivityContext], bytes]


@dataclass(frozen=True)
class Activity:
    name: str
    fn: ActivityFn
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None  # start-to-close, seconds


class ActivityError(Exception):
    """Raise from an activity to name the error type or mark it non-retryable."""

    def __init__(self, message: str, *, type: str | None = None, non_retryable: bool = False) -> None:
        super().__init__(message)
        self.type = type or "ActivityError"
        self.non_retryable = non_retryable


@dataclass(frozen=True)
class Attempt:
    """How one attempt ended."""

    ok: bool
    data: bytes  # result, or the error text
    error_type: str = ""
    retryable: bool = False


_default: dict[str, Activity] = {}
_lock = threading.Lock()


def activity(
    name: str | None = None, *, retry: RetryPolicy | None = None, timeout: float | None = None
) -> Callable[[ActivityFn], ActivityFn]:
    """Register a function as an activity (under its own name unless `name` is given)."""

    def register(fn: ActivityFn) -> ActivityFn:
        act = Activity(name or fn.__name__, fn, retry or RetryPolicy(), timeout)
        with _lock:
            _default[act.name] = act
        return fn

    return register


class ActivityLoadError(ImportError):
    """An --activities source that cannot be imported."""


class Registry:
    """The activities one host offers: the built-ins plus what its sources registered."""

    def __init__(self, sources: list[str] | None = None) -> None:
        for src in sources or []:
            load_source(src)
        with _lock:
            self._activities = dict(_default)
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="activity")

    def get(self, name: str) -> Activity | None:
        return self._activities.get(name)

    def names(self) -> list[str]:
        return sorted(self._activities)

    def attempt(self, act: Activity, data: bytes, ctx: ActivityContext) -> Attempt:
        """Run one attempt, enforcing the timeout; never raises."""
        future = self._pool.submit(act.fn, data, ctx)
        try:
            result = future.result(timeout=act.timeout)
        except FutureTimeout:
            # Python cannot stop the thread; its result, if it ever comes, is dropped.
            return Attempt(False, f"timed out after {act.timeout} s".encode(), "ActivityTimeout", True)
        except Exception as e:  # noqa: BLE001 - any failure of user code is an activity failure
            etype = e.type if isinstance(e, ActivityError) else type(e).__name__
            final = (isinstance(e, ActivityError) and e.non_retryable) or etype in act.retry.non_retryable_errors
            return Attempt(False, f"{etype}: {e}".encode(), etype, not final)
        if isinstance(result, str):
            result = result.encode()
        if not isinstance(result, bytes | bytearray | memoryview):
            return Attempt(False, f"activity returned {type(result).__name__}, not bytes".encode(), "TypeError", False)
        if len(result) > MAX_RESULT_BYTES:
            return Attempt(False, f"result of {len(result)} bytes exceeds {MAX_RESULT_BYTES}".encode(), "TooLarge")
        return Attempt(True, bytes(result))


def load_source(src: str) -> None:
    """Import a module path (`pkg.mod`) or a `.py` file so that its decorators register."""
    try:
        if src.endswith(".py") or "/" in src:
            path = Path(src).resolve()
            if not path.is_file():
                raise ActivityLoadError(f"activities file not found: {src}")
            name = f"td_activities_{abs(hash(str(path)))}"
            if name in sys.modules:
                return
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ActivityLoadError(f"cannot load activities from {src}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        else:
            importlib.import_module(src)
    except ActivityLoadError:
        raise
    except Exception as e:
        raise ActivityLoadError(f"cannot load activities from {src}: {type(e).__name__}: {e}") from e


# -- built-in activities ------------------------------------------------------------


@activity(name="echo")
def echo(data: bytes, ctx: ActivityContext) -> bytes:
    """Returns its input."""
    return data


@activity(name="http.request", timeout=60)
def http_request(data: bytes, ctx: ActivityContext) -> bytes:
    """JSON in {method, url, headers, body}; JSON out {status, headers, body} (body_b64 if not UTF-8).

    The idempotency key is sent as `Idempotency-Key` unless the request sets one.
    """
    import httpx

    try:
        req = json.loads(data)
        method, url = str(req.get("method", "GET")), str(req["url"])
    except (ValueError, KeyError, TypeError) as e:
        raise ActivityError(
            f"want JSON {{method, url, headers, body}}: {e}", type="BadRequest", non_retryable=True
        ) from None
    headers = {str(k): str(v) for k, v in dict(req.get("headers") or {}).items()}
    headers.setdefault("Idempotency-Key", ctx.idempotency_key)
    body = req.get("body")
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode() if body is not None else None
    resp = httpx.request(method, url, headers=headers, content=content, timeout=30)
    if resp.status_code >= 500:
        raise ActivityError(f"{method} {url} returned {resp.status_code}", type="HTTPServerError")
    out: dict[str, object] = {"status": resp.status_code, "headers": dict(resp.headers)}
    try:
        out["body"] = resp.content.decode("utf-8")
    except UnicodeDecodeError:
        out["body_b64"] = base64.b64encode(resp.content).decode()
    return json.dumps(out).encode()
