"""Experiment 3: bytes and objects written per step, requests per step, and total store size.

The guest of experiment 1 runs once per store and mode behind a request
counter. Afterwards every snapshot object is read back and decoded, to split
its size into the page payload (compressed with the product's own zstd
setting) and everything else (header JSON, metadata, blobs, framing) - the
format overhead that the "+ 2 KiB" of the target allows for.

"One step's changed pages, compressed" is measured on odd chain positions:
their skip-delta base is the previous step, so they carry exactly the chunks
one step changed (the guest's pages plus its stack and asyncify buffer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import zstandard

from benchmarks.common import HYBRID_K, MODES, Bench, CountingStore, guest_input, run_execution, stats, store_size
from benchmarks.report import Section, Table, nbytes, pyplot, save_figure
from snapshots import keys
from snapshots.format import Snapshot

NAME = "footprint"
TITLE = "3. Bytes and objects written per step, store size"


def _level(position: int) -> int:
    """Skip-delta level of a chain position: how many steps of changes it carries is 2**level."""
    return (position & -position).bit_length() - 1 if position else -1


def analyse_snapshots(captured: dict[str, bytes]) -> dict[str, Any]:
    """Decode every snapshot object written (captured at PUT: retention deletes old chains)."""
    compressor = zstandard.ZstdCompressor(level=1)  # as snapshots.format compresses bodies
    objects = []
    for key in sorted(captured):
        raw = captured[key]
        snap = Snapshot.decode(key, raw)
        if snap.kind == "terminal":
            continue
        pages = bytes(snap.pages)
        compressed = len(compressor.compress(pages)) if pages else 0
        position = snap.seq - (snap.full_seq or snap.seq)
        objects.append(
            {
                "seq": snap.seq,
                "kind": snap.kind,
                "position": position,
                "level": _level(position),
                "stored": len(raw),
                "pages_raw": len(pages),
                "pages_compressed": compressed,
                "overhead": len(raw) - compressed,
                "chunks": sum(c for r in snap.regions.values() for _, c in r.runs),
            }
        )
    return {"objects": objects}


def run(bench: Bench) -> dict[str, Any]:
    p = bench.params
    steps = p.footprint_steps
    text = guest_input(steps, p.guest_mib, p.guest_pages)
    out: dict[str, Any] = {"guest": text, "steps": steps, "stores": {}}
    for store_name in bench.durable_stores:
        by_mode: dict[str, Any] = {}
        one_step = None
        for mode in MODES:  # snapshot first: it yields one step's compressed pages for all modes
            ns = bench.stores[store_name].fresh(f"fp-{mode}")
            counter = CountingStore(ns.store, capture_snapshots=True)
            exec_id = f"fp-{mode}"
            run_ = run_execution(bench, counter, exec_id, text, mode)
            objs, total = store_size(ns.store, keys.execution_prefix(exec_id))
            _, history_bytes = store_size(ns.store, keys.history_prefix(exec_id))
            _, module_bytes = store_size(ns.store, "modules/")
            assert counter.captured is not None
            snaps = analyse_snapshots(counter.captured)["objects"]
            ns.discard()
            per_step_bytes = [int(e.get("snapshot_bytes") or 0) + int(e.get("journal_bytes") or 0) for e in run_.steps]
            snap_objects = sum(1 for e in run_.steps if e.get("seq"))
            journal_objects = sum(1 for e in run_.steps if e.get("journal_seq"))
            odd = [o["pages_compressed"] for o in snaps if o["kind"] == "delta" and o["position"] % 2 == 1]
            if mode == "snapshot" or one_step is None:
                one_step = stats([float(x) for x in odd])["median"] if odd else 0.0
            fulls = [o["seq"] for o in snaps if o["kind"] == "full"]
            levels: dict[str, Any] = {}
            for o in snaps:
                key = "full" if o["kind"] == "full" else str(o["level"])
                levels.setdefault(key, []).append(o["stored"])
            durable_puts, durable_bytes = counter.total("put", ("snap", "journal"))
            deltas = [o for o in snaps if o["kind"] == "delta"]
            journal_bytes = sum(int(e.get("journal_bytes") or 0) for e in run_.steps)
            per_delta = HYBRID_K if mode == "hybrid" else 1  # steps between two snapshots
            new_pages = one_step * len(deltas) * per_delta  # every step makes one step's worth of new pages
            decomposition = {  # mean bytes per step, by cause
                "new_pages": new_pages / steps,
                "resent_pages": (sum(o["pages_compressed"] for o in deltas) - new_pages) / steps,
                "full_images": sum(o["stored"] for o in snaps if o["kind"] == "full") / steps,
                "format_overhead": sum(o["overhead"] for o in deltas) / steps,
                "journal": journal_bytes / steps,
            }
            by_mode[mode] = {
                "per_step": {
                    "objects": (snap_objects + journal_objects) / steps,
                    "snapshot_objects": snap_objects / steps,
                    "journal_objects": journal_objects / steps,
                    "puts": (durable_puts - 1) / steps,  # minus the terminal record
                    "all_requests": sum(counter.requests.values()) / steps,
                    "bytes": stats([float(b) for b in per_step_bytes]),
                },
                "requests": dict(counter.requests),
                "request_bytes": dict(counter.bytes),
                "store": {
                    "execution_objects": objs,
                    "execution_bytes": total,
                    "history_bytes": history_bytes,
                    "module_bytes": module_bytes,
                    "written_bytes": durable_bytes,
                },
                "levels": {k: {"count": len(v), "mean_bytes": sum(v) / len(v)} for k, v in sorted(levels.items())},
                "bytes_check": {
                    "one_step_pages_compressed": one_step,
                    "median_bytes_per_step": stats([float(b) for b in per_step_bytes])["median"],
                    "mean_bytes_per_step": durable_bytes / steps,
                    "median_object_overhead": stats([float(o["overhead"]) for o in snaps])["median"]
                    if snaps
                    else float("nan"),
                    "p90_object_overhead": stats([float(o["overhead"]) for o in snaps])["p90"]
                    if snaps
                    else float("nan"),
                    "full_images": len(fulls),
                    "full_every": round(steps / len(fulls), 1) if fulls else None,
                    "full_image_bytes": stats([float(o["stored"]) for o in snaps if o["kind"] == "full"]),
                    "decomposition": decomposition,
                },
            }
            bench.log(
                f"footprint: {store_name} {mode}: {by_mode[mode]['bytes_check']['mean_bytes_per_step']:.0f} B/step, "
                f"{by_mode[mode]['per_step']['puts']:.3f} PUTs/step"
            )
        out["stores"][store_name] = by_mode
    return out


def report(result: dict[str, Any], outdir: Path) -> Section:
    sec = Section(
        NAME,
        TITLE,
        intro=(
            f"Guest `{result['guest']}`, {result['steps']} steps per store and mode. Per-step figures count the "
            "durability objects (snapshot and journal) of committed steps; 'all requests' also counts the "
            "lease, execution record, inbox polls, listings and retention's background pruning of the whole "
            "run. 'stored at the end' is what remains after retention deleted chains older than the newest two "
            "(their headers kept in a history archive)."
        ),
    )
    t = Table(
        "Written per step",
        [
            "store",
            "mode",
            "objects",
            "PUTs",
            "all requests",
            "bytes median (p90)",
            "bytes mean",
            "written in all",
            "stored at the end",
            "objects stored",
        ],
    )
    for store, by in result["stores"].items():
        for mode, d in by.items():
            ps = d["per_step"]
            t.add(
                store,
                mode,
                f"{ps['objects']:.3f}",
                f"{ps['puts']:.3f}",
                f"{ps['all_requests']:.2f}",
                f"{nbytes(ps['bytes']['median'])} ({nbytes(ps['bytes']['p90'])})",
                nbytes(d["bytes_check"]["mean_bytes_per_step"]),
                nbytes(d["store"].get("written_bytes")),
                nbytes(d["store"]["execution_bytes"]),
                str(d["store"]["execution_objects"]),
            )
    sec.tables.append(t)
    store = next(iter(result["stores"]))
    t = Table(
        f"Where the bytes go ({store} store)",
        [
            "mode",
            "one step's pages, compressed",
            "median object overhead (p90)",
            "full images",
            "full image size",
            "median B/step",
            "mean B/step",
        ],
    )
    for mode, d in result["stores"][store].items():
        b = d["bytes_check"]
        t.add(
            mode,
            nbytes(b["one_step_pages_compressed"]),
            f"{nbytes(b['median_object_overhead'])} ({nbytes(b['p90_object_overhead'])})",
            f"{b['full_images']} (every {b['full_every']} steps)" if b["full_images"] else "0",
            nbytes(b["full_image_bytes"]["median"]),
            nbytes(b["median_bytes_per_step"]),
            nbytes(b["mean_bytes_per_step"]),
        )
    t.note = (
        "object overhead = stored object size - its page payload compressed alone: header JSON, metadata, "
        "blobs, framing, and whatever the product stores uncompressed (it keeps a body raw when it does not "
        "compress well as a whole). Snapshot objects at chain position p = 2^k * odd carry the changes of 2^k steps."
    )
    sec.tables.append(t)
    t = Table(
        f"Mean bytes per step by cause ({store} store)",
        ["mode", "one step's new pages", "skip-delta re-sends", "full images", "format overhead", "journal", "total"],
    )
    for mode, d in result["stores"][store].items():
        dec = d["bytes_check"]["decomposition"]
        t.add(
            mode,
            *(nbytes(dec[k]) for k in ("new_pages", "resent_pages", "full_images", "format_overhead", "journal")),
            nbytes(sum(dec.values())),
        )
    t.note = "Sums to the mean bytes per step (up to the terminal record)."
    sec.tables.append(t)
    t = Table("Requests per step by kind (whole run / steps)", ["store", "mode", "requests per step"])
    for st, by in result["stores"].items():
        for mode, d in by.items():
            reqs = sorted(d["requests"].items(), key=lambda kv: -kv[1])
            t.add(
                st, mode, ", ".join(f"{k} {v / result['steps']:.2f}" for k, v in reqs if v / result["steps"] >= 0.005)
            )
    t.note = (
        "get:snap and delete:snap in snapshot and hybrid modes are retention's background prune (header reads "
        "to archive old chains, then deletes); list:inbox is the executor's inbox poll."
    )
    sec.tables.append(t)
    snap_levels = result["stores"][store].get("snapshot", {}).get("levels", {})
    if snap_levels:
        t = Table(
            f"Snapshot mode: object size by skip-delta level ({store} store)",
            ["level (steps carried)", "objects", "mean size"],
        )
        for k, v in sorted(snap_levels.items(), key=lambda kv: (kv[0] == "full", int(kv[0]) if kv[0] != "full" else 0)):
            label = "full image" if k == "full" else f"{k} ({2 ** int(k)})"
            t.add(label, str(v["count"]), nbytes(v["mean_bytes"]))
        sec.tables.append(t)
    sec.plots.append(_plot(result, outdir))
    return sec


def _plot(result: dict[str, Any], outdir: Path) -> str:
    plt = pyplot()

    from benchmarks.targets import BYTES_SLACK

    store = next(iter(result["stores"]))
    by = result["stores"][store]
    modes = list(by)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    med = [by[m]["bytes_check"]["median_bytes_per_step"] / 1024 for m in modes]
    mean = [by[m]["bytes_check"]["mean_bytes_per_step"] / 1024 for m in modes]
    xs = range(len(modes))
    ax.bar([x - 0.2 for x in xs], med, 0.4, label="median")
    ax.bar([x + 0.2 for x in xs], mean, 0.4, label="mean (incl. full images)")
    for x, a, b in zip(xs, med, mean, strict=True):
        ax.annotate(f"{a:.1f}", (x - 0.2, a), ha="center", va="bottom", fontsize=8)
        ax.annotate(f"{b:.1f}", (x + 0.2, b), ha="center", va="bottom", fontsize=8)
    limit = (by["snapshot"]["bytes_check"]["one_step_pages_compressed"] + BYTES_SLACK) / 1024 if "snapshot" in by else 2
    ax.axhline(limit, color="tab:red", ls="--", lw=1, label=f"target: one step's pages + 2 KiB = {limit:.1f} KiB")
    ax.set_xticks(list(xs), modes)
    ax.set_ylabel("KiB written per step")
    ax.set_yscale("log")
    ax.set_title(f"Bytes per step ({store} store, 1 MiB guest, 4 pages/step)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    levels = by.get("snapshot", {}).get("levels", {})
    keys_ = sorted((k for k in levels if k != "full"), key=int)
    ax2.bar(
        [f"{2 ** int(k)}" for k in keys_] + (["full"] if "full" in levels else []),
        [levels[k]["mean_bytes"] / 1024 for k in keys_]
        + ([levels["full"]["mean_bytes"] / 1024] if "full" in levels else []),
        color="tab:green",
    )
    ax2.set_yscale("log")
    ax2.set_xlabel("steps of changes carried by the object (skip-delta level)")
    ax2.set_ylabel("mean object size (KiB)")
    ax2.set_title("Snapshot mode: object size by skip-delta level")
    ax2.grid(axis="y", alpha=0.3)
    return save_figure(fig, outdir, "bytes_per_step.png")
