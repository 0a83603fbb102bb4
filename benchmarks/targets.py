"""Issue 5's targets: thresholds, and their check against a run's results (reported, never asserted)."""

from __future__ import annotations

from typing import Any

from benchmarks.profiling import describe
from benchmarks.report import Table, ms, nbytes, verdict

FILE_OVERHEAD_MS = 1.0  # file store, 1 MiB guest, <= 4 pages/step: median per-step overhead
S3_EXTRA_MS = 1.0  # S3: overhead <= one PUT round trip + this
S3_PUTS_PER_STEP = 1.0
RECOVERY_FLAT_RATIO = 1.5  # snapshot mode: recovery(10 000) <= 1.5 x recovery(10)
PERSIST_64_MS = 15.0  # 64 MiB guest, 1 % pages/step
RESTORE_64_MS = 150.0
BYTES_SLACK = 2048  # bytes per step <= compressed changed pages + 2 KiB


def check(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per target (and store where it applies): measured, met, and what bounds a miss."""
    exps = results.get("experiments", {})
    out: list[dict[str, Any]] = []
    out += _overhead(exps.get("overhead"), exps.get("footprint"))
    out += _recovery(exps.get("recovery"))
    out += _memsize(exps.get("memsize"))
    out += _bytes(exps.get("footprint"))
    return out


def _entry(target: str, scope: str, measured: str, met: bool | None, miss: str = "", why: str = "") -> dict[str, Any]:
    return {"target": target, "scope": scope, "measured": measured, "met": met, "miss_by": miss, "why": why}


def _overhead(ov: dict[str, Any] | None, fp: dict[str, Any] | None) -> list[dict[str, Any]]:
    t1 = "file store, 1 MiB guest, <= 4 pages/step: median per-step overhead <= 1 ms"
    t2 = "S3: one PUT per step; overhead <= one PUT round trip + 1 ms"
    if not ov:
        return [_entry(t1, "-", "-", None), _entry(t2, "-", "-", None)]
    out = []
    file_rtt = ov["round_trips"]["file"]["create_only"]["median"]
    for mode, by in ov["modes"].items():
        if "file" not in by:
            continue
        o = by["file"]["overhead_vs_null_ms"]
        met = o["median"] <= FILE_OVERHEAD_MS
        why = ""
        if not met or mode == "snapshot":
            own = (
                f"the executor's own write step (put) is {ms(by['file']['put_ms']['median'])} ms median"
                if mode == "snapshot"
                else f"the executor's journal write (encode + put) is {ms(by['file']['journal_ms']['median'])} ms median"
            )
            why = f"a bare fsync'd 4 KiB FileStore put (2 fsyncs: file, directory) takes {ms(file_rtt)} ms here; {own}"
            prof = ov.get("profiles", {}).get("file_snapshot")
            if prof and mode == "snapshot":
                why += f"; profile: {describe(prof)}"
        vs_bare = by["file"]["overhead_vs_bare_ms"]["median"]
        out.append(
            _entry(
                t1,
                f"file, {mode}",
                f"{ms(o['median'])} ms (p90 {ms(o['p90'])}); vs bare executor {ms(vs_bare)} ms",
                met,
                "" if met else f"+{ms(o['median'] - FILE_OVERHEAD_MS)} ms",
                why,
            )
        )
    if "s3" not in ov["round_trips"]:
        out.append(_entry(t2, "s3", "S3 not run", None))
        return out
    rtt = ov["round_trips"]["s3"]["plain"]["median"]
    budget = rtt + S3_EXTRA_MS
    for mode, by in ov["modes"].items():
        if "s3" not in by:
            continue
        o = by["s3"]["overhead_vs_null_ms"]
        puts = None
        if fp and "s3" in fp.get("stores", {}):
            puts = fp["stores"]["s3"][mode]["per_step"]["puts"]
        met = o["median"] <= budget and (puts is None or puts <= S3_PUTS_PER_STEP + 1e-9)
        miss_parts = []
        if o["median"] > budget:
            miss_parts.append(f"+{ms(o['median'] - budget)} ms")
        if puts is not None and puts > S3_PUTS_PER_STEP + 1e-9:
            miss_parts.append(f"{puts:.3f} PUTs/step")
        why = ""
        if not met:
            rtt32 = ov["round_trips"]["s3"].get("plain_32k", {}).get("median")
            why = (
                f"executor write step (put) {ms(by['s3']['put_ms']['median'])} ms median vs bare PUT {ms(rtt)} ms "
                f"(4 KiB) / {ms(rtt32)} ms (32 KiB, the size of a 4-page delta)"
            )
            if mode != "snapshot":
                why = f"journal write {ms(by['s3']['journal_ms']['median'])} ms median vs bare PUT {ms(rtt)} ms"
            if puts is not None and puts > 1:
                why += "; hybrid writes a journal record every step and a snapshot every 16th (two PUTs on those)"
            prof = ov.get("profiles", {}).get("s3_snapshot")
            if prof and mode == "snapshot":
                why += f"; profile: {describe(prof)}"
        out.append(
            _entry(
                t2,
                f"s3, {mode}",
                f"{ms(o['median'])} ms (p90 {ms(o['p90'])}) vs budget {ms(budget)} ms (PUT RTT {ms(rtt)})"
                + (f"; {puts:.3f} PUTs/step" if puts is not None else ""),
                met,
                "; ".join(miss_parts),
                why,
            )
        )
    return out


def _recovery(rec: dict[str, Any] | None) -> list[dict[str, Any]]:
    t = "snapshot mode: recovery after 10 000 steps <= 1.5x recovery after 10 steps"
    if not rec:
        return [_entry(t, "-", "-", None)]
    out = []
    for store, by in rec["stores"].items():
        ns = sorted(int(n) for n in by["snapshot"])
        lo, hi = ns[0], ns[-1]
        for how in ("fresh", "inproc"):
            a = by["snapshot"][str(lo)][how]["total_ms"]["median"]
            b = by["snapshot"][str(hi)][how]["total_ms"]["median"]
            r = b / a if a else float("nan")
            measured = f"{how}: {ms(a)} ms at N={lo}, {ms(b)} ms at N={hi}: {r:.2f}x"
            slope = rec["derived"][store]["slopes"]
            measured += f"; replay slope {ms(slope['replay'][how]['ms_per_1000'])} ms per 1000 steps"
            growth = rec["derived"][store].get("snapshot_growth", "")
            if hi < 10000:
                why = f"already {r:.2f}x at N={hi}: {growth}" if r > RECOVERY_FLAT_RATIO else ""
                out.append(
                    _entry(
                        t,
                        f"{store}, {how}",
                        measured + f" (N=10 000 not in this matrix; ratio shown for N={hi})",
                        None,
                        "",
                        why,
                    )
                )
                continue
            met = r <= RECOVERY_FLAT_RATIO
            why = ""
            if not met and how == "fresh":
                lo_f, hi_f = by["snapshot"][str(lo)]["fresh"], by["snapshot"][str(hi)]["fresh"]
                parts = {
                    "python start": "python_start_ms",
                    "imports": "imports_ms",
                    "setup": "setup_ms",
                    "recovery itself": "recover_ms",
                }
                why = f"fresh process, N={lo} -> {hi}: " + ", ".join(
                    f"{label} {hi_f[k]['median'] - lo_f[k]['median']:+.1f} ms" for label, k in parts.items()
                )
            elif not met:
                why = growth
            out.append(
                _entry(t, f"{store}, {how}", measured, met, "" if met else f"{r:.2f}x vs {RECOVERY_FLAT_RATIO}x", why)
            )
    return out


def _memsize(mem: dict[str, Any] | None) -> list[dict[str, Any]]:
    t1 = "64 MiB guest, 1% pages/step: persist <= 15 ms per step"
    t2 = "64 MiB guest, 1% pages/step: restore <= 150 ms"
    if not mem:
        return [_entry(t1, "-", "-", None), _entry(t2, "-", "-", None)]
    out = []
    for store, by in mem["stores"].items():
        d = by.get("64")
        if d is None:
            out += [_entry(t1, store, "64 MiB not run", None), _entry(t2, store, "64 MiB not run", None)]
            continue
        p = d["persist_ms"]
        met = p["median"] <= PERSIST_64_MS
        why = f"encode {ms(d['encode_ms']['median'])} ms + write {ms(d['put_ms']['median'])} ms median"
        prof = mem.get("profiles", {}).get(f"{store}_persist")
        if prof:
            why += f"; profile: {describe(prof)}"
        out.append(
            _entry(
                t1,
                store,
                f"{ms(p['median'])} ms (p90 {ms(p['p90'])}); mean incl. full images {ms(p['mean'])} ms",
                met,
                "" if met else f"+{ms(p['median'] - PERSIST_64_MS)} ms ({p['median'] / PERSIST_64_MS:.1f}x)",
                "" if met and not prof else why,
            )
        )
        r = d["restore"]["restore_ms"]
        met = r["median"] <= RESTORE_64_MS
        why = (
            f"fetch {ms(d['restore']['fetch_ms']['median'])} ms ({nbytes(d['restore']['bytes'])} in "
            f"{d['restore']['objects']} objects), apply {ms(d['restore']['apply_ms']['median'])} ms"
        )
        prof = mem.get("profiles", {}).get(f"{store}_restore")
        if prof:
            why += f"; profile: {describe(prof)}"
        fresh = d.get("fresh", {}).get("total_ms")
        measured = f"{ms(r['median'])} ms (p90 {ms(r['p90'])}) in-process restore_ms"
        if fresh and fresh.get("n"):
            measured += f"; fresh process to next call {ms(fresh['median'])} ms"
        out.append(
            _entry(
                t2,
                store,
                measured,
                met,
                "" if met else f"+{ms(r['median'] - RESTORE_64_MS)} ms ({r['median'] / RESTORE_64_MS:.1f}x)",
                why,
            )
        )
    return out


def _bytes(fp: dict[str, Any] | None) -> list[dict[str, Any]]:
    t = "bytes per step <= compressed changed pages + 2 KiB"
    if not fp:
        return [_entry(t, "-", "-", None)]
    out = []
    store = next(iter(fp["stores"]))
    for mode, d in fp["stores"][store].items():
        b = d["bytes_check"]
        limit = b["one_step_pages_compressed"] + BYTES_SLACK
        med_ok = b["median_bytes_per_step"] <= limit
        mean_ok = b["mean_bytes_per_step"] <= limit
        measured = (
            f"median {nbytes(b['median_bytes_per_step'])}, mean {nbytes(b['mean_bytes_per_step'])} per step vs "
            f"limit {nbytes(limit)} (one step's changed pages compressed: {nbytes(b['one_step_pages_compressed'])})"
        )
        why = ""
        if not mean_ok:
            dec = b.get("decomposition", {})
            within = "within" if b["median_object_overhead"] <= BYTES_SLACK else "over"
            why = (
                f"median format overhead {nbytes(b['median_object_overhead'])} per object ({within} 2 KiB); the mean "
                f"per step is one step's pages {nbytes(dec.get('new_pages'))} + skip-delta re-sends "
                f"{nbytes(dec.get('resent_pages'))} + full images {nbytes(dec.get('full_images'))} (one every "
                f"{b.get('full_every', '?')} steps) + format overhead {nbytes(dec.get('format_overhead'))}"
                + (f" + journal {nbytes(dec.get('journal'))}" if dec.get("journal") else "")
                + "; the guest changes different pages every step, the worst case for skip-deltas"
            )
        met = med_ok and mean_ok
        miss = ""
        if not med_ok:
            miss = f"median +{nbytes(b['median_bytes_per_step'] - limit)}"
        elif not mean_ok:
            miss = f"median met; mean +{nbytes(b['mean_bytes_per_step'] - limit)} ({b['mean_bytes_per_step'] / limit:.1f}x)"
        out.append(_entry(t, f"{mode} ({store} store)", measured, met, miss, why))
    return out


def table(checks: list[dict[str, Any]]) -> Table:
    t = Table("Targets (reported, not asserted)", ["target", "scope", "measured", "verdict", "missed by", "bounded by"])
    for c in checks:
        t.add(c["target"], c["scope"], c["measured"], verdict(c["met"]), c["miss_by"], c["why"])
    return t
