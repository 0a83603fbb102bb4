"""Experiment 2: recovery time after a crash at step N.

Crash: for each store, N and mode, one execution runs N + 5 steps to the end
with the product's defaults (retention on); then the store is *truncated* to
what it held right after step N committed (later snapshot and journal
objects, the terminal record and the lease deleted). That is the state a host
SIGKILLed right after committing step N leaves behind, without waiting for a
kill to land on the right step. (Retention deletes chains older than the
newest two, so one long run cut back to several N would not do.)

Each crashed store is then recovered three ways, modes interleaved in every
repeat:

- fresh: a new `python -m benchmarks.resume_child` process (imports the
  runtime, opens the store, recovers, stops at the first live host call);
  measured from just before spawning it to the live call;
- cli: `python -m api resume ID -v`, from spawn to the line of the first
  committed live step (one activity and one commit later than "fresh"),
  then the store is truncated again;
- inproc: the same recovery in this process (engine warm), split into
  phases by wall time: store I/O (any GET/LIST in flight), decode (object
  decoding not overlapped by I/O), apply (writing pages into the instance
  and verifying them: the executor's apply_ms), replay (re-executing the
  guest from the end of loading to the live call, answered from the journal)
  and other (lease, instance creation, pristine hashes...).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import (
    CACHE,
    MODES,
    REPO,
    Bench,
    CountingStore,
    Namespace,
    Run,
    crash_point,
    drop_lease,
    guest_input,
    run_execution,
    stats,
    truncate,
    wait_for_prunes,
)
from benchmarks.probe import probe
from benchmarks.profiling import profile_call
from benchmarks.report import Section, Table, med_p90, ms, nbytes, pyplot, ratio, save_figure
from snapshots.format import JournalRecord, Snapshot

NAME = "recovery"
TITLE = "2. Recovery time after a crash at step N"
PHASES = ("io", "decode", "apply", "replay", "other")
CHILD_TIMEOUT = 600
SLOW_MS = 10_000  # a recovery slower than this (S3 replay of 10 000 steps) is sampled only SLOW_REPEATS times
SLOW_REPEATS = 3


def _slow(samples: list[dict[str, Any]]) -> bool:
    return bool(samples) and samples[0]["total_ms"] > SLOW_MS


# -- interval arithmetic -----------------------------------------------------------------


def merge(spans: list[tuple[float, float]], lo: float, hi: float) -> list[tuple[float, float]]:
    """The union of `spans` clipped to [lo, hi], as sorted disjoint intervals."""
    out: list[tuple[float, float]] = []
    for a, b in sorted((max(a, lo), min(b, hi)) for a, b in spans):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def length(intervals: list[tuple[float, float]]) -> float:
    return sum(b - a for a, b in intervals)


def minus(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    """Length of the union `a` not covered by the union `b`."""
    covered, j = 0.0, 0
    for x0, x1 in a:  # both sorted and disjoint: one sweep
        while j < len(b) and b[j][1] <= x0:
            j += 1
        k = j
        while k < len(b) and b[k][0] < x1:
            covered += min(x1, b[k][1]) - max(x0, b[k][0])
            k += 1
    return length(a) - covered


@contextmanager
def decode_spans(spans: list[tuple[float, float]]) -> Iterator[None]:
    """Record the wall time of every snapshot and journal decode in this process."""
    originals = {cls: cls.__dict__["decode"] for cls in (Snapshot, JournalRecord)}

    def wrap(fn: Any) -> Any:
        def decode(cls: Any, key: str, data: bytes) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(cls, key, data)
            finally:
                spans.append((t0, time.perf_counter()))

        return classmethod(decode)

    for cls, orig in originals.items():
        cls.decode = wrap(orig.__func__)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for cls, orig in originals.items():
            cls.decode = orig  # type: ignore[method-assign]


# -- the three ways of recovering -------------------------------------------------------------


def recover_inproc(bench: Bench, ns: Namespace, execution_id: str) -> dict[str, Any]:
    io: dict[str, list[tuple[float, float]]] = {}
    dec: list[tuple[float, float]] = []
    counted = CountingStore(ns.store, spans=io)
    ctx = bench.context(counted, host="inproc-recovery")
    with decode_spans(dec):
        p = probe(ctx, execution_id)
    drop_lease(ns.store, execution_id)
    lo, hi = p.started, p.live_at
    io_u = merge(io.get("get", []) + io.get("list", []), lo, hi)
    list_u = merge(io.get("list", []), lo, hi)
    dec_u = merge(dec, lo, hi)
    total = (hi - lo) * 1000
    io_ms = length(io_u) * 1000
    decode_ms = minus(dec_u, io_u) * 1000
    apply_ms = float(p.info.get("apply_ms", 0.0))
    tail = merge([(p.load_end, hi)], lo, hi)
    replay_ms = minus(tail, io_u) * 1000
    other = total - io_ms - decode_ms - apply_ms - replay_ms
    gets, get_bytes = counted.total("get")
    lists, _ = counted.total("list")
    return {
        "total_ms": total,
        "io": io_ms,
        "decode": decode_ms,
        "apply": apply_ms,
        "replay": replay_ms,
        "other": other,
        "list_ms": length(list_u) * 1000,
        "gets": gets,
        "get_bytes": get_bytes,
        "lists": lists,
        "info": p.info,
    }


def _child_env(ns: Namespace) -> dict[str, str]:
    env = dict(os.environ, TD_CACHE_DIR=str(CACHE), **ns.env)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def recover_fresh(ns: Namespace, execution_id: str) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.resume_child",
        "--store",
        ns.url,
        "--id",
        execution_id,
        "--cache",
        str(CACHE),
    ]
    env = _child_env(ns)
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=CHILD_TIMEOUT)
    drop_lease(ns.store, execution_id)
    if proc.returncode != 0:
        raise RuntimeError(f"resume_child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    j = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "total_ms": (j["live"] - t0) * 1000,
        "python_start_ms": (j["enter"] - t0) * 1000,
        "imports_ms": (j["imported"] - j["enter"]) * 1000,
        "setup_ms": (j["setup"] - j["imported"]) * 1000,
        "recover_ms": (j["live"] - j["setup"]) * 1000,
        "info": j["info"],
    }


def recover_cli(ns: Namespace, execution_id: str) -> dict[str, Any]:
    """`tardigrade resume -v`: spawn to the first committed live step; the run goes on to the end."""
    cmd = [sys.executable, "-m", "api", "resume", execution_id, "--store", ns.url, "-v", "-q"]
    t0 = time.time()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO, env=_child_env(ns)
    )
    assert proc.stderr is not None
    restored = first = None
    lines = []
    for line in proc.stderr:
        now = time.time()
        lines.append(line)
        if restored is None and "restored on" in line:
            restored = now
        elif restored is not None and first is None and " step " in f" {line}":
            first = now
    rc = proc.wait(timeout=CHILD_TIMEOUT)
    if rc != 0 or restored is None or first is None:
        raise RuntimeError(f"tardigrade resume exited {rc}:\n{''.join(lines)[-3000:]}")
    return {"total_ms": (first - t0) * 1000, "restored_line_ms": (restored - t0) * 1000}


# -- the experiment ------------------------------------------------------------------------


def _summary(samples: list[dict[str, Any]], fields: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {f: stats([float(s[f]) for s in samples]) for f in fields if samples and f in samples[0]}
    if samples and "info" in samples[0]:
        info = samples[0]["info"]
        out["objects"] = info.get("objects", 0)
        out["bytes"] = info.get("bytes", 0)
        out["replay_steps"] = info.get("replay_steps", 0)
        out["seq"] = info.get("seq")
        for k in ("fetch_ms", "apply_ms", "restore_ms", "recovery_ms"):
            out[k] = stats([float(s["info"].get(k) or 0.0) for s in samples])
    for k in ("gets", "get_bytes", "lists"):
        if samples and k in samples[0]:
            out[k] = samples[0][k]
    return out


def run(bench: Bench) -> dict[str, Any]:
    p = bench.params
    ns_list = sorted(p.recovery_ns)
    result: dict[str, Any] = {
        "guest": guest_input(0, p.guest_mib, p.guest_pages).replace("steps=0", "steps=N+5"),
        "ns": ns_list,
        "stores": {},
        "derived": {},
        "profiles": {},
    }
    for store_name in bench.durable_stores:
        ns = bench.stores[store_name].fresh("recovery")
        by_mode: dict[str, dict[str, Any]] = {m: {} for m in MODES}
        last: dict[str, Run] = {}
        for n in ns_list:
            # One execution per mode and N, run past N with the product's defaults (retention on),
            # then cut back to the state right after step N.
            runs: dict[str, Run] = {}
            t0 = time.perf_counter()
            for m in MODES:
                runs[m] = run_execution(
                    bench, ns.store, f"rec-{m}-{n}", guest_input(n + 5, p.guest_mib, p.guest_pages), m
                )
            bench.log(f"recovery: {store_name} N={n}: 3 x {n + 5} steps run in {time.perf_counter() - t0:.1f} s")
            points = {m: crash_point(runs[m].steps, n) for m in MODES}
            for m in MODES:
                truncate(ns.store, runs[m].execution_id, points[m])
            samples: dict[str, dict[str, list[dict[str, Any]]]] = {
                m: {"inproc": [], "fresh": [], "cli": []} for m in MODES
            }
            for r in range(p.recovery_inproc_repeats):
                for m in MODES:
                    if r < SLOW_REPEATS or not _slow(samples[m]["inproc"]):
                        samples[m]["inproc"].append(recover_inproc(bench, ns, runs[m].execution_id))
            for r in range(p.recovery_child_repeats):
                for m in MODES:
                    if r < SLOW_REPEATS or not _slow(samples[m]["fresh"]):
                        samples[m]["fresh"].append(recover_fresh(ns, runs[m].execution_id))
            for _ in range(p.recovery_cli_repeats):
                for m in MODES:
                    samples[m]["cli"].append(recover_cli(ns, runs[m].execution_id))
                    wait_for_prunes()
                    truncate(ns.store, runs[m].execution_id, points[m])
            for m in MODES:
                s = samples[m]
                by_mode[m][str(n)] = {
                    "crash": points[m].__dict__,
                    "inproc": _summary(s["inproc"], ("total_ms", *PHASES, "list_ms")),
                    "fresh": _summary(
                        s["fresh"], ("total_ms", "python_start_ms", "imports_ms", "setup_ms", "recover_ms")
                    ),
                    "cli": _summary(s["cli"], ("total_ms", "restored_line_ms")),
                }
                bad = [x for x in s["inproc"] if (x["info"].get("seq") or 0) != points[m].snap_seq]
                if bad:
                    raise RuntimeError(
                        f"{store_name} {m} N={n}: restored seq {bad[0]['info'].get('seq')}, "
                        f"expected {points[m].snap_seq} - the crash state is not what it should be"
                    )
            last = runs
            bench.log(
                f"recovery: {store_name} N={n}: "
                + ", ".join(f"{m} {by_mode[m][str(n)]['fresh']['total_ms']['median']:.0f} ms" for m in MODES)
                + " (fresh process)"
            )
        result["stores"][store_name] = by_mode
        result["derived"][store_name] = derive(by_mode)
        if bench.profile_always or result["derived"][store_name]["snapshot_ratio"]["inproc"] > 1.5:
            result["profiles"][f"{store_name}_snapshot"] = _profile(bench, ns, last["snapshot"], "snapshot", store_name)
        if bench.profile_always or "hybrid" in result["derived"][store_name].get("hybrid_grows", ""):
            result["profiles"][f"{store_name}_hybrid"] = _profile(bench, ns, last["hybrid"], "hybrid", store_name)
        ns.discard()
    return result


def _profile(bench: Bench, ns: Namespace, run_: Run, mode: str, store_name: str) -> dict[str, Any]:
    """Profile three in-process recoveries at the largest N."""
    n = max(bench.params.recovery_ns)
    truncate(ns.store, run_.execution_id, crash_point(run_.steps, n))

    def go() -> None:
        for _ in range(3):
            probe(bench.context(ns.store, host="profile"), run_.execution_id)
            drop_lease(ns.store, run_.execution_id)

    return profile_call(go, bench.outdir, f"recovery-{store_name}-{mode}-N{n}", inline=True)


def _fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope and intercept."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    return slope, my - slope * mx


def crossover(ns: list[int], snap: list[float], other: list[float]) -> dict[str, Any]:
    """The N where snapshot recovery becomes faster than `other` (interpolated in log-log)."""
    d = [o - s for s, o in zip(snap, other, strict=True)]  # > 0: snapshot is faster
    if all(x > 0 for x in d):
        return {"n": None, "text": f"none in range: snapshot faster at every N ({ns[0]}..{ns[-1]})"}
    if all(x <= 0 for x in d):
        return {"n": None, "text": f"none in range: snapshot never faster up to N={ns[-1]}"}
    for i in range(len(ns) - 1):
        if d[i] <= 0 < d[i + 1]:
            # interpolate log(other/snap) = 0 between the two points in log N
            r0 = math.log(other[i] / snap[i])
            r1 = math.log(other[i + 1] / snap[i + 1])
            f = -r0 / (r1 - r0) if r1 != r0 else 0.5
            n = math.exp(math.log(ns[i]) + f * (math.log(ns[i + 1]) - math.log(ns[i])))
            return {"n": n, "text": f"N ~ {n:,.0f} (between {ns[i]} and {ns[i + 1]})"}
    return {"n": None, "text": "curves cross more than once: " + ", ".join(f"{x:+.1f}" for x in d)}


def derive(by_mode: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ns = sorted(int(n) for n in by_mode["snapshot"])
    out: dict[str, Any] = {"slopes": {}, "crossover": {}, "snapshot_ratio": {}}
    for m in MODES:
        out["slopes"][m] = {}
        for how in ("fresh", "inproc"):
            ys = [by_mode[m][str(n)][how]["total_ms"]["median"] for n in ns]
            slope, _ = _fit([float(n) for n in ns], ys)
            loglog = _fit([math.log(n) for n in ns], [math.log(max(y, 1e-6)) for y in ys])[0] if len(ns) > 1 else 0.0
            out["slopes"][m][how] = {"ms_per_1000": slope * 1000, "loglog_exponent": loglog}
    for how in ("fresh", "inproc"):
        snap = [by_mode["snapshot"][str(n)][how]["total_ms"]["median"] for n in ns]
        out["crossover"][how] = {
            other: crossover(ns, snap, [by_mode[other][str(n)][how]["total_ms"]["median"] for n in ns])
            for other in ("replay", "hybrid")
        }
        out["snapshot_ratio"][how] = snap[-1] / snap[0] if snap[0] else float("nan")
    # What grows with N in snapshot mode, and does hybrid's load grow although it replays < K steps?
    lo, hi = str(ns[0]), str(ns[-1])
    s_lo, s_hi = by_mode["snapshot"][lo]["inproc"], by_mode["snapshot"][hi]["inproc"]
    growth = {ph: s_hi[ph]["median"] - s_lo[ph]["median"] for ph in PHASES}
    top = max(growth, key=lambda k: growth[k])
    out["snapshot_growth"] = (
        f"in-process, N={lo} -> {hi}: "
        + ", ".join(f"{ph} {growth[ph]:+.1f} ms" for ph in PHASES)
        + f" (LIST {s_hi['list_ms']['median'] - s_lo['list_ms']['median']:+.1f} ms of the io)"
        + f"; most growth in {top} ({s_lo.get('gets', '?')} -> {s_hi.get('gets', '?')} GETs, "
        f"{s_lo.get('lists', '?')} -> {s_hi.get('lists', '?')} LISTs)"
    )
    h_lo, h_hi = by_mode["hybrid"][lo]["inproc"], by_mode["hybrid"][hi]["inproc"]
    if h_hi["replay_steps"] <= 16 and h_hi["io"]["median"] > 3 * max(h_lo["io"]["median"], 0.5):
        out["hybrid_grows"] = (
            f"hybrid replays only {h_hi['replay_steps']} steps at N={hi} but reads {h_hi.get('gets')} objects "
            f"(io {h_hi['io']['median']:.1f} ms vs {h_lo['io']['median']:.1f} ms at N={lo}): it reads the whole journal"
        )
    return out


# -- report ---------------------------------------------------------------------------------


def report(result: dict[str, Any], outdir: Path) -> Section:
    sec = Section(
        NAME,
        TITLE,
        intro=(
            f"Guest `{result['guest']}`. Crash = store truncated to its state right after step N (see "
            "benchmarks/recovery.py). *fresh*: new Python process from spawn to the first live host call; "
            "*cli*: `python -m api resume -v` from spawn to its first committed live step; *inproc*: the same "
            "recovery inside the benchmark process (engine warm), split by wall time. Recoveries slower than "
            f"{SLOW_MS // 1000} s are sampled {SLOW_REPEATS} times."
        ),
    )
    for store, by in result["stores"].items():
        ns = sorted(int(n) for n in by["snapshot"])
        t = Table(
            f"{store} store: recovery time (ms), median (p90)",
            ["N", "mode", "fresh process", "cli resume", "in-process", "objects read", "bytes read", "replayed steps"],
        )
        for n in ns:
            for m in MODES:
                d = by[m][str(n)]
                t.add(
                    str(n),
                    m,
                    med_p90(d["fresh"]["total_ms"]),
                    med_p90(d["cli"].get("total_ms")),
                    med_p90(d["inproc"]["total_ms"]),
                    str(d["inproc"].get("gets", "-")),
                    nbytes(d["inproc"].get("get_bytes")),
                    str(d["inproc"].get("replay_steps") or 0),
                )
        sec.tables.append(t)
        t = Table(
            f"{store} store: in-process recovery split (ms, median)",
            [
                "N",
                "mode",
                "store I/O",
                "of which LIST",
                "decode",
                "apply",
                "replay",
                "other",
                "total",
                "executor restore_ms",
            ],
        )
        for n in ns:
            for m in MODES:
                d = by[m][str(n)]["inproc"]
                t.add(
                    str(n),
                    m,
                    ms(d["io"]["median"]),
                    ms(d["list_ms"]["median"]),
                    *(ms(d[ph]["median"]) for ph in PHASES[1:]),
                    ms(d["total_ms"]["median"]),
                    ms(d["restore_ms"]["median"]),
                )
        sec.tables.append(t)
        t = Table(
            f"{store} store: fresh process split (ms, median)",
            ["N", "mode", "python start", "imports", "engine+store setup", "recovery", "total"],
        )
        for n in ns:
            for m in MODES:
                d = by[m][str(n)]["fresh"]
                t.add(
                    str(n),
                    m,
                    ms(d["python_start_ms"]["median"]),
                    ms(d["imports_ms"]["median"]),
                    ms(d["setup_ms"]["median"]),
                    ms(d["recover_ms"]["median"]),
                    ms(d["total_ms"]["median"]),
                )
        sec.tables.append(t)
        der = result["derived"][store]
        t = Table(
            f"{store} store: growth with N and crossover",
            ["measure", "fresh process", "in-process"],
        )
        for m in MODES:
            t.add(
                f"{m}: slope (ms per 1000 steps)",
                ms(der["slopes"][m]["fresh"]["ms_per_1000"]),
                ms(der["slopes"][m]["inproc"]["ms_per_1000"]),
            )
            t.add(
                f"{m}: log-log exponent",
                f"{der['slopes'][m]['fresh']['loglog_exponent']:.2f}",
                f"{der['slopes'][m]['inproc']['loglog_exponent']:.2f}",
            )
        for other in ("replay", "hybrid"):
            t.add(
                f"snapshot overtakes {other} at",
                der["crossover"]["fresh"][other]["text"],
                der["crossover"]["inproc"][other]["text"],
            )
        t.add(
            f"snapshot: recovery(N={ns[-1]}) / recovery(N={ns[0]})",
            f"{der['snapshot_ratio']['fresh']:.2f}x",
            f"{der['snapshot_ratio']['inproc']:.2f}x",
        )
        for m in ("replay", "hybrid"):
            a = by["snapshot"][str(ns[-1])]["fresh"]["total_ms"]["median"]
            b = by[m][str(ns[-1])]["fresh"]["total_ms"]["median"]
            t.add(
                f"{m} / snapshot at N={ns[-1]}",
                ratio(b, a),
                ratio(
                    by[m][str(ns[-1])]["inproc"]["total_ms"]["median"],
                    by["snapshot"][str(ns[-1])]["inproc"]["total_ms"]["median"],
                ),
            )
        sec.tables.append(t)
        sec.notes.append(f"{store}: snapshot-mode growth: {der['snapshot_growth']}")
        f10 = by["snapshot"][str(ns[0])]["fresh"]
        startup = f10["python_start_ms"]["median"] + f10["imports_ms"]["median"]
        sec.notes.append(
            f"{store}: in a fresh process, Python start + imports take {ms(startup)} ms of the "
            f"{ms(f10['total_ms']['median'])} ms snapshot-mode recovery at N={ns[0]} "
            f"({100 * startup / f10['total_ms']['median']:.0f}%)"
        )
        if der.get("hybrid_grows"):
            sec.notes.append(f"{store}: {der['hybrid_grows']}")
    for name, prof in result.get("profiles", {}).items():
        from benchmarks.profiling import describe

        sec.notes.append(f"profile {name} ({prof['file']}): top self time: {describe(prof)}")
    sec.plots += [_plot_curves(result, outdir), _plot_split(result, outdir)]
    return sec


def _plot_curves(result: dict[str, Any], outdir: Path) -> str:
    plt = pyplot()

    stores = list(result["stores"])
    fig, axes = plt.subplots(1, len(stores), figsize=(6.5 * len(stores), 4.8), squeeze=False)
    colors = {"snapshot": "tab:blue", "replay": "tab:orange", "hybrid": "tab:green"}
    for ax, store in zip(axes[0], stores, strict=True):
        by = result["stores"][store]
        ns = sorted(int(n) for n in by["snapshot"])
        for m in MODES:
            for how, style in (("fresh", "-o"), ("inproc", "--s")):
                med = [by[m][str(n)][how]["total_ms"]["median"] for n in ns]
                p90 = [by[m][str(n)][how]["total_ms"]["p90"] for n in ns]
                ax.errorbar(
                    ns,
                    med,
                    yerr=[[0] * len(ns), [max(0.0, b - a) for a, b in zip(med, p90, strict=True)]],
                    fmt=style,
                    color=colors[m],
                    capsize=3,
                    ms=4,
                    label=f"{m} ({'fresh process' if how == 'fresh' else 'in-process'})",
                    alpha=1.0 if how == "fresh" else 0.7,
                )
        cross = result["derived"][store]["crossover"]["fresh"]["replay"]
        if cross["n"]:
            ax.axvline(cross["n"], color="grey", ls=":", lw=1)
            ax.annotate(
                f"snapshot faster than replay\nfrom N~{cross['n']:,.0f}",
                (cross["n"], 0.97),
                xycoords=("data", "axes fraction"),
                fontsize=8,
                va="top",
                xytext=(4, 0),
                textcoords="offset points",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("crash after step N")
        ax.set_ylabel("time to the next live host call (ms)")
        ax.set_title(f"Recovery vs N, {store} store (whisker: p90)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, outdir, "recovery_vs_n.png")


def _plot_split(result: dict[str, Any], outdir: Path) -> str:
    plt = pyplot()

    stores = list(result["stores"])
    fig, axes = plt.subplots(1, len(stores), figsize=(6.5 * len(stores), 4.8), squeeze=False)
    colors = {"io": "tab:blue", "decode": "tab:cyan", "apply": "tab:green", "replay": "tab:orange", "other": "tab:grey"}
    for ax, store in zip(axes[0], stores, strict=True):
        by = result["stores"][store]
        ns = sorted(int(n) for n in by["snapshot"])
        labels: list[str] = []
        totals: list[float] = []
        bars: dict[str, list[float]] = {ph: [] for ph in PHASES}
        for m in MODES:
            for n in ns:
                d = by[m][str(n)]["inproc"]
                labels.append(f"{m[:4]}\n{n}")
                parts = {ph: max(0.0, d[ph]["median"]) for ph in PHASES}
                whole = sum(parts.values()) or 1.0
                totals.append(d["total_ms"]["median"])
                for ph in PHASES:
                    bars[ph].append(100 * parts[ph] / whole)
        bottoms = [0.0] * len(labels)
        for ph in PHASES:
            ax.bar(range(len(labels)), bars[ph], bottom=bottoms, color=colors[ph], label=ph)
            bottoms = [b + v for b, v in zip(bottoms, bars[ph], strict=True)]
        for x, total in enumerate(totals):
            ax.annotate(f"{total:.0f}", (x, 100), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(labels)), labels, fontsize=7)
        ax.set_ylim(0, 112)
        ax.set_ylabel("share of recovery time (%); total ms on top")
        ax.set_title(f"In-process recovery by phase, {store} store (mode / N)")
        ax.legend(fontsize=7, loc="lower right", framealpha=0.9)
    return save_figure(fig, outdir, "recovery_split.png")
