"""Real crashes: SIGKILL `tardigrade run` at chosen steps, resume in a new process.

Each example is killed at several seeded steps, in every mode, and resumed.
The output must equal an uninterrupted run's, and the activity ledger must show
every committed step ran exactly once and the in-flight one at most twice.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from conftest import ACTIVITIES, cli, cli_bg, kill9, ledger_counts, wait_for

CASES = [
    ("order_fulfillment", "order-7"),
    ("transfer", "alice bob 100"),
    ("transfer", "alice closed 50"),  # the compensation path
    ("deep_state", "6"),
]


def _steps(store: Path, execution_id: str, mode: str) -> int:
    sub = "snap" if mode == "snapshot" else "journal"
    d = store / "executions" / execution_id / sub
    return len(list(d.iterdir())) if d.is_dir() else 0


@pytest.mark.parametrize("mode", ["snapshot", "replay", "hybrid"])
@pytest.mark.parametrize(("example", "text"), CASES, ids=[f"{e}:{t.replace(' ', '_')}" for e, t in CASES])
def test_sigkill_at_seeded_steps_then_resume(
    wasm: dict[str, Path], tmp_path: Path, example: str, text: str, mode: str
) -> None:
    # Activity results derive from idempotency keys (execution id + step), so every run uses the
    # same execution id, each in a store of its own.
    execution_id = "x"
    mode_args = ["--mode", mode, "--snapshot-every", "3"]
    ref_ledger = tmp_path / "ref.ledger"
    ref = cli(
        "run",
        str(wasm[example]),
        "--id",
        execution_id,
        "--store",
        str(tmp_path / "ref"),
        "--input",
        text,
        "-a",
        ACTIVITIES,
        *mode_args,
        TD_LEDGER=str(ref_ledger),
    )
    assert ref.returncode in (0, 1), ref.stderr
    ref_keys = set(ledger_counts(ref_ledger))
    total = len(ref_keys)  # activity steps
    assert total >= 2

    rng = random.Random(f"{example}/{text}/{mode}")
    kill_points = sorted(rng.sample(range(1, total), k=min(3, total - 1)))
    for n, k in enumerate(kill_points):
        store = tmp_path / f"crash-{n}"
        ledger = tmp_path / f"crash-{n}.ledger"
        proc = cli_bg(
            "run",
            str(wasm[example]),
            "--id",
            execution_id,
            "--store",
            str(store),
            "--input",
            text,
            "-a",
            ACTIVITIES,
            *mode_args,
            TD_LEDGER=str(ledger),
            TD_ACTIVITY_DELAY="0.03",
        )
        if n % 2 == 0:
            # Kill right after step k is durable: the next activity is in flight.
            wait_for(
                lambda s=store, k=k, p=proc: _steps(s, execution_id, mode) >= k or p.poll() is not None,
                what=f"step {k}",
            )
        else:
            # Kill after activity k+1 finished but (probably) before it was committed.
            wait_for(
                lambda led=ledger, k=k, p=proc: sum(ledger_counts(led).values()) >= k + 1 or p.poll() is not None,
                what=f"activity {k + 1}",
            )
        assert proc.poll() is None, f"finished before the kill at step {k}: {proc.stderr.read() if proc.stderr else ''}"
        kill9(proc)

        resumed = cli("resume", execution_id, "--store", str(store), "-a", ACTIVITIES, TD_LEDGER=str(ledger))
        assert resumed.returncode == ref.returncode, resumed.stderr
        assert resumed.stdout == ref.stdout, f"kill at step {k}: output differs"

        counts = ledger_counts(ledger)
        assert set(counts) == ref_keys, "a different set of steps ran"
        twice = [key for key, c in counts.items() if c > 1]
        assert all(c <= 2 for c in counts.values()), counts
        assert len(twice) <= 1, f"more than the in-flight step ran twice: {twice}"

        status = cli("status", execution_id, "--store", str(store), "--json")
        assert '"status": "completed"' in status.stdout or '"status": "failed"' in status.stdout
