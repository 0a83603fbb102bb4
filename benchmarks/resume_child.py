"""Fresh-process recovery: `python -m benchmarks.resume_child --store URL --id ID`.

Imports the runtime, opens the store, recovers the execution and stops at its
first live host call; prints one JSON line with wall-clock times (time.time())
so the parent can measure from the moment it spawned this process.
"""

from __future__ import annotations

import time

T_ENTER = time.time()  # the interpreter is up; nothing heavy imported yet

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True)
    parser.add_argument("--id", required=True)
    parser.add_argument("--cache", required=True)
    args = parser.parse_args()

    from benchmarks.probe import probe
    from runtime.activities import Registry
    from runtime.engine import Engine
    from runtime.executor import HostContext, HostOptions
    from snapshots.url import open_store

    t_imported = time.time()
    store = open_store(args.store)
    ctx = HostContext(store, Engine(Path(args.cache)), Registry([]), HostOptions(f"child-{os.getpid()}"))
    t_setup = time.time()
    p = probe(ctx, args.id)
    print(
        json.dumps(
            {
                "enter": T_ENTER,
                "imported": t_imported,
                "setup": t_setup,
                "live": p.live_wall,
                "probe_ms": p.total_ms,
                "info": p.info,
            }
        ),
        flush=True,
    )
    sys.stdout.flush()
    os._exit(0)  # no interpreter teardown: the measurement ended at the live call


if __name__ == "__main__":
    main()
