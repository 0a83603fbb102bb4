"""Profile a scenario with pyinstrument and name its top frames (for targets that are missed)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PRODUCT = ("runtime/", "snapshots/", "guest/")


def _name(frame: Any) -> str:
    path = str(frame.file_path_short or frame.file_path or "?")
    if path.startswith("<"):  # a built-in: say who called it
        caller = frame.parent
        while caller is not None and caller.is_synthetic:
            caller = caller.parent
        return f"{frame.function} <- {caller.function if caller is not None else '?'}"
    return f"{frame.function} ({path}:{frame.line_no})"


def _walk(frame: Any, out: dict[str, dict[str, Any]], inclusive: dict[str, float], stack: set[str]) -> None:
    children = [c for c in frame.children if not c.is_synthetic]
    if frame.is_synthetic:  # "[self]" / hidden groups: their time is the parent's self time
        return
    name = _name(frame)
    entry = out.setdefault(name, {"frame": name, "self_s": 0.0, "product": _is_product(frame)})
    entry["self_s"] += max(0.0, frame.time - sum(c.time for c in children))
    if name not in stack:  # inclusive time once per call path (recursion would count twice)
        inclusive[name] = inclusive.get(name, 0.0) + frame.time
    for c in children:
        _walk(c, out, inclusive, stack | {name})


def _is_product(frame: Any) -> bool:
    path = str(frame.file_path or "")
    return any(f"/{p}" in path for p in PRODUCT) and "site-packages" not in path


class InlineExecutor:
    """A ThreadPoolExecutor stand-in that runs `map` in the calling thread (profilers see one thread)."""

    def __init__(self, max_workers: int | None = None, **_: Any) -> None:
        self.max_workers = max_workers

    def __enter__(self) -> InlineExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any]) -> Iterator[Any]:
        return iter([fn(*args) for args in zip(*iterables, strict=True)])


@contextmanager
def inline_fetches() -> Iterator[None]:
    """Run the product's parallel snapshot and journal fetches inline, for profiling only."""
    from snapshots import chain, journal

    saved = chain.ThreadPoolExecutor, journal.ThreadPoolExecutor
    chain.ThreadPoolExecutor = InlineExecutor  # type: ignore[misc,assignment]
    journal.ThreadPoolExecutor = InlineExecutor  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        chain.ThreadPoolExecutor, journal.ThreadPoolExecutor = saved  # type: ignore[misc]


def profile_call(
    fn: Callable[[], Any], out_dir: Path, label: str, top: int = 8, *, inline: bool = False
) -> dict[str, Any]:
    """Run `fn` under pyinstrument; write a text profile to out_dir/profiles/<label>.txt;
    return the top frames by self time and the product frames with the most inclusive time.
    `inline` runs the product's fetch thread pools in this thread, so their work is sampled too."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    try:
        if inline:
            with inline_fetches():
                fn()
        else:
            fn()
    finally:
        session = profiler.stop()
    (out_dir / "profiles").mkdir(parents=True, exist_ok=True)
    path = out_dir / "profiles" / f"{label}.txt"
    path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    root = session.root_frame()
    if root is None:
        return {"label": label, "file": f"profiles/{label}.txt", "duration_s": 0.0, "self": [], "product": []}
    frames: dict[str, dict[str, Any]] = {}
    inclusive: dict[str, float] = {}
    _walk(root, frames, inclusive, set())
    total = root.time or 1e-9
    by_self = sorted(frames.values(), key=lambda f: -f["self_s"])[:top]
    product = sorted(
        ((n, t) for n, t in inclusive.items() if frames[n]["product"]),
        key=lambda x: -x[1],
    )[:top]
    return {
        "label": label,
        "file": f"profiles/{label}.txt",
        "inline_fetches": inline,
        "duration_s": round(total, 4),
        "self": [
            {"frame": f["frame"], "self_s": round(f["self_s"], 4), "share": round(f["self_s"] / total, 3)}
            for f in by_self
        ],
        "product": [{"frame": n, "total_s": round(t, 4), "share": round(t / total, 3)} for n, t in product],
    }


def describe(profile: dict[str, Any], n: int = 4) -> str:
    """One line: the top self-time frames with their share of the profiled time."""
    parts = [f"{f['frame']} {f['share'] * 100:.0f}%" for f in profile.get("self", [])[:n]]
    suffix = " (fetch threads run inline while profiling)" if profile.get("inline_fetches") else ""
    return "; ".join(parts) + suffix
