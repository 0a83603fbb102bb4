"""Every bad input gets a clear error and loses nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import ACTIVITIES, cli, cli_bg, kill9, wait_for
from guest.toolchain import PrepareError, prepare


def _module(exports: list[tuple[str, int, int]]) -> bytes:
    """A hand-assembled module: one memory, one function () -> i32, the given exports."""

    def vec(items: list[bytes]) -> bytes:
        return bytes([len(items)]) + b"".join(items)

    def section(sid: int, payload: bytes) -> bytes:
        return bytes([sid, len(payload)]) + payload

    exp = [bytes([len(n)]) + n.encode() + bytes([kind, idx]) for n, kind, idx in exports]
    return (
        b"\0asm\x01\0\0\0"
        + section(1, vec([b"\x60\x00\x01\x7f"]))
        + section(3, vec([b"\x00"]))
        + section(5, vec([b"\x00\x01"]))
        + section(7, vec(exp))
        + section(10, vec([b"\x04\x00\x41\x00\x0b"]))
    )


def test_prepare_rejects_invalid_and_unusable_modules() -> None:
    for data, kind, words in [
        (b"not wasm at all", "invalid", "invalid wasm"),
        (b"\0asm\x01\0\0\0\x01\x05garbage", "invalid", "invalid wasm"),
        (_module([("memory", 2, 0), ("start", 0, 0)]), "abi", "does not export a function `run`"),
        (_module([("run", 0, 0)]), "abi", "export its memory"),
    ]:
        try:
            prepare(data)
        except PrepareError as e:
            assert e.kind == kind and words in str(e), (kind, str(e))
        else:
            raise AssertionError(f"accepted {data[:16]!r}")
    # No globals of its own: only asyncify's two (state and data pointer) get exported.
    assert prepare(_module([("memory", 2, 0), ("run", 0, 0)])).exported_globals == 2
    try:
        prepare(b"\0" * 100, max_bytes=10)
    except PrepareError as e:
        assert e.kind == "too_large" and "limit is 10 bytes" in str(e)


def test_cli_invalid_wasm_missing_run_unknown_import(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.wasm"
    garbage.write_bytes(b"\0asm\x01\0\0\0\xff\xff")
    r = cli("run", str(garbage), "--id", "g", "--store", str(tmp_path / "s"))
    assert r.returncode == 2 and "invalid wasm" in r.stderr

    r = cli("build", "tests/guests/norun.c", "-o", str(tmp_path / "norun.wasm"))
    assert r.returncode == 2 and "no `int run(void)`" in r.stderr

    r = cli("build", "tests/guests/bogus_import.c", "-o", str(tmp_path / "bogus.wasm"))
    assert r.returncode == 2 and "unknown import `td.teleport`" in r.stderr

    norun = tmp_path / "norun.wasm"
    norun.write_bytes(_module([("memory", 2, 0)]))
    r = cli("prepare", str(norun), "-o", str(tmp_path / "out.wasm"))
    assert r.returncode == 2 and "does not export a function `run`" in r.stderr
    assert not (tmp_path / "out.wasm").exists()


def test_ids_that_escape_a_prefix_are_rejected(wasm: dict[str, Path], tmp_path: Path) -> None:
    store = tmp_path / "s"
    for bad in ("../x", "a/b", "..", ".hidden", "x" * 200, ""):
        r = cli("run", str(wasm["order_fulfillment"]), "--id", bad, "--store", str(store), "-a", ACTIVITIES)
        assert r.returncode == 2 and "invalid execution id" in r.stderr, (bad, r.stderr)
    assert not (tmp_path / "x").exists()
    assert not (store / "executions").exists()


def test_duplicate_start_is_idempotent_or_conflicts(wasm: dict[str, Path], tmp_path: Path) -> None:
    store = str(tmp_path / "s")
    first = cli(
        "run", str(wasm["order_fulfillment"]), "--id", "o", "--store", store, "--input", "o-1", "-a", ACTIVITIES
    )
    assert first.returncode == 0
    again = cli(
        "run", str(wasm["order_fulfillment"]), "--id", "o", "--store", store, "--input", "o-1", "-a", ACTIVITIES
    )
    assert again.returncode == 0 and again.stdout == first.stdout  # the same execution, not a second one
    other = cli(
        "run", str(wasm["order_fulfillment"]), "--id", "o", "--store", store, "--input", "o-2", "-a", ACTIVITIES
    )
    assert other.returncode == 2 and "different parameters" in other.stderr


def test_unknown_activity_fails_the_execution_with_history(wasm: dict[str, Path], tmp_path: Path) -> None:
    store = str(tmp_path / "s")
    r = cli("run", str(wasm["order_fulfillment"]), "--id", "u", "--store", store)  # no activities registered
    assert r.returncode == 1 and "unknown activity 'inventory.reserve'" in r.stderr
    status = json.loads(cli("status", "u", "--store", store, "--json").stdout)
    assert status["status"] == "failed" and "unknown activity 'inventory.reserve'" in status["error"]
    rows = json.loads(cli("history", "u", "--store", store, "--json").stdout)
    assert rows[-1]["kind"] == "failed" and "inventory.reserve" in rows[-1]["detail"]["error"]


def test_guest_trap_fails_and_keeps_the_last_good_snapshot(wasm: dict[str, Path], tmp_path: Path) -> None:
    store = str(tmp_path / "s")
    r = cli("run", str(wasm["trap"]), "--id", "t", "--store", store)
    assert r.returncode == 1 and "guest trap" in r.stderr
    status = json.loads(cli("status", "t", "--store", store, "--json").stdout)
    assert status["status"] == "failed" and "guest trap" in status["error"] and "unreachable" in status["error"]
    assert status["snapshots"] == 3  # two good steps and the terminal record
    rows = json.loads(cli("history", "t", "--store", store, "--json").stdout)
    assert [r["kind"] for r in rows] == ["activity", "activity", "failed"]


def test_memory_and_fuel_limits(wasm: dict[str, Path], tmp_path: Path) -> None:
    store = str(tmp_path / "s")
    r = cli("run", str(wasm["hog"]), "--id", "h", "--store", store, "--max-memory", "32")
    assert r.returncode == 1 and "of a 32 MiB limit" in r.stderr, r.stderr
    r = cli("run", str(wasm["spin"]), "--id", "f", "--store", store, "--fuel", "5000000")
    assert r.returncode == 1 and "fuel limit exceeded" in r.stderr, r.stderr
    status = json.loads(cli("status", "f", "--store", store, "--json").stdout)
    assert status["status"] == "failed" and status["step"] == 1


def test_corrupt_snapshot_is_reported_by_name_and_nothing_is_lost(wasm: dict[str, Path], tmp_path: Path) -> None:
    store = tmp_path / "s"
    proc = cli_bg(
        "run",
        str(wasm["order_fulfillment"]),
        "--id",
        "c",
        "--store",
        str(store),
        "-a",
        ACTIVITIES,
        TD_ACTIVITY_DELAY="0.3",
    )
    snap_dir = store / "executions" / "c" / "snap"
    wait_for(lambda: snap_dir.is_dir() and len(list(snap_dir.iterdir())) >= 3, what="three snapshots")
    kill9(proc)
    victim = sorted(snap_dir.iterdir())[-1]
    original = victim.read_bytes()
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x40
    victim.write_bytes(bytes(flipped))
    time.sleep(0.1)

    r = cli("resume", "c", "--store", str(store), "-a", ACTIVITIES)
    assert r.returncode == 1
    assert f"executions/c/snap/{victim.name}" in r.stderr and "checksum mismatch" in r.stderr, r.stderr
    status = json.loads(cli("status", "c", "--store", str(store), "--json").stdout)
    assert status["status"] != "completed" and status["snapshots"] == 3  # nothing written, nothing deleted

    victim.write_bytes(original)  # the operator restores the object from a backup
    r = cli("resume", "c", "--store", str(store), "-a", ACTIVITIES)
    assert r.returncode == 0 and '"status":"completed"' in r.stdout


def test_a_missing_chain_object_is_reported_by_name(wasm: dict[str, Path], tmp_path: Path) -> None:
    from engine_helpers import resume, start, truncated_copy

    start(tmp_path / "ref", wasm["deep_state"], "m", "5")
    copy = truncated_copy(tmp_path / "ref", tmp_path / "cut", "m", 7)  # restore of seq 7 needs 1, 5, 7 (skip-deltas)
    (copy / "executions/m/snap/000000000005").unlink()
    out, _ = resume(copy, "m")
    assert out.status == "failed"
    assert "executions/m/snap/000000000005" in out.detail and "missing" in out.detail
    assert (copy / "executions/m/snap/000000000007").exists()  # nothing else was touched
