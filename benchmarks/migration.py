"""Experiment 5: migration pause between two hosts, 1 and 64 MiB guests.

Two real `tardigrade serve` processes share one store. A long-running bench
guest starts on host A and is moved A -> B -> A ... through the HTTP API. The
pause is what the target host records: from the moment the owner stopped
running the guest (at its next suspension point) to the guest being restored
and running on the target. It contains the owner's commit and lease hand-off,
the target's poll delay (at most one poll interval), and the restore. Both
hosts poll every POLL_S seconds, which the target adds on top of 50 ms.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from api.client import Client
from benchmarks.common import REPO, Bench, guest_input, stats
from benchmarks.report import Section, Table, med_p90

NAME = "migration"
TITLE = "5. Migration pause between two hosts"
POLL_S = 0.05


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Host:
    def __init__(self, host_id: str, store_url: str, env: dict[str, str], log_dir: Path) -> None:
        self.host_id = host_id
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_dir / f"migration-{host_id}.log", "w")
        cmd = [sys.executable, "-m", "api", "serve", "--store", store_url, "--host-id", host_id,
               "--port", str(self.port), "--poll-interval", str(POLL_S), "--lease-ttl", "10",
               "--max-memory", "1024"]  # fmt: skip
        self.proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **env}, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/v1/host", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"host {host_id} did not start; see {self.log.name}")
        self.client = Client(self.url)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _moves(bench: Bench, store_name: str, mem: int, moves: int) -> dict[str, Any]:
    ns = bench.stores[store_name].fresh(f"mig-{mem}")
    hosts = [_Host(f"mig-{c}", ns.url, ns.env, bench.workdir) for c in "ab"]
    try:
        a = hosts[0].client
        module = a.upload_module(bench.guest.wasm)["id"]
        # A long run: each step changes 1% of memory and spins a little, so there is always a next step.
        pages = max(1, mem * 256 // 100)
        a.start(module, id=f"mig-{mem}", input=guest_input(100_000, mem, pages, compute=20_000))
        execution_id = f"mig-{mem}"
        deadline = time.monotonic() + 120
        while a.status(execution_id)["step"] < 3:
            if time.monotonic() > deadline:
                raise RuntimeError(f"migration {store_name}/{mem} MiB: the guest did not start")
            time.sleep(0.05)
        pauses: list[float] = []
        restores: list[float] = []
        for i in range(moves):
            target = hosts[(i + 1) % 2].host_id
            before = len([r for r in a.history(execution_id) if r["kind"] == "migrated"])
            a.migrate(execution_id, target)
            deadline = time.monotonic() + 60
            while True:
                rows = a.history(execution_id)
                moved = [r for r in rows if r["kind"] == "migrated"]
                if len(moved) > before:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"migration {store_name}/{mem} MiB: move {i + 1} to {target} did not happen")
                time.sleep(0.05)
            pauses.append(float(moved[-1]["detail"]["pause_ms"]))
            restored = [r for r in rows if r["kind"] == "restored"][-1]
            restores.append(float(restored["detail"].get("restore_ms", 0.0)))
        a.cancel(execution_id)
        return {"pause_ms": stats(pauses), "restore_ms": stats(restores), "samples": pauses}
    finally:
        for h in hosts:
            h.stop()
        ns.discard()


def run(bench: Bench) -> dict[str, Any]:
    moves = 6 if bench.quick else 12
    out: dict[str, Any] = {"poll_s": POLL_S, "moves": moves, "results": {}}
    for store_name in bench.durable_stores:
        for mem in (1, 64):
            bench.log(f"migration: {store_name}, {mem} MiB guest, {moves} moves between two serve processes")
            out["results"][f"{store_name}/{mem}"] = _moves(bench, store_name, mem, moves)
    return out


def report(result: dict[str, Any], outdir: Path) -> Section:
    table = Table(
        "Migration pause (ms): median (p90)",
        ["store", "guest", "pause", "of which restore", "target: 50 ms + poll"],
        note=f"{result['moves']} moves per row, alternating A -> B -> A; hosts poll every {result['poll_s'] * 1000:.0f} ms.",
    )
    budget = 50 + result["poll_s"] * 1000
    for key, r in result["results"].items():
        store_name, mem = key.split("/")
        p = r["pause_ms"]
        verdict = (
            "met"
            if mem == "1" and p["median"] <= budget
            else ("-" if mem != "1" else f"missed by {p['median'] - budget:.1f}")
        )
        table.add(store_name, f"{mem} MiB", med_p90(p), med_p90(r["restore_ms"]), verdict)
    return Section(NAME, TITLE, intro=__doc__.split("\n\n", 1)[1].strip(), tables=[table])
