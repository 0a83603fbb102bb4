"""Several hosts on one SeaweedFS bucket: migration, failover, split brain, parking across hosts."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hosts import Host

from conftest import ACTIVITIES, cli, ledger_counts, wait_for
from engine_helpers import _engine, registry
from runtime.executor import Execution, HeldLease, HostContext, HostOptions, acquire
from snapshots import chain, keys
from snapshots.records import ExecutionRecord, create_execution, read_execution
from snapshots.url import open_store

pytestmark = pytest.mark.s3


@pytest.fixture
def hosts(s3_url: str, tmp_path: Path) -> Iterator[dict[str, object]]:
    started: list[Host] = []

    def start(host_id: str, *extra: str, **env: str) -> Host:
        h = Host(host_id, s3_url, tmp_path, *extra, **env)
        started.append(h)
        return h

    yield {"start": start, "url": s3_url}
    for h in started:
        h.stop()


def reference(wasm: Path, text: str, execution_id: str, tmp_path: Path) -> str:
    """The output of an uninterrupted run with the same execution id (results derive from it)."""
    r = cli("run", str(wasm), "--id", execution_id, "--store", str(tmp_path / "ref"), "--input", text, "-a", ACTIVITIES)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize(("example", "text"), [("deep_state", "7"), ("order_fulfillment", "order-5")])
def test_migrate_mid_run_and_back(hosts, wasm: dict[str, Path], tmp_path: Path, example: str, text: str) -> None:  # type: ignore[no-untyped-def]
    ledger = tmp_path / "ledger"
    # A move happens at the next suspension point: order_fulfillment has only five, so slow steps and
    # an early first move leave room to come back.
    delay = "0.15" if example == "deep_state" else "1.0"
    env = {"TD_ACTIVITY_DELAY": delay, "TD_LEDGER": str(ledger)}
    a, b = hosts["start"]("host-a", **env), hosts["start"]("host-b", **env)
    expected = reference(wasm[example], text, "mig", tmp_path)

    module = a.client.upload_module(wasm[example].read_bytes())["id"]
    a.client.start(module, id="mig", input=text)
    wait_for(lambda: a.client.status("mig")["step"] >= (2 if example == "deep_state" else 0), what="steps on A")
    assert a.client.status("mig")["host"] == "host-a"

    b.client.migrate("mig", "host-b")  # asked through B's API: any host can take the request
    wait_for(
        lambda: a.client.status("mig")["host"] == "host-b" or a.client.status("mig")["status"] == "completed",
        what="the move to B",
    )
    moved_at = a.client.status("mig")["step"]
    # And back, once B has run a step of its own.
    wait_for(
        lambda: any(r["kind"] == "activity" and r["host"] == "host-b" for r in a.client.history("mig")),
        what="a step on B",
    )
    a.client.migrate("mig", "host-a")
    wait_for(lambda: a.client.status("mig")["status"] == "completed", timeout=60, what="completion")

    st = b.client.status("mig")
    assert st["output"] == expected
    assert st["migration"]["to"] in ("host-a", "host-b") and st["migration"]["pause_ms"] >= 0
    counts = ledger_counts(ledger)
    assert counts and all(c == 1 for c in counts.values()), counts  # a move re-runs nothing
    rows = a.client.history("mig")
    steps = [r["step"] for r in rows if r["kind"] == "activity"]
    assert steps == list(range(1, len(steps) + 1))  # step numbers continue across hosts
    moves = [r for r in rows if r["kind"] == "migrated"]
    assert moves and moves[0]["name"] == "host-a -> host-b" and moved_at < len(steps)
    assert {r["host"] for r in rows if r["kind"] == "activity"} >= {"host-a", "host-b"}
    assert [m["name"] for m in moves] == ["host-a -> host-b", "host-b -> host-a"]
    if example == "deep_state":
        metrics = httpx.get(f"{a.url}/metrics").text
        values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line and not line.startswith("#"))
        assert float(values["tardigrade_steps_total"]) > 0
        assert float(values['tardigrade_migrations_total{direction="in"}']) >= 1
        assert float(values["tardigrade_restores_total"]) >= 1
        assert float(values["tardigrade_snapshot_persist_seconds_count"]) > 0
        assert float(values['tardigrade_executions{status="completed"}']) >= 1


def test_a_killed_host_is_replaced_after_its_lease_expires(hosts, wasm: dict[str, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ledger = tmp_path / "ledger"
    env = {"TD_ACTIVITY_DELAY": "0.3", "TD_LEDGER": str(ledger)}
    a, b = hosts["start"]("host-a", **env), hosts["start"]("host-b", **env)
    expected = reference(wasm["order_fulfillment"], "order-9", "fo", tmp_path)
    module = a.client.upload_module(wasm["order_fulfillment"].read_bytes())["id"]
    a.client.start(module, id="fo", input="order-9")
    wait_for(lambda: a.client.status("fo")["step"] >= 2, what="two steps on A")
    assert a.client.status("fo")["host"] == "host-a", a.client.history("fo")
    a.kill()
    killed = time.monotonic()

    wait_for(lambda: b.client.status("fo")["status"] == "completed", timeout=60, what="B finishing the work")
    assert time.monotonic() - killed >= 1.0  # B waited for the lease to expire
    st = b.client.status("fo")
    assert st["output"] == expected
    counts = ledger_counts(ledger)
    assert max(counts.values()) <= 2 and sum(c == 2 for c in counts.values()) <= 1
    restored = [r for r in b.client.history("fo") if r["kind"] == "restored"]
    assert restored and restored[0]["host"] == "host-b"


def test_split_brain_exactly_one_commits_each_step(s3_url: str, wasm: dict[str, Path], tmp_path: Path) -> None:
    """Two workers forced to run the same execution: create-only commits fence one off."""
    store = open_store(s3_url)
    data = wasm["deep_state"].read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    store.put(keys.module(sha), data)
    create_execution(store, ExecutionRecord("sb", sha, base64.b64encode(b"5").decode()))
    ctxs = [HostContext(store, _engine, registry(), HostOptions(f"brain-{i}", lease_ttl=30)) for i in (1, 2)]
    lease = acquire(ctxs[0], "sb").lease
    # The second worker believes it owns the execution too: it holds a copy of the same lease.
    runs = [Execution(ctx, read_execution(store, "sb"), HeldLease(ctx, "sb", lease)) for ctx in ctxs]
    outcomes: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def drive(ex: Execution) -> None:
        barrier.wait()
        outcomes[ex.opts.host_id] = ex.run().status

    threads = [threading.Thread(target=drive, args=(ex,)) for ex in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(outcomes.values()) == ["completed", "fenced"], outcomes
    winner = next(h for h, s in outcomes.items() if s == "completed")
    snaps = chain.list_snapshots(store, "sb")
    headers = [chain.read_snapshot(store, "sb", keys.seq_of(o.key)) for o in snaps]
    assert [h.seq for h in headers] == list(range(1, len(headers) + 1))
    assert {h.meta["event"]["host"] for h in headers} == {winner}
    expected = reference(wasm["deep_state"], "5", "sb", tmp_path)
    assert headers[-1].blobs["output"].decode() == expected


def test_a_parked_sleep_holds_no_instance_and_resumes_on_the_other_host(
    hosts,
    wasm: dict[str, Path],
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    a = hosts["start"]("host-a", "--park-after", "500")
    b = hosts["start"]("host-b", "--park-after", "500")
    module = a.client.upload_module(wasm["script"].read_bytes())["id"]
    t0 = time.monotonic()
    a.client.start(module, id="nap", input="now sleep:2000 elapsed")
    wait_for(lambda: a.client.status("nap")["status"] == "parked", what="parking")
    assert a.state()["instances"] == [] and b.state()["instances"] == []  # nothing in memory anywhere
    a.kill()  # whoever resumes it, it will not be A
    wait_for(lambda: b.client.status("nap")["status"] == "completed", timeout=30, what="completion on B")
    wall = time.monotonic() - t0
    st = b.client.status("nap")
    elapsed = int(st["output"].split("elapsed ")[1])
    assert 2000 <= elapsed < 3500 and 2.0 <= wall < 8.0
    rows = b.client.history("nap")
    assert [r["host"] for r in rows if r["kind"] == "restored"] == ["host-b"]
    assert [r["kind"] for r in rows if r["kind"] in ("sleep", "timer_fired")] == ["sleep", "timer_fired"]


def test_signals_and_cancel_over_http(hosts, wasm: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    a = hosts["start"]("host-a")
    module = a.client.upload_module(wasm["approval"].read_bytes())["id"]
    a.client.start(module, id="ap", input="doc-3")
    wait_for(lambda: a.client.status("ap")["status"] == "parked", what="waiting for approval")
    a.client.signal("ap", "approve", b"bob")
    wait_for(lambda: a.client.status("ap")["status"] == "completed", what="approval")
    assert '"status":"approved","by":"bob"' in a.client.status("ap")["output"]

    a.client.start(module, id="ap2", input="doc-4")
    wait_for(lambda: a.client.status("ap2")["status"] == "parked", what="waiting for approval")
    a.client.cancel("ap2")
    wait_for(lambda: a.client.status("ap2")["status"] == "cancelled", what="cancellation of a parked execution")
    assert '"status":"withdrawn"' in a.client.status("ap2")["output"]


def test_a_host_runs_many_executions_at_once_up_to_its_cap(hosts, wasm: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    a = hosts["start"]("host-a", "--max-concurrency", "2")
    module = a.client.upload_module(wasm["script"].read_bytes())["id"]
    for i in range(5):
        a.client.start(module, id=f"c{i}", input="sleep:700 call:echo:x")  # short sleeps stay in memory
    peak = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        peak = max(peak, len(a.state()["running"]))
        if all(a.client.status(f"c{i}")["status"] == "completed" for i in range(5)):
            break
        time.sleep(0.05)
    assert all(a.client.status(f"c{i}")["status"] == "completed" for i in range(5))
    assert peak == 2  # ran two at once, never more


def test_remote_cli_submit_ls_migrate(hosts, wasm: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    import json as _json

    a = hosts["start"]("host-a", TD_ACTIVITY_DELAY="0.2")
    b = hosts["start"]("host-b", TD_ACTIVITY_DELAY="0.2")
    r = cli("submit", str(wasm["deep_state"]), "--server", a.url, "--id", "cli-1", "--input", "6")
    assert r.returncode == 0 and _json.loads(r.stdout)["id"] == "cli-1", r.stderr
    wait_for(lambda: a.client.status("cli-1")["step"] >= 2, what="steps on A")
    r = cli("migrate", "cli-1", "--to", "host-b", "--server", a.url)
    assert r.returncode == 0 and "requested" in r.stderr, r.stderr
    wait_for(lambda: b.client.status("cli-1")["status"] == "completed", timeout=60, what="completion")
    listed = _json.loads(cli("ls", "--server", b.url, "--json").stdout)
    assert [e["id"] for e in listed] == ["cli-1"] and listed[0]["status"] == "completed"
    assert any(row["kind"] == "migrated" for row in b.client.history("cli-1"))
    r = cli("migrate", "cli-1", "--to", "nowhere", "--server", a.url)
    assert r.returncode == 2 and "404" in r.stderr and "no host 'nowhere'" in r.stderr
