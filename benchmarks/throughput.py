"""Experiment 6: throughput - steps per second on one host with 1, 4 and 16 concurrent executions.

One HostContext (store, engine, activities) is shared by C threads, each
driving its own Execution of the experiment-1 guest; they start together on a
barrier. Throughput = C x steps / wall time from the barrier to the last
thread's end (instance creation and the guest's 1 MiB fill included). Python
runs one thread at a time (the GIL), so CPU-bound work does not scale with C;
waiting on fsync or the network does. The null store shows the CPU-bound
ceiling of each mode.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import MODES, Bench, EventLog, create, guest_input, stats, step_times_ms, wait_for_prunes
from benchmarks.report import Section, Table, med_p90, pyplot, ratio, save_figure
from runtime.executor import Execution, Outcome, acquire

NAME = "throughput"
TITLE = "6. Throughput: steps/s with 1, 4 and 16 concurrent executions"


def one_round(bench: Bench, store_name: str, mode: str, level: int, steps: int, tag: str) -> dict[str, Any]:
    ns = bench.stores[store_name].fresh(f"tp-{mode}-{level}")
    log = EventLog()
    ctx = bench.context(ns.store, on_event=log)
    text = guest_input(steps, bench.params.guest_mib, bench.params.guest_pages)
    ids = [f"tp-{tag}-{i}" for i in range(level)]
    records = [create(ns.store, bench.guest, i, text, mode) for i in ids]
    barrier = threading.Barrier(level + 1)
    outcomes: list[Outcome | BaseException] = []
    lock = threading.Lock()

    def drive(i: int) -> None:
        barrier.wait()
        try:
            o: Outcome | BaseException = Execution(ctx, records[i], acquire(ctx, ids[i])).run()
        except BaseException as e:  # noqa: BLE001 - reported below
            o = e
        with lock:
            outcomes.append(o)

    threads = [threading.Thread(target=drive, args=(i,), name=f"tp-{i}") for i in range(level)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    wait_for_prunes(f"tp-{tag}-")
    ns.discard()
    bad = [o for o in outcomes if not isinstance(o, Outcome) or o.status != "completed"]
    if bad:
        raise RuntimeError(f"throughput {store_name}/{mode}/{level}: {bad[0]!r}")
    latencies = [x for i in ids for x in step_times_ms([e for e in log.by_id[i] if e.get("kind") == "activity"])]
    return {"steps_per_s": level * steps / wall, "wall_s": wall, "latencies": latencies}


def run(bench: Bench) -> dict[str, Any]:
    return _measure(bench)


def _measure(bench: Bench) -> dict[str, Any]:
    p = bench.params
    stores = ["null", *bench.durable_stores]
    raw: dict[str, dict[str, dict[str, dict[str, list[float]]]]] = {
        s: {m: {str(c): {"rate": [], "lat": []} for c in p.throughput_levels} for m in MODES} for s in stores
    }
    for r in range(p.throughput_repeats):
        for level in p.throughput_levels:
            for mode in MODES:
                for s in stores:
                    res = one_round(bench, s, mode, level, p.throughput_steps, f"{s}-{mode}-{level}-{r}")
                    raw[s][mode][str(level)]["rate"].append(res["steps_per_s"])
                    raw[s][mode][str(level)]["lat"] += res["latencies"]
        bench.log(f"throughput: repeat {r + 1}/{p.throughput_repeats} done")
    out: dict[str, Any] = {"steps": p.throughput_steps, "levels": list(p.throughput_levels), "stores": {}}
    for s in stores:
        out["stores"][s] = {
            m: {c: {"steps_per_s": stats(v["rate"]), "step_latency_ms": stats(v["lat"])} for c, v in raw[s][m].items()}
            for m in MODES
        }
    return out


def report(result: dict[str, Any], outdir: Path) -> Section:
    levels = [str(c) for c in result["levels"]]
    sec = Section(
        NAME,
        TITLE,
        intro=(
            f"Each execution runs {result['steps']} steps of the experiment-1 guest; median (p90) over repeats of "
            "total steps/s; latency = time between two committed steps of one execution, over all steps."
        ),
    )
    t = Table(
        "Throughput (steps/s)",
        [
            "store",
            "mode",
            *(f"C={c}" for c in levels),
            f"C={levels[-1]} / C={levels[0]}",
            *(f"latency C={c} (ms)" for c in levels),
        ],
    )
    for s, by in result["stores"].items():
        for m, d in by.items():
            t.add(
                s,
                m,
                *(med_p90(d[c]["steps_per_s"], lambda x: f"{x:,.0f}") for c in levels),
                ratio(d[levels[-1]]["steps_per_s"]["median"], d[levels[0]]["steps_per_s"]["median"]),
                *(med_p90(d[c]["step_latency_ms"]) for c in levels),
            )
    sec.tables.append(t)
    sec.plots.append(_plot(result, outdir))
    return sec


def _plot(result: dict[str, Any], outdir: Path) -> str:
    plt = pyplot()

    colors = {"snapshot": "tab:blue", "replay": "tab:orange", "hybrid": "tab:green"}
    styles = {"null": ":", "file": "-", "s3": "--"}
    fig, ax = plt.subplots(figsize=(8, 4.8))
    levels = result["levels"]
    for s, by in result["stores"].items():
        for m, d in by.items():
            ax.plot(
                levels,
                [d[str(c)]["steps_per_s"]["median"] for c in levels],
                ls=styles.get(s, "-"),
                marker="o",
                color=colors[m],
                label=f"{m}, {s} store",
            )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(levels, [str(c) for c in levels])
    ax.set_xlabel("concurrent executions (threads, one process)")
    ax.set_ylabel("steps per second (median)")
    ax.set_title("Throughput on one host (2 cores, one Python process)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=3)
    return save_figure(fig, outdir, "throughput.png")
