"""Replay mode: answers from the journal, and a guest that diverges from it fails naming the step."""

from __future__ import annotations

from pathlib import Path

from engine_helpers import resume, start
from snapshots import keys
from snapshots.file import FileStore
from snapshots.format import JournalRecord
from snapshots.journal import read_journal


def _tamper(store_dir: Path, execution_id: str, seq: int, **call: str) -> None:
    store = FileStore(store_dir)
    key = keys.journal(execution_id, seq)
    rec = JournalRecord.decode(key, store.get(key))
    rec.meta["call"] = dict(rec.meta["call"], **call)
    (store_dir / key).write_bytes(rec.encode())


def _crash_after(store_dir: Path, execution_id: str, records: int) -> None:
    """The store as a crash right after journal record `records` would leave it."""
    base = store_dir / "executions" / execution_id
    for sub in ("journal", "snap"):
        for f in sorted((base / sub).iterdir())[records if sub == "journal" else 0 :]:
            f.unlink()
    (base / "lease.json").unlink()


def test_replay_reaches_the_same_state_and_journals_plain_calls(wasm: dict[str, Path], tmp_path: Path) -> None:
    ref = start(tmp_path / "ref", wasm["script"], "r", "now call:echo:a sleep:10 elapsed call:echo:b", mode="replay")
    records = read_journal(FileStore(tmp_path / "ref"), "r")
    plain = [kind for r in records for kind, _ in r.meta["plain"]]
    assert plain.count("now") == 2 and plain.count("input") == 1  # plain values that matter are journaled
    assert len(records) == 4  # echo, sleep (wait), timer fired, echo
    # Crash after the last record: the clock readings for `elapsed` are in it, so replay reproduces
    # them exactly although real time has moved on.
    _crash_after(tmp_path / "ref", "r", 4)
    out, _ = resume(tmp_path / "ref", "r")
    assert out.status == "completed" and out.output == ref.output


def test_divergence_from_the_journal_names_the_step(wasm: dict[str, Path], tmp_path: Path) -> None:
    start(tmp_path / "s", wasm["script"], "d", "call:echo:a call:echo:b call:echo:c", mode="replay")
    _crash_after(tmp_path / "s", "d", 3)
    _tamper(tmp_path / "s", "d", 2, name="payments.charge")
    out, _ = resume(tmp_path / "s", "d")
    assert out.status == "failed"
    assert "non-determinism at step 2" in out.detail
    assert "'echo'" in out.detail and "'payments.charge'" in out.detail

    start(tmp_path / "t", wasm["script"], "e", "call:echo:a call:echo:b call:echo:c", mode="replay")
    _crash_after(tmp_path / "t", "e", 3)
    _tamper(tmp_path / "t", "e", 3, input="0" * 16)
    out, _ = resume(tmp_path / "t", "e")
    assert out.status == "failed" and "non-determinism at step 3" in out.detail and "input" in out.detail
