"""Durable time, signals, retries and cancellation, driven through the CLI on the file store."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import ACTIVITIES, TEST_ACTIVITIES, cli, cli_bg, kill9, wait_for
from runtime.observe import describe
from snapshots.file import FileStore
from snapshots.records import UnknownExecution

ACTS = ["-a", ACTIVITIES, "-a", TEST_ACTIVITIES]


def status(store: Path, execution_id: str) -> dict:  # type: ignore[type-arg]
    r = cli("status", execution_id, "--store", str(store), "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def kinds(store: Path, execution_id: str) -> list[str]:
    rows = json.loads(cli("history", execution_id, "--store", str(store), "--json").stdout)
    return [r["kind"] for r in rows]


def run_script(wasm: dict[str, Path], store: Path, execution_id: str, script: str, *extra: str, **env: str):  # type: ignore[no-untyped-def]
    return cli(
        "run", str(wasm["script"]), "--id", execution_id, "--store", str(store), "--input", script, *ACTS, *extra, **env
    )


# -- sleeping -------------------------------------------------------------------------


def test_a_two_day_sleep_parks_and_costs_nothing_while_it_waits(wasm: dict[str, Path], tmp_path: Path) -> None:
    store = tmp_path / "s"
    clock = {"TD_CLOCK_SPEED": "100000", "TD_CLOCK_T0": str(time.time())}  # 48 h of durable time in ~1.7 s
    r = cli(
        "run",
        str(wasm["reminder"]),
        "--id",
        "r",
        "--store",
        str(store),
        "--input",
        "ada@example.com",
        "-a",
        ACTIVITIES,
        "--detach",
        **clock,
    )
    assert r.returncode == 0 and "parked" in r.stderr, r.stderr
    st = status(store, "r")
    assert st["status"] == "parked" and st["host"] is None
    assert st["waiting"]["kind"] == "sleep"
    assert [p.name.split("-", 1)[1] for p in (store / "due").iterdir()] == ["r"]  # one due-index entry, no process

    r = cli("resume", "r", "--store", str(store), "-a", ACTIVITIES, **clock)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["reminded"].startswith("note-") and out["hours_between"] >= 48
    assert kinds(store, "r") == ["activity", "sleep", "restored", "timer_fired", "activity", "completed"]


def test_a_real_two_second_sleep_parks_and_restores_on_time(wasm: dict[str, Path], tmp_path: Path) -> None:
    store = tmp_path / "s"
    t0 = time.monotonic()
    r = run_script(wasm, store, "z", "now sleep:2000 elapsed", "--park-after", "500")
    wall = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    elapsed = int(r.stdout.split("elapsed ")[1])
    assert 2000 <= elapsed < 3000
    assert 2.0 <= wall < 6.0
    assert "parked" in r.stderr and "restored" in kinds(store, "z")


def test_short_sleeps_stay_in_memory(wasm: dict[str, Path], tmp_path: Path) -> None:
    store = tmp_path / "s"
    r = run_script(wasm, store, "short", "sleep:200 call:echo:x", "--park-after", "1000")
    assert r.returncode == 0 and "parked" not in r.stderr
    assert kinds(store, "short") == ["sleep", "timer_fired", "activity", "completed"]


# -- signals ----------------------------------------------------------------------------


def test_signals_before_and_during_the_wait_arrive_in_order(wasm: dict[str, Path], tmp_path: Path) -> None:
    store = tmp_path / "s"
    r = run_script(wasm, store, "sig", "sleep:1500 signal:go signal:go signal:go", "--detach")
    assert r.returncode == 0 and status(store, "sig")["status"] == "parked"
    # Two signals arrive before the workflow waits for any: both are buffered, in order.
    for payload in ("one", "two"):
        assert cli("signal", "sig", "go", "--data", payload, "--store", str(store)).returncode == 0
    proc = cli_bg("resume", "sig", "--store", str(store), *ACTS)
    wait_for(
        lambda: (
            status(store, "sig").get("waiting", {}) == {"kind": "signal", "name": "go", "until": None}
            or proc.poll() is not None
        ),
        what="the third wait",
    )
    # The third arrives while the execution is parked on the wait.
    assert cli("signal", "sig", "go", "--data", "three", "--store", str(store)).returncode == 0
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.splitlines()[1:] == ["signal go = one", "signal go = two", "signal go = three"]
    assert kinds(store, "sig").count("signal") == 3


def test_signal_timeout_and_bad_targets(wasm: dict[str, Path], tmp_path: Path) -> None:
    store = tmp_path / "s"
    r = run_script(wasm, store, "t", "signalt:go:300")
    assert r.returncode == 0 and r.stdout == "signal go ! -3\n"  # TD_ERR_TIMEOUT
    r = cli("signal", "t", "go", "--store", str(store))
    assert r.returncode == 2 and "has completed" in r.stderr
    r = cli("signal", "nobody", "go", "--store", str(store))
    assert r.returncode == 2 and "no execution with id 'nobody'" in r.stderr


def test_approval_waits_for_the_approve_signal(wasm: dict[str, Path], tmp_path: Path) -> None:
    store = tmp_path / "s"
    r = cli(
        "run",
        str(wasm["approval"]),
        "--id",
        "ap",
        "--store",
        str(store),
        "--input",
        "doc-9",
        "-a",
        ACTIVITIES,
        "--detach",
    )
    assert r.returncode == 0 and status(store, "ap")["waiting"]["name"] == "approve"
    cli("signal", "ap", "approve", "--data", "alice", "--store", str(store))
    r = cli("resume", "ap", "--store", str(store), "-a", ACTIVITIES)
    assert json.loads(r.stdout) == {"doc": "doc-9", "status": "approved", "by": "alice"}

    clock = {"TD_CLOCK_SPEED": "1000000", "TD_CLOCK_T0": str(time.time())}  # three days in ~0.3 s
    r = cli(
        "run",
        str(wasm["approval"]),
        "--id",
        "late",
        "--store",
        str(store),
        "--input",
        "doc-10",
        "-a",
        ACTIVITIES,
        **clock,
    )
    assert json.loads(r.stdout)["status"] == "escalated", r.stderr


# -- retries ------------------------------------------------------------------------------


def test_retries_survive_a_sigkill_between_attempts(wasm: dict[str, Path], tmp_path: Path) -> None:
    store, ledger = tmp_path / "s", tmp_path / "ledger"
    # test.flaky fails 3 times; backoff 1 s, 1.5 s, 2.25 s; waits over 500 ms park.
    proc = cli_bg(
        "run",
        str(wasm["script"]),
        "--id",
        "f",
        "--store",
        str(store),
        "--input",
        "call:test.flaky:3",
        *ACTS,
        "--park-after",
        "500",
        TD_LEDGER=str(ledger),
    )
    store_ = FileStore(store)

    def waiting_for_attempt_3() -> bool:
        try:
            return (describe(store_, "f").waiting or {}).get("attempt") == 3
        except UnknownExecution:
            return False

    wait_for(waiting_for_attempt_3, what="attempt 2's failure committed")
    kill9(proc)  # between attempt 2 and 3, with both failures on record
    r = cli("resume", "f", "--store", str(store), *ACTS, "--park-after", "500", TD_LEDGER=str(ledger))
    assert r.returncode == 0 and r.stdout == "call test.flaky = ok after 4 attempts\n", r.stderr
    attempts = [int(line.split()[1]) for line in ledger.read_text().splitlines()]
    assert attempts == [1, 2, 3, 4]  # counted on across the crash, not restarted
    assert kinds(store, "f").count("retry") == 3


def test_non_retryable_errors_and_timeouts(wasm: dict[str, Path], tmp_path: Path) -> None:
    store, ledger = tmp_path / "s", tmp_path / "ledger"
    r = run_script(wasm, store, "e", "call:test.fatal call:test.slow:2", TD_LEDGER=str(ledger))
    assert r.stdout.splitlines() == [
        "call test.fatal ! -1 Fatal: this cannot work",
        "call test.slow ! -1 timed out after 0.3 s",
    ]
    names = [line.split()[2] for line in ledger.read_text().splitlines()]
    assert names.count("test.fatal") == 1  # non-retryable: no second attempt
    assert names.count("test.slow") == 2  # both attempts timed out: maximum_attempts=2


# -- cancellation ---------------------------------------------------------------------------


def test_cancel_while_running_compensates(wasm: dict[str, Path], tmp_path: Path) -> None:
    store = tmp_path / "s"
    proc = cli_bg(
        "run",
        str(wasm["transfer"]),
        "--id",
        "tx",
        "--store",
        str(store),
        "--input",
        "alice bob 100",
        "-a",
        ACTIVITIES,
        TD_ACTIVITY_DELAY="3.0",
    )
    wait_for(lambda: (store / "executions" / "tx" / "execution.json").exists(), what="the execution")
    assert cli("cancel", "tx", "--store", str(store)).returncode == 0  # during the debit
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err  # cancelled
    assert json.loads(out)["status"] == "compensated" and json.loads(out)["reason"] == "cancelled"
    assert status(store, "tx")["status"] == "cancelled"
    assert "cancelled" in kinds(store, "tx")


def test_cancel_while_sleeping_or_waiting_for_a_signal(wasm: dict[str, Path], tmp_path: Path) -> None:
    store = tmp_path / "s"
    marker = tmp_path / "should-not-exist"
    for execution_id, script in [("sleeper", f"sleep:600000 call:test.touch:{marker}"), ("waiter", "signal:go")]:
        proc = cli_bg("run", str(wasm["script"]), "--id", execution_id, "--store", str(store), "--input", script, *ACTS)
        wait_for(
            lambda e=execution_id: (
                (store / "executions" / e / "snap").is_dir() and status(store, e)["status"] == "parked"
            ),
            what=f"{execution_id} parked",
        )
        t0 = time.monotonic()
        assert cli("cancel", execution_id, "--store", str(store)).returncode == 0
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 3 and time.monotonic() - t0 < 10, err  # at once, not after ten minutes
        assert status(store, execution_id)["status"] == "cancelled"
        last = out.splitlines()[-1]
        assert last in ("call test.touch ! -2 cancelled", "signal go ! -2"), out  # TD_ERR_CANCELLED
    assert not marker.exists()
