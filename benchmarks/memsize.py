"""Experiment 4: memory size - persist time per step and restore time, 1/16/64 MiB guests, 1% pages per step.

Snapshot mode only: persisting a snapshot is what grows with memory (replay
journals no memory; hybrid persists a snapshot like this every K steps). The
guest fills its memory with random bytes (incompressible: the worst case for
the byte counts). Per size: one run of S + 5 steps; persist samples are the
executor's persist_ms (encode + write) of every step after the first (the
first is the full image, reported on its own). Then the store is truncated to
step S and recovered in-process (the executor's restore_ms, and the time to
the next live call) and in fresh processes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import targets
from benchmarks.common import (
    Bench,
    Namespace,
    crash_point,
    drop_lease,
    guest_input,
    pages_for_percent,
    run_execution,
    stats,
    truncate,
)
from benchmarks.probe import probe
from benchmarks.profiling import describe, profile_call
from benchmarks.recovery import recover_fresh
from benchmarks.report import Section, Table, med_p90, ms, nbytes, pyplot, ratio, save_figure

NAME = "memsize"
TITLE = "4. Memory size: persist and restore (1% of pages changed per step)"
PERCENT = 1.0


def run(bench: Bench) -> dict[str, Any]:
    p = bench.params
    out: dict[str, Any] = {
        "percent": PERCENT,
        "steps": p.mem_steps,
        "sizes": list(p.mem_sizes),
        "stores": {},
        "profiles": {},
    }
    for store_name in bench.durable_stores:
        by_size: dict[str, Any] = {}
        for mib in p.mem_sizes:
            pages = pages_for_percent(mib, PERCENT)
            text = guest_input(p.mem_steps + 5, mib, pages)
            ns = bench.stores[store_name].fresh(f"mem{mib}")
            exec_id = f"mem-{mib}"
            run_ = run_execution(bench, ns.store, exec_id, text, "snapshot")
            steps = run_.steps[: p.mem_steps]
            first, rest = steps[0], steps[1:]
            d: dict[str, Any] = {
                "pages_per_step": pages,
                "guest": text,
                "persist_ms": stats([e["persist_ms"] for e in rest]),
                "encode_ms": stats([e["encode_ms"] for e in rest]),
                "put_ms": stats([e["persist_ms"] - e["encode_ms"] for e in rest]),
                "bytes": stats([float(e["snapshot_bytes"]) for e in rest]),
                "full_images": sum(1 for e in steps if e.get("snapshot") == "full"),
                "first_full": {
                    "persist_ms": first["persist_ms"],
                    "encode_ms": first["encode_ms"],
                    "bytes": first["snapshot_bytes"],
                },
            }
            truncate(ns.store, exec_id, crash_point(run_.steps, p.mem_steps))
            probes = []
            for _ in range(p.mem_repeats):
                pr = probe(bench.context(ns.store, host="mem-restore"), exec_id)
                drop_lease(ns.store, exec_id)
                probes.append(pr)
            d["restore"] = {
                "restore_ms": stats([float(x.info["restore_ms"]) for x in probes]),
                "fetch_ms": stats([float(x.info["fetch_ms"]) for x in probes]),
                "apply_ms": stats([float(x.info["apply_ms"]) for x in probes]),
                "to_live_ms": stats([x.total_ms for x in probes]),
                "objects": probes[0].info.get("objects"),
                "bytes": probes[0].info.get("bytes"),
            }
            fresh = [recover_fresh(ns, exec_id) for _ in range(max(1, p.mem_repeats // 2))]
            d["fresh"] = {
                "total_ms": stats([f["total_ms"] for f in fresh]),
                "recover_ms": stats([f["recover_ms"] for f in fresh]),
            }
            by_size[str(mib)] = d
            bench.log(
                f"memsize: {store_name} {mib} MiB ({pages} pages/step): persist {d['persist_ms']['median']:.1f} ms, "
                f"restore {d['restore']['restore_ms']['median']:.1f} ms"
            )
            if mib == 64:
                if bench.profile_always or d["persist_ms"]["median"] > targets.PERSIST_64_MS:
                    out["profiles"][f"{store_name}_persist"] = _profile_persist(bench, store_name, mib, pages)
                if bench.profile_always or d["restore"]["restore_ms"]["median"] > targets.RESTORE_64_MS:
                    out["profiles"][f"{store_name}_restore"] = _profile_restore(bench, ns, exec_id, store_name)
            ns.discard()
        out["stores"][store_name] = by_size
    return out


def _profile_persist(bench: Bench, store_name: str, mib: int, pages: int) -> dict[str, Any]:
    ns = bench.stores[store_name].fresh("mem-profile")
    try:
        return profile_call(
            lambda: run_execution(bench, ns.store, "mem-profile", guest_input(20, mib, pages), "snapshot"),
            bench.outdir,
            f"memsize-{store_name}-{mib}MiB-persist",
        )
    finally:
        ns.discard()


def _profile_restore(bench: Bench, ns: Namespace, exec_id: str, store_name: str) -> dict[str, Any]:
    def go() -> None:
        for _ in range(3):
            probe(bench.context(ns.store, host="profile"), exec_id)
            drop_lease(ns.store, exec_id)

    return profile_call(go, bench.outdir, f"memsize-{store_name}-64MiB-restore", inline=True)


def report(result: dict[str, Any], outdir: Path) -> Section:
    sec = Section(
        NAME,
        TITLE,
        intro=(
            f"Snapshot mode, random-filled memory, {result['percent']:g}% of its pages changed per step, "
            f"{result['steps']} steps per size; restore after step {result['steps']}."
        ),
    )
    for store, by in result["stores"].items():
        t = Table(
            f"{store} store: persist per step (ms, median (p90) over steps 2..{result['steps']})",
            ["MiB", "pages/step", "persist", "encode", "write", "bytes/step", "first full image", "vs 1 MiB"],
        )
        base = by.get("1", {}).get("persist_ms", {}).get("median")
        for mib, d in by.items():
            ff = d["first_full"]
            t.add(
                mib,
                str(d["pages_per_step"]),
                med_p90(d["persist_ms"]),
                med_p90(d["encode_ms"]),
                med_p90(d["put_ms"]),
                med_p90(d["bytes"], nbytes),
                f"{ms(ff['persist_ms'])} ms, {nbytes(ff['bytes'])}",
                ratio(d["persist_ms"]["median"], base),
            )
        sec.tables.append(t)
        t = Table(
            f"{store} store: restore (ms, median (p90))",
            ["MiB", "restore_ms", "fetch", "apply", "to next live call", "fresh process", "objects", "bytes read"],
        )
        for mib, d in by.items():
            r = d["restore"]
            t.add(
                mib,
                med_p90(r["restore_ms"]),
                med_p90(r["fetch_ms"]),
                med_p90(r["apply_ms"]),
                med_p90(r["to_live_ms"]),
                med_p90(d["fresh"]["total_ms"]),
                str(r["objects"]),
                nbytes(r["bytes"]),
            )
        sec.tables.append(t)
    for name, prof in result.get("profiles", {}).items():
        sec.notes.append(f"profile {name} ({prof['file']}): top self time: {describe(prof, 5)}")
    sec.plots.append(_plot(result, outdir))
    return sec


def _plot(result: dict[str, Any], outdir: Path) -> str:
    plt = pyplot()

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    palette = {"file": "tab:blue", "s3": "tab:orange"}
    for store, by in result["stores"].items():
        color = palette.get(store, "tab:grey")
        sizes = [int(m) for m in by]
        med = [by[m]["persist_ms"]["median"] for m in by]
        p90 = [by[m]["persist_ms"]["p90"] for m in by]
        yerr = [[0] * len(med), [b - a for a, b in zip(med, p90, strict=True)]]
        ax.errorbar(sizes, med, yerr=yerr, fmt="-o", capsize=3, color=color, label=f"{store}: persist (encode + write)")
        encode = [by[m]["encode_ms"]["median"] for m in by]
        ax.plot(sizes, encode, ls="--", marker=".", color=color, alpha=0.6, label=f"{store}: of which encode")
        rmed = [by[m]["restore"]["restore_ms"]["median"] for m in by]
        rp90 = [by[m]["restore"]["restore_ms"]["p90"] for m in by]
        ryerr = [[0] * len(rmed), [b - a for a, b in zip(rmed, rp90, strict=True)]]
        ax2.errorbar(
            sizes, rmed, yerr=ryerr, fmt="-o", capsize=3, color=color, label=f"{store}: restore_ms (in-process)"
        )
        fresh = [by[m]["fresh"]["total_ms"]["median"] for m in by]
        ax2.plot(sizes, fresh, ls=":", marker="s", color=color, alpha=0.6, label=f"{store}: fresh process to next call")
    ax.axhline(targets.PERSIST_64_MS, color="tab:red", ls="--", lw=1, label="target at 64 MiB: 15 ms")
    ax2.axhline(targets.RESTORE_64_MS, color="tab:red", ls="--", lw=1, label="target at 64 MiB: 150 ms")
    for a, title, ylabel in (
        (ax, "Persist time per step vs memory size (1% pages/step)", "ms per step (median, whisker p90)"),
        (ax2, "Restore time vs memory size", "ms (median, whisker p90)"),
    ):
        a.set_xscale("log", base=2)
        a.set_yscale("log")
        a.set_xticks(result["sizes"], [f"{s} MiB" for s in result["sizes"]])
        a.set_title(title)
        a.set_ylabel(ylabel)
        a.grid(True, which="both", alpha=0.3)
        a.legend(fontsize=7)
    return save_figure(fig, outdir, "persist_vs_memory.png")
