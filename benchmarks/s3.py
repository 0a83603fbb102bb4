"""The S3 store of the benchmark: SeaweedFS (`weed mini`) on loopback, and a bare-PUT baseline.

The server launcher is the tests' one (tests/s3server.py); this module only
adapts it, so both start the same server the same way.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from typing import Any

from benchmarks.common import REPO, S3Kind

BUCKET = "td-bench"


class S3Server:
    """A running SeaweedFS and the store kind that makes namespaces in its bucket."""

    def __init__(self) -> None:
        tests = str(REPO / "tests")
        if tests not in sys.path:
            sys.path.insert(0, tests)
        from s3server import SeaweedFS  # the tests' launcher

        self.server: Any = SeaweedFS()
        self.server.start()
        env = dict(self.server.env())
        env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        os.environ.update(env)  # boto3 in this process and in child processes
        self.kind = S3Kind(self.server.endpoint, BUCKET, env)
        from snapshots.url import open_store

        open_store(f"s3://{BUCKET}", s3_endpoint=self.server.endpoint, create_bucket=True)

    @property
    def endpoint(self) -> str:
        return str(self.server.endpoint)

    def close(self) -> None:
        self.server.close()


def put_round_trips(kind: S3Kind, samples: int, size: int = 4096) -> dict[str, list[float]]:
    """Bare boto3 PUTs of `size` random bytes (plain and create-only): ms per round trip."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=kind.endpoint,
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, s3={"addressing_style": "path"}),
    )
    body = os.urandom(size)
    prefix = f"put-rtt-{uuid.uuid4().hex[:8]}"
    out: dict[str, list[float]] = {}
    for label in ("plain", "create_only"):
        times = []
        for i in range(samples + 3):
            key = f"{prefix}/{label}/{i:06d}"
            t0 = time.perf_counter()
            if label == "plain":
                client.put_object(Bucket=kind.bucket, Key=key, Body=body)
            else:
                client.put_object(Bucket=kind.bucket, Key=key, Body=body, IfNoneMatch="*")
            if i >= 3:  # the first requests open connections
                times.append((time.perf_counter() - t0) * 1000)
        out[label] = times
    return out
