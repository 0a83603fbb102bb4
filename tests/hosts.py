"""Real `tardigrade serve` processes on loopback ports, for multi-host tests."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from api.client import Client
from conftest import ACTIVITIES, TEST_ACTIVITIES, cli_bg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Host:
    """One `tardigrade serve` process."""

    def __init__(self, host_id: str, store_url: str, log_dir: Path, *extra: str, **env: str) -> None:
        self.host_id = host_id
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [
            "serve",
            "--store",
            store_url,
            "--host-id",
            host_id,
            "--port",
            str(self.port),
            "-a",
            ACTIVITIES,
            "-a",
            TEST_ACTIVITIES,
            "--lease-ttl",
            "2",
            "--poll-interval",
            "0.1",
            *extra,
        ]
        self.log = log_dir / f"{host_id}.log"
        self.proc: subprocess.Popen[str] = cli_bg(*args, **env)
        self._wait_up()
        self.client = Client(self.url)

    def _wait_up(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                _, err = self.proc.communicate()
                raise RuntimeError(f"host {self.host_id} exited: {err}")
            try:
                if httpx.get(f"{self.url}/v1/host", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"host {self.host_id} did not come up on {self.url}")

    def state(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/v1/host", timeout=5).json())

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
