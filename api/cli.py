"""The `tardigrade` command line."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from api import service, settings
from api.client import Client, RemoteError
from api.modules import install_module
from guest.toolchain import BuildError, PrepareError, build, prepare
from runtime.activities import ActivityLoadError, Registry
from runtime.clock import Clock
from runtime.engine import DEFAULT_FUEL_PER_SEGMENT, Engine, Limits, MiB
from runtime.executor import HostContext, HostOptions, Outcome
from runtime.hosting import drive_local
from runtime.observe import HistoryRow, describe, history
from snapshots.keys import InvalidId, validate_id
from snapshots.leases import LeaseBusy
from snapshots.records import ExecutionConflict, UnknownExecution, list_execution_ids
from snapshots.store import ObjectStore, StoreError
from snapshots.url import open_store

app = typer.Typer(
    name="tardigrade",
    help="Durable WebAssembly workflows: snapshot after every host call, restore instead of replay.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts hold URLs like s3://bucket[/prefix], not markup
)
# Wide enough for tables when stdout is a pipe (rich would assume 80 columns).
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 3

StoreOpt = Annotated[
    str, typer.Option("--store", envvar="TD_STORE", help="Directory, file:///dir or s3://bucket[/prefix].")
]
EndpointOpt = Annotated[
    str | None, typer.Option("--s3-endpoint", envvar="AWS_ENDPOINT_URL", help="S3 endpoint URL (for non-AWS S3).")
]
ActivitiesOpt = Annotated[
    list[str] | None,
    typer.Option("--activities", "-a", help="Module path or .py file registering activities (repeatable)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ServerOpt = Annotated[
    str | None, typer.Option("--server", envvar="TD_SERVER", help="Talk to a `tardigrade serve` host at this URL.")
]
ParkAfterOpt = Annotated[int, typer.Option("--park-after", help="Park sleeps and backoffs longer than this (ms).")]
MaxMemoryOpt = Annotated[int, typer.Option("--max-memory", help="Guest memory limit (MiB).")]
FuelOpt = Annotated[int, typer.Option("--fuel", help="Instructions a guest may run between two host calls.")]
DetachOpt = Annotated[bool, typer.Option("--detach", help="Return once the execution parks.")]
VerboseOpt = Annotated[bool, typer.Option("-v", "--verbose", help="Print every step.")]
QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Do not echo the guest's log.")]

T = TypeVar("T")


def _guard(fn: Callable[[], T]) -> T:
    """Turn the errors a user can cause into one clear line and exit code 2."""
    try:
        return fn()
    except (
        PrepareError,
        BuildError,
        InvalidId,
        ExecutionConflict,
        UnknownExecution,
        LeaseBusy,
        ActivityLoadError,
        service.BadRequest,
        service.UnknownModule,
        service.UnknownHost,
        StoreError,
        RemoteError,
        ValueError,
        OSError,
    ) as e:
        err.print(f"[red]error:[/red] {e}", markup=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _store(url: str, endpoint: str | None) -> ObjectStore:
    return _guard(lambda: open_store(url, s3_endpoint=endpoint, create_bucket=url.startswith("s3://")))


def _context(
    store: ObjectStore,
    activities: list[str] | None,
    *,
    park_after_ms: int = 1000,
    max_memory_mb: int = 512,
    fuel: int = DEFAULT_FUEL_PER_SEGMENT,
    verbose: bool = False,
    quiet: bool = False,
) -> HostContext:
    registry = _guard(lambda: Registry(activities or []))

    def on_log(execution_id: str, stream: str, data: bytes) -> None:
        if not quiet:
            for line in data.decode("utf-8", "replace").splitlines():
                err.print(f"[dim]{execution_id} |[/dim] {line}", markup=True)

    def on_event(execution_id: str, event: dict[str, Any]) -> None:
        if verbose:
            err.print(f"[dim]{execution_id} >[/dim] {_describe_event(event)}", markup=True)

    options = HostOptions(host_id=settings.cli_host_id(), park_after_ms=park_after_ms, clock=Clock.from_env())
    limits = Limits(max_memory_bytes=max_memory_mb * MiB, fuel_per_segment=fuel)
    engine = Engine(settings.cache_dir(), limits)
    return HostContext(store, engine, registry, options, on_event=on_event, on_log=on_log)


def _describe_event(ev: dict[str, Any]) -> str:
    parts = [f"step {ev.get('step', '?')}", str(ev.get("kind", "?"))]
    if ev.get("name"):
        parts.append(str(ev["name"]))
    if ev.get("attempt", 1) not in (None, 1):
        parts.append(f"attempt {ev['attempt']}")
    if ev.get("duration_ms") is not None:
        parts.append(f"{ev['duration_ms']:.1f} ms")
    if ev.get("snapshot_bytes") is not None:
        parts.append(
            f"snapshot {ev['seq']} ({ev['snapshot']}, {ev['snapshot_bytes']} B, {ev.get('persist_ms', 0):.2f} ms)"
        )
    if ev.get("journal_bytes") is not None:
        parts.append(f"journal {ev['journal_seq']} ({ev['journal_bytes']} B)")
    if ev.get("kind") == "restored":
        parts = [
            f"restored on {ev.get('host')}: seq {ev.get('seq', '-')}, {ev.get('objects', 0)} objects, "
            f"{ev.get('bytes', 0)} B, {ev.get('restore_ms', 0):.1f} ms"
            + (f", {ev['replay_steps']} steps to replay" if ev.get("replay_steps") else "")
        ]
    if ev.get("error"):
        parts.append(f"error: {ev['error']}")
    return " · ".join(parts)


def _report(store: ObjectStore, outcome: Outcome, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(describe(store, outcome.execution_id).to_dict()))
    elif outcome.status in ("completed", "failed", "cancelled"):
        sys.stdout.buffer.write(outcome.output)
        sys.stdout.flush()
    if outcome.status == "parked":
        when = (
            f" until {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(outcome.wake_at_ms / 1000))}"
            if outcome.wake_at_ms
            else ""
        )
        err.print(
            f"{outcome.execution_id}: parked{when} (detached; `tardigrade resume {outcome.execution_id}` continues it here)"
        )
    elif outcome.status == "failed":
        err.print(f"[red]{outcome.execution_id} failed:[/red] {outcome.detail}", markup=True)
        raise typer.Exit(EXIT_FAILED)
    elif outcome.status == "cancelled":
        err.print(f"{outcome.execution_id}: cancelled")
        raise typer.Exit(EXIT_CANCELLED)
    elif outcome.status in ("migrated", "fenced"):
        err.print(f"{outcome.execution_id}: {outcome.status} ({outcome.detail})")
        raise typer.Exit(EXIT_FAILED if outcome.status == "fenced" else 0)


def _on_parked(outcome: Outcome) -> None:
    when = ""
    if outcome.wake_at_ms:
        when = f" until {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(outcome.wake_at_ms / 1000))}"
    err.print(f"{outcome.execution_id}: parked{when}; no instance in memory, waiting here (Ctrl-C leaves it parked)")


@app.command("build")
def build_cmd(
    sources: Annotated[list[Path], typer.Argument(help="C source files.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the prepared module.")],
    optimize: Annotated[str, typer.Option("-O", help="Optimization level: 0, 1, 2, 3, s or z.")] = "2",
) -> None:
    """Compile C workflows with Zig's C compiler and prepare the module for snapshots."""
    if optimize not in ("0", "1", "2", "3", "s", "z"):
        err.print(f"[red]error:[/red] -O must be one of 0 1 2 3 s z, got {optimize!r}", markup=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    err.print(f"compiling {', '.join(map(str, sources))} (the first build also compiles wasi-libc, ~30 s)")
    report = _guard(lambda: build(sources, output, cache_dir=settings.cache_dir(), optimize=f"-O{optimize}"))
    err.print(
        f"wrote {output} ({len(report.wasm)} bytes, sha256 {report.sha256[:12]}, {report.exported_globals} globals exported)"
    )


@app.command("prepare")
def prepare_cmd(
    input: Annotated[Path, typer.Argument(help="A wasm module importing the td ABI.")],
    output: Annotated[Path, typer.Option("-o", "--output")],
) -> None:
    """Make any wasm module that imports the td ABI snapshot-ready."""
    data = _guard(input.read_bytes)
    report = _guard(lambda: prepare(data))
    output.write_bytes(report.wasm)
    state = "already prepared" if report.already_prepared else "prepared"
    err.print(f"{state}: wrote {output} ({len(report.wasm)} bytes, sha256 {report.sha256[:12]})")


@app.command("run")
def run_cmd(
    module: Annotated[Path, typer.Argument(help="A .wasm workflow (prepared or not).")],
    id: Annotated[str, typer.Option("--id", help="Execution id (idempotent: running it again continues it).")],
    store: StoreOpt = settings.DEFAULT_STORE,
    s3_endpoint: EndpointOpt = None,
    input: Annotated[str | None, typer.Option("--input", help="Input text.")] = None,
    input_file: Annotated[Path | None, typer.Option("--input-file", help="Read the input from a file.")] = None,
    activities: ActivitiesOpt = None,
    mode: Annotated[str, typer.Option("--mode", help="snapshot, replay or hybrid.")] = "snapshot",
    snapshot_every: Annotated[int, typer.Option("--snapshot-every", help="Hybrid: snapshot every K-th step.")] = 16,
    park_after: ParkAfterOpt = 1000,
    max_memory: MaxMemoryOpt = 512,
    fuel: FuelOpt = DEFAULT_FUEL_PER_SEGMENT,
    detach: DetachOpt = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run a workflow to completion on this machine; its output goes to stdout."""
    if input is not None and input_file is not None:
        err.print("[red]error:[/red] give --input or --input-file, not both", markup=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    data = input.encode() if input is not None else _guard(input_file.read_bytes) if input_file else b""
    _guard(lambda: validate_id(id))
    st = _store(store, s3_endpoint)
    wasm = _guard(module.read_bytes)
    report = _guard(lambda: install_module(st, wasm))
    _guard(
        lambda: service.start(st, report.sha256, execution_id=id, input=data, mode=mode, snapshot_every=snapshot_every)
    )
    ctx = _context(
        st, activities, park_after_ms=park_after, max_memory_mb=max_memory, fuel=fuel, verbose=verbose, quiet=quiet
    )
    _report(st, _guard(lambda: drive_local(ctx, id, detach=detach, on_parked=_on_parked)), as_json)


@app.command("resume")
def resume_cmd(
    id: Annotated[str, typer.Argument(help="Execution id.")],
    store: StoreOpt = settings.DEFAULT_STORE,
    s3_endpoint: EndpointOpt = None,
    activities: ActivitiesOpt = None,
    park_after: ParkAfterOpt = 1000,
    max_memory: MaxMemoryOpt = 512,
    fuel: FuelOpt = DEFAULT_FUEL_PER_SEGMENT,
    detach: DetachOpt = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Restore an execution from its latest snapshot in this process and continue it."""
    st = _store(store, s3_endpoint)
    _guard(lambda: describe(st, id))  # unknown ids end here, before any lease is written
    ctx = _context(
        st, activities, park_after_ms=park_after, max_memory_mb=max_memory, fuel=fuel, verbose=verbose, quiet=quiet
    )
    _report(st, _guard(lambda: drive_local(ctx, id, detach=detach, on_parked=_on_parked)), as_json)


@app.command("status")
def status_cmd(
    id: Annotated[str, typer.Argument(help="Execution id.")],
    store: StoreOpt = settings.DEFAULT_STORE,
    s3_endpoint: EndpointOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show an execution's status."""
    if server:
        status = _guard(lambda: Client(server).status(id))
    else:
        st = _store(store, s3_endpoint)
        status = _guard(lambda: describe(st, id)).to_dict()
    if as_json:
        out.print_json(json.dumps(status))
        return
    table = Table(show_header=False, box=None)
    for k, v in status.items():
        if v not in (None, "", {}, []):
            table.add_row(f"[bold]{k}[/bold]", str(v).rstrip())
    out.print(table)


@app.command("history")
def history_cmd(
    id: Annotated[str, typer.Argument(help="Execution id.")],
    store: StoreOpt = settings.DEFAULT_STORE,
    s3_endpoint: EndpointOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the per-step timeline: host call, activity, attempts, durations, snapshot bytes."""
    if server:
        rows = [HistoryRow(**r) for r in _guard(lambda: Client(server).history(id))]
    else:
        st = _store(store, s3_endpoint)
        rows = _guard(lambda: history(st, id))
    if as_json:
        out.print_json(json.dumps([r.to_dict() for r in rows]))
        return
    table = Table(title=f"history of {id}")
    for col in ("step", "kind", "name", "attempt", "time", "duration", "snapshot", "host"):
        table.add_column(col, justify="right" if col in ("step", "attempt", "duration", "snapshot") else "left")
    for r in rows:
        snap = f"{r.snapshot_bytes:,} B {r.snapshot or ''}".strip() if r.snapshot_bytes is not None else ""
        if r.journal_bytes is not None:
            snap = (snap + " + " if snap else "") + f"journal {r.journal_bytes:,} B"
        at = time.strftime("%H:%M:%S", time.localtime(r.at)) + f".{int((r.at % 1) * 1000):03d}" if r.at else ""
        detail = r.detail.get("error") or (r.detail.get("restore_ms") and f"{r.detail['restore_ms']} ms") or ""
        dur = f"{r.duration_ms:.1f} ms" if r.duration_ms is not None else str(detail)[:40]
        table.add_row(str(r.step), r.kind, r.name, str(r.attempt or ""), at, dur, snap, r.host or "")
    out.print(table)


@app.command("signal")
def signal_cmd(
    id: Annotated[str, typer.Argument(help="Execution id.")],
    name: Annotated[str, typer.Argument(help="Signal name.")],
    data: Annotated[str, typer.Option("--data", help="Payload text.")] = "",
    store: StoreOpt = settings.DEFAULT_STORE,
    s3_endpoint: EndpointOpt = None,
    server: ServerOpt = None,
) -> None:
    """Send a signal to an execution (buffered until it waits for that name)."""
    if server:
        _guard(lambda: Client(server).signal(id, name, data.encode()))
    else:
        st = _store(store, s3_endpoint)
        _guard(lambda: service.signal(st, id, name, data.encode()))
    err.print(f"signal {name!r} sent to {id}")


@app.command("cancel")
def cancel_cmd(
    id: Annotated[str, typer.Argument(help="Execution id.")],
    store: StoreOpt = settings.DEFAULT_STORE,
    s3_endpoint: EndpointOpt = None,
    server: ServerOpt = None,
) -> None:
    """Cancel an execution: its next host call returns TD_ERR_CANCELLED so it can compensate."""
    if server:
        _guard(lambda: Client(server).cancel(id))
    else:
        st = _store(store, s3_endpoint)
        _guard(lambda: service.cancel(st, id))
    err.print(f"cancellation requested for {id}")


@app.command("serve")
def serve_cmd(
    host_id: Annotated[str, typer.Option("--host-id", help="This host's id (unique among hosts on the store).")],
    store: StoreOpt = settings.DEFAULT_STORE,
    s3_endpoint: EndpointOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    activities: ActivitiesOpt = None,
    max_concurrency: Annotated[int, typer.Option("--max-concurrency", help="Executions run at once.")] = 16,
    lease_ttl: Annotated[float, typer.Option("--lease-ttl", help="Seconds before a dead host's work moves.")] = 10.0,
    poll_interval: Annotated[float, typer.Option("--poll-interval", help="Seconds between polls of the store.")] = 0.2,
    park_after: ParkAfterOpt = 1000,
    max_memory: MaxMemoryOpt = 512,
    fuel: FuelOpt = DEFAULT_FUEL_PER_SEGMENT,
) -> None:
    """Run a host: the HTTP API and a worker that runs executions from the shared store."""
    import uvicorn

    from api.http import create_app
    from runtime.metrics import Metrics
    from runtime.worker import Worker

    _guard(lambda: validate_id(host_id, "host id"))
    st = _store(store, s3_endpoint)
    metrics = Metrics()
    registry = _guard(lambda: Registry(activities or []))
    guest_log = logging.getLogger("tardigrade.guest")
    options = HostOptions(
        host_id=host_id,
        park_after_ms=park_after,
        lease_ttl=lease_ttl,
        poll_interval=max(poll_interval, 0.05),
        clock=Clock.from_env(),
    )
    ctx = HostContext(
        st,
        Engine(settings.cache_dir(), Limits(max_memory_bytes=max_memory * MiB, fuel_per_segment=fuel)),
        registry,
        options,
        on_event=metrics.observe,
        on_log=lambda ex, stream, data: guest_log.info("%s | %s", ex, data.decode("utf-8", "replace").rstrip()),
    )
    worker = Worker(ctx, max_concurrency=max_concurrency, poll_interval=poll_interval, url=f"http://{host}:{port}")
    app_ = create_app(st, worker=worker, metrics=metrics, token=settings.api_token())
    err.print(f"tardigrade host {host_id} on http://{host}:{port} (store {st.url}, {max_concurrency} at once)")
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@app.command("submit")
def submit_cmd(
    module: Annotated[Path, typer.Argument(help="A .wasm workflow.")],
    server: Annotated[str, typer.Option("--server", envvar="TD_SERVER", help="Host URL.")],
    id: Annotated[str | None, typer.Option("--id", help="Execution id (generated if absent).")] = None,
    input: Annotated[str | None, typer.Option("--input", help="Input text.")] = None,
    mode: Annotated[str, typer.Option("--mode", help="snapshot, replay or hybrid.")] = "snapshot",
    snapshot_every: Annotated[int, typer.Option("--snapshot-every", help="Hybrid: snapshot every K-th step.")] = 16,
) -> None:
    """Upload a module to a host and start an execution there; prints the execution's status."""
    client = Client(server)
    wasm = _guard(module.read_bytes)
    uploaded = _guard(lambda: client.upload_module(wasm))
    started = _guard(lambda: client.start(uploaded["id"], id=id, input=input, mode=mode, snapshot_every=snapshot_every))
    out.print_json(json.dumps(started))


@app.command("migrate")
def migrate_cmd(
    id: Annotated[str, typer.Argument(help="Execution id.")],
    to: Annotated[str, typer.Option("--to", help="Target host id.")],
    server: Annotated[str, typer.Option("--server", envvar="TD_SERVER", help="Host URL.")],
) -> None:
    """Move a running or parked execution to another host."""
    reply = _guard(lambda: Client(server).migrate(id, to))
    err.print(f"migration of {id} to {to} requested (from {reply.get('from') or 'no host: parked'})")


@app.command("ls")
def ls_cmd(
    server: ServerOpt = None,
    store: StoreOpt = settings.DEFAULT_STORE,
    s3_endpoint: EndpointOpt = None,
    status: Annotated[str | None, typer.Option("--status", help="Only executions with this status.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List executions (from a host with --server, else from the store)."""
    if server:
        rows = _guard(lambda: Client(server).executions(status=status))
    else:
        st = _store(store, s3_endpoint)
        rows = [describe(st, i).to_dict() for i in _guard(lambda: list_execution_ids(st))]
        rows = [r for r in rows if status is None or r["status"] == status]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(box=None)
    for col in ("id", "status", "step", "host", "mode", "snapshots", "created"):
        table.add_column(col)
    for r in rows:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["created_at"]))
        table.add_row(
            r["id"], r["status"], str(r["step"]), r.get("host") or "", r["mode"], str(r["snapshots"]), created
        )
    out.print(table)


@app.command("bench", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench_cmd(
    ctx: typer.Context,
    quick: Annotated[bool, typer.Option("--quick", help="The small matrix: a few minutes on 2 cores.")] = False,
) -> None:
    """Snapshot vs replay benchmarks: tables, JSON and plots under benchmarks/results/ (options: --only NAME ...)."""
    from benchmarks.run import main as run_benchmarks

    raise typer.Exit(run_benchmarks([*(["--quick"] if quick else []), *ctx.args]))


@app.command("demo")
def demo_cmd(store: StoreOpt = settings.DEFAULT_STORE) -> None:
    """Build the order workflow, run it, SIGKILL it mid-run, resume it, and show what happened."""
    from api.demo import run_demo

    raise typer.Exit(run_demo(store, Console(highlight=False)))


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
