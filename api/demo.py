"""`tardigrade demo`: build a workflow, run it, SIGKILL it mid-run, and resume it from its snapshot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from api import settings
from guest.toolchain import build
from runtime.observe import describe, history
from snapshots import keys
from snapshots.url import open_store

EXAMPLES = Path(__file__).resolve().parent.parent / "guest" / "examples"


def _cli() -> list[str]:
    return [sys.executable, "-m", "api"]


def run_demo(store_url: str, console: Console) -> int:
    cache = settings.cache_dir()
    wasm = cache / "demo" / "order_fulfillment.wasm"
    console.rule("[bold]1. build[/bold]")
    console.print(f"tardigrade build {EXAMPLES / 'order_fulfillment.c'} -o {wasm}")
    console.print("[dim](the first build compiles wasi-libc with Zig: ~30 s, once)[/dim]")
    t0 = time.perf_counter()
    report = build([EXAMPLES / "order_fulfillment.c"], wasm, cache_dir=cache)
    console.print(
        f"built and prepared in {time.perf_counter() - t0:.1f} s: {len(report.wasm):,} bytes, "
        f"Asyncify on td.call/td.sleep/td.signal, {report.exported_globals} mutable globals exported"
    )

    store = open_store(store_url)
    execution_id = f"demo-{keys.new_ulid().lower()[-10:]}"
    ledger = Path(tempfile.mkdtemp(prefix="td-demo-")) / "ledger.txt"
    env = dict(os.environ, TD_LEDGER=str(ledger), TD_ACTIVITY_DELAY="0.5")
    activities = str(EXAMPLES / "activities.py")
    common = ["--store", store_url, "-a", activities]

    console.rule("[bold]2. run, then SIGKILL mid-run[/bold]")
    console.print(
        f"tardigrade run {wasm.name} --id {execution_id} --input order-1001   [dim](each activity takes 0.5 s)[/dim]"
    )
    proc = subprocess.Popen(
        [*_cli(), "run", str(wasm), "--id", execution_id, "--input", "order-1001", "-v", *common],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    snap_prefix = keys.snap_prefix(execution_id)
    deadline = time.monotonic() + 60
    while len(list(store.list(snap_prefix))) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(0.2)  # into the third activity: it will be in flight when the process dies
    proc.send_signal(signal.SIGKILL)
    output, _ = proc.communicate()
    for line in output.splitlines():
        console.print(f"  [dim]{line}[/dim]")
    st = describe(store, execution_id)
    console.print(
        f"[red]SIGKILL[/red] pid {proc.pid}. The store says: status [bold]{st.status}[/bold], step {st.step}, "
        f"{st.snapshots} snapshots, {st.snapshot_bytes:,} bytes"
    )

    console.rule("[bold]3. resume in a new process[/bold]")
    console.print(f"tardigrade resume {execution_id}")
    t0 = time.perf_counter()
    res = subprocess.run(
        [*_cli(), "resume", execution_id, "-v", *common],
        env=dict(env, TD_ACTIVITY_DELAY="0.05"),
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    for line in res.stderr.splitlines():
        console.print(f"  [dim]{line}[/dim]")
    console.print(f"resumed and finished in {wall:.2f} s (process start included); output:")
    console.print(f"  [green]{res.stdout.strip()}[/green]")

    console.rule("[bold]4. what happened[/bold]")
    table = Table(box=None)
    for col in ("step", "kind", "activity", "attempt", "snapshot", "host"):
        table.add_column(col)
    for row in history(store, execution_id):
        size = f"{row.snapshot_bytes:,} B {row.snapshot or ''}" if row.snapshot_bytes else ""
        if row.kind == "restored":
            size = f"read {row.detail.get('objects')} objects, {row.detail.get('restore_ms')} ms"
        table.add_row(str(row.step), row.kind, row.name, str(row.attempt or ""), size, row.host or "")
    console.print(table)
    runs: dict[str, int] = {}
    for line in ledger.read_text().splitlines():
        key, _attempt, name = line.split()
        runs[f"{name} ({key})"] = runs.get(f"{name} ({key})", 0) + 1
    console.print("activity ledger (runs per idempotency key):")
    for name, n in runs.items():
        note = "" if n == 1 else "  [yellow]<- was in flight at the SIGKILL: at-least-once for that one step[/yellow]"
        console.print(f"  {n} x {name}{note}")
    final = describe(store, execution_id)
    console.print(
        f"\nstatus [bold]{final.status}[/bold]; every committed step ran exactly once. "
        f"Try: tardigrade history {execution_id} --store {store_url}"
    )
    return 0 if final.status == "completed" and res.returncode == 0 else 1
