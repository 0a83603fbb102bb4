"""Experiment 1: per-step durability overhead.

The same guest (1 MiB, 4 pages changed per step, no compute) runs in each mode
on four variants, interleaved in every repeat so that machine noise hits them
alike:

- bare: the executor with its commits stubbed out (no encoding, no writes) -
  what a step costs without durability, unwinding included in snapshot mode;
- null: the real executor on a NullStore - encoding paid, writes discarded;
- file, s3: the real executor on the real stores.

Step time is the interval between two consecutive committed steps (as the
executor reports them). Overhead = median step time of a store minus that of
the null store in the same repeat (the definition of issue 5); "vs bare" adds
the encoding cost. Also measured in the same run: a bare 4 KiB write round
trip to each store (fsync'd FileStore put; boto3 PUT to SeaweedFS).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from benchmarks import targets
from benchmarks.common import (
    MODES,
    Bench,
    FileKind,
    guest_input,
    run_execution,
    stats,
    step_times_ms,
)
from benchmarks.profiling import profile_call
from benchmarks.report import Section, Table, med_p90, pyplot, ratio, save_figure
from runtime.executor import Execution

NAME = "overhead"
TITLE = "1. Per-step durability overhead"


class Bare(Execution):
    """The executor with durability removed: commits encode and write nothing."""

    def _commit_snapshot(self, event: dict[str, Any]) -> None:
        return None

    def _commit_journal(self, event: dict[str, Any]) -> None:
        return None


def file_put_round_trips(bench: Bench, samples: int, size: int = 4096) -> list[float]:
    """FileStore create-only puts of `size` random bytes (temp file, fsync, link, fsync of the directory), ms."""
    kind = bench.stores["file"]
    assert isinstance(kind, FileKind)
    ns = kind.fresh("put-rtt")
    body = os.urandom(size)
    times = []
    for i in range(samples + 3):
        t0 = time.perf_counter()
        ns.store.put(f"executions/x/snap/{i:012d}", body, create_only=True)
        if i >= 3:
            times.append((time.perf_counter() - t0) * 1000)
    ns.discard()
    return times


def _variant_store(variant: str) -> str:
    return "null" if variant == "bare" else variant


def run(bench: Bench) -> dict[str, Any]:
    p = bench.params
    text = guest_input(p.overhead_steps, p.guest_mib, p.guest_pages)
    variants = ["bare", "null", *bench.durable_stores]
    rtt_raw: dict[str, dict[str, list[float]]] = {"file": {"create_only": [], "create_only_32k": []}}
    if "s3" in bench.stores:
        rtt_raw["s3"] = {"plain": [], "create_only": [], "plain_32k": []}
    per_repeat = max(10, p.put_rtt_samples // p.overhead_repeats)
    raw: dict[str, dict[str, dict[str, list[Any]]]] = {
        m: {
            v: {"medians": [], "means": [], "steps": [], "persist": [], "encode": [], "put": [], "journal": []}
            for v in variants
        }
        for m in MODES
    }
    for r in range(p.overhead_repeats):
        # bare round trips in every repeat, so they see the same disk and server as the runs
        rtt_raw["file"]["create_only"] += file_put_round_trips(bench, per_repeat)
        rtt_raw["file"]["create_only_32k"] += file_put_round_trips(bench, per_repeat, 32 * 1024)
        if "s3" in bench.stores:
            from benchmarks.s3 import put_round_trips

            for label, times in put_round_trips(bench.stores["s3"], per_repeat).items():  # type: ignore[arg-type]
                rtt_raw["s3"][label] += times
            rtt_raw["s3"]["plain_32k"] += put_round_trips(bench.stores["s3"], per_repeat, 32 * 1024)["plain"]  # type: ignore[arg-type]
        for mode in MODES:
            order = variants[r % len(variants) :] + variants[: r % len(variants)]  # rotate who goes first
            for v in order:
                ns = bench.stores[_variant_store(v)].fresh(f"ovh-{mode}")
                run_ = run_execution(
                    bench,
                    ns.store,
                    f"ovh-{mode}-{v}-{r}",
                    text,
                    mode,
                    execution_cls=Bare if v == "bare" else Execution,
                )
                ns.discard()
                steps = step_times_ms(run_.steps, skip=2)
                d = raw[mode][v]
                d["medians"].append(stats(steps)["median"])
                d["means"].append(stats(steps)["mean"])
                d["steps"] += steps
                for e in run_.steps[2:]:
                    if e.get("persist_ms") is not None:
                        d["persist"].append(e["persist_ms"])
                        d["encode"].append(e["encode_ms"])
                        d["put"].append(e["persist_ms"] - e["encode_ms"])
                    if e.get("journal_ms") is not None:
                        d["journal"].append(e["journal_ms"])
        bench.log(f"overhead: repeat {r + 1}/{p.overhead_repeats} done")

    rtt = {store: {label: stats(times) for label, times in by.items()} for store, by in rtt_raw.items()}
    summary: dict[str, Any] = {}
    for mode in MODES:
        summary[mode] = {}
        for v in variants:
            d = raw[mode][v]
            s: dict[str, Any] = {
                "step_ms": stats(d["steps"]),
                "run_median_ms": stats(d["medians"]),
                "persist_ms": stats(d["persist"]),
                "encode_ms": stats(d["encode"]),
                "put_ms": stats(d["put"]),
                "journal_ms": stats(d["journal"]),
            }
            for base in ("null", "bare"):
                b = raw[mode][base]
                s[f"overhead_vs_{base}_ms"] = stats([x - y for x, y in zip(d["medians"], b["medians"], strict=True)])
                s[f"mean_overhead_vs_{base}_ms"] = stats([x - y for x, y in zip(d["means"], b["means"], strict=True)])
            summary[mode][v] = s

    profiles: dict[str, Any] = {}
    file_over = summary["snapshot"]["file"]["overhead_vs_null_ms"]["median"]
    if bench.profile_always or file_over > targets.FILE_OVERHEAD_MS:
        profiles["file_snapshot"] = _profile(bench, "file", text)
    if "s3" in summary["snapshot"]:
        budget = rtt["s3"]["plain"]["median"] + targets.S3_EXTRA_MS
        if bench.profile_always or summary["snapshot"]["s3"]["overhead_vs_null_ms"]["median"] > budget:
            profiles["s3_snapshot"] = _profile(bench, "s3", text)
    return {
        "guest": text,
        "steps": p.overhead_steps,
        "repeats": p.overhead_repeats,
        "variants": variants,
        "round_trips": rtt,
        "modes": summary,
        "profiles": profiles,
    }


def _profile(bench: Bench, store: str, text: str) -> dict[str, Any]:
    ns = bench.stores[store].fresh("ovh-profile")
    try:
        return profile_call(
            lambda: run_execution(bench, ns.store, "ovh-profile", text, "snapshot"),
            bench.outdir,
            f"overhead-{store}-snapshot",
        )
    finally:
        ns.discard()


def report(result: dict[str, Any], outdir: Path) -> Section:
    sec = Section(
        NAME,
        TITLE,
        intro=(
            f"Guest `{result['guest']}`; {result['repeats']} repeats of {result['steps']} steps per mode and "
            "variant, interleaved. *bare* = executor with commits stubbed out (no encode, no write); "
            "*null* = real executor, writes discarded; overhead = median step time minus the null store's "
            "median in the same repeat (then median and p90 over repeats)."
        ),
    )
    variants: list[str] = result["variants"]
    stores = [v for v in variants if v not in ("bare", "null")]
    t = Table("Step time (ms): median (p90) over all steps", ["mode", *variants])
    for mode, by in result["modes"].items():
        t.add(mode, *(med_p90(by[v]["step_ms"]) for v in variants))
    sec.tables.append(t)

    t = Table(
        "Durability overhead per step (ms): median (p90) over repeats",
        [
            "mode",
            "store",
            "vs null (issue 5)",
            "vs bare (incl. encode)",
            "mean vs null (amortized)",
            "encode",
            "write (put)",
            "journal write",
            "step ratio store/null",
        ],
    )
    for mode, by in result["modes"].items():
        for s in stores:
            d = by[s]
            t.add(
                mode,
                s,
                med_p90(d["overhead_vs_null_ms"]),
                med_p90(d["overhead_vs_bare_ms"]),
                med_p90(d["mean_overhead_vs_null_ms"]),
                med_p90(d["encode_ms"]),
                med_p90(d["put_ms"]),
                med_p90(d["journal_ms"]),
                ratio(d["run_median_ms"]["median"], by["null"]["run_median_ms"]["median"]),
            )
    t.note = (
        "encode / write: the executor's encode_ms and persist_ms - encode_ms of snapshot steps; journal write: "
        "journal_ms (encode + put of the journal record). 'mean' includes the periodic full images."
    )
    sec.tables.append(t)

    rt = result["round_trips"]
    t = Table("Bare 4 KiB write round trip, same run (ms): median (p90)", ["store", "request", "round trip"])
    t.add("file", "FileStore.put create-only (fsync file + dir), 4 KiB", med_p90(rt["file"]["create_only"]))
    t.add("file", "the same, 32 KiB (a 4-page delta's size)", med_p90(rt["file"]["create_only_32k"]))
    if "s3" in rt:
        t.add("s3", "boto3 put_object, 4 KiB", med_p90(rt["s3"]["plain"]))
        t.add("s3", "boto3 put_object If-None-Match: *, 4 KiB", med_p90(rt["s3"]["create_only"]))
        t.add("s3", "boto3 put_object, 32 KiB", med_p90(rt["s3"]["plain_32k"]))
    sec.tables.append(t)
    sec.plots.append(_plot(result, outdir, stores))
    for name, prof in result.get("profiles", {}).items():
        from benchmarks.profiling import describe

        sec.notes.append(f"profile {name} ({prof['file']}): top self time: {describe(prof)}")
    return sec


def _plot(result: dict[str, Any], outdir: Path, stores: list[str]) -> str:
    plt = pyplot()

    modes = list(result["modes"])
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / max(1, len(stores))
    for i, s in enumerate(stores):
        med = [result["modes"][m][s]["overhead_vs_null_ms"]["median"] for m in modes]
        p90 = [result["modes"][m][s]["overhead_vs_null_ms"]["p90"] for m in modes]
        xs = [j + (i - (len(stores) - 1) / 2) * width for j in range(len(modes))]
        ax.bar(xs, med, width, label=f"{s} store (median)")
        ax.errorbar(
            xs,
            med,
            yerr=[[0] * len(med), [max(0.0, b - a) for a, b in zip(med, p90, strict=True)]],
            fmt="none",
            ecolor="black",
            capsize=4,
        )
        for x, v in zip(xs, med, strict=True):
            ax.annotate(
                f"{v:.2f}", (x, v), ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points"
            )
    ax.axhline(targets.FILE_OVERHEAD_MS, color="tab:red", ls="--", lw=1, label="file target (1 ms)")
    if "s3" in result["round_trips"]:
        budget = result["round_trips"]["s3"]["plain"]["median"] + targets.S3_EXTRA_MS
        ax.axhline(budget, color="tab:purple", ls=":", lw=1, label=f"s3 target (PUT RTT + 1 ms = {budget:.1f})")
    ax.set_xticks(range(len(modes)), modes)
    ax.set_ylabel("overhead per step vs null store (ms)")
    ax.set_title("Per-step durability overhead (1 MiB guest, 4 pages/step); whisker = p90 over repeats")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, outdir, "overhead.png")
