"""deep_state restores correctly at every step, and breaks when the stack pointer is not restored."""

from __future__ import annotations

from pathlib import Path

from engine_helpers import resume, start, truncated_copy
from runtime.instance import GuestInstance
from snapshots import chain, keys
from snapshots.file import FileStore
from snapshots.format import Snapshot

DEPTH = "7"  # 16 activity calls


def test_restores_correctly_at_every_step(wasm: dict[str, Path], tmp_path: Path) -> None:
    ref = start(tmp_path / "ref", wasm["deep_state"], "d", DEPTH)
    assert ref.status == "completed"
    assert b"checksum=" in ref.output and ref.output.count(b"up ") == int(DEPTH) + 1
    n = len(chain.list_snapshots(FileStore(tmp_path / "ref"), "d")) - 1  # minus the terminal record
    assert n == 2 * (int(DEPTH) + 1)
    for k in range(1, n + 1):
        copy = truncated_copy(tmp_path / "ref", tmp_path / f"at-{k}", "d", k)
        out, _ = resume(copy, "d")
        assert out.status == "completed", out.detail
        assert out.output == ref.output, f"restored at step {k}: output differs"


def _rewrite_latest(store_dir: Path, execution_id: str, edit: object) -> None:
    store = FileStore(store_dir)
    seq = chain.latest_seq(store, execution_id)
    key = keys.snap(execution_id, seq)
    snap = Snapshot.decode(key, store.get(key))
    edit(snap)  # type: ignore[operator]
    (store_dir / key).write_bytes(snap.encode())


def test_dropping_the_stack_pointer_breaks_it(wasm: dict[str, Path], tmp_path: Path) -> None:
    ref = start(tmp_path / "ref", wasm["deep_state"], "d", DEPTH)
    k = int(DEPTH) + 2  # deep inside the recursion, on the way up

    # Control: decoding and re-encoding the snapshot unchanged restores fine.
    control = truncated_copy(tmp_path / "ref", tmp_path / "control", "d", k)
    _rewrite_latest(control, "d", lambda snap: None)
    out, _ = resume(control, "d")
    assert out.output == ref.output

    # A snapshot without the stack pointer: global 0 keeps a fresh instance's value.
    from engine_helpers import _engine, context

    ctx = context(tmp_path / "ref")
    module = ctx.module(chain.read_snapshot(ctx.store, "d", 1).module)
    fresh = GuestInstance(_engine, module, None)  # type: ignore[arg-type]  # no host calls are made
    fresh_sp = fresh.get_globals()[0]

    def drop_sp(snap: Snapshot) -> None:
        saved = snap.meta["globals"][0]
        assert saved[1] == "i32" and saved[2] < fresh_sp[2], "global 0 should be the (lowered) stack pointer"
        snap.meta["globals"][0] = fresh_sp

    broken = truncated_copy(tmp_path / "ref", tmp_path / "broken", "d", k)
    _rewrite_latest(broken, "d", drop_sp)
    out, _ = resume(broken, "d")
    assert out.status != "completed" or out.output != ref.output, "restoring without the stack pointer went unnoticed"
