"""Retention: delete snapshot objects that no restore can need, keeping their story.

A restore reads only the newest chain (its full image and skip-deltas). Once a
new full image is committed, older chains matter only for history and for
going back to an earlier state. `prune` keeps the newest `keep_chains` chains,
first archives the headers of everything older as one JSON object under
`executions/<id>/history/`, then deletes those objects. Interrupted halfway,
it is simply run again: the archive is create-only and deletes are idempotent.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from snapshots import keys
from snapshots.chain import list_snapshots, read_header
from snapshots.format import SNAPSHOT_MAGIC
from snapshots.store import NotFound, ObjectInfo, ObjectStore, PreconditionFailed


@dataclass(frozen=True)
class PruneReport:
    deleted: int
    kept: int
    archive: str | None


def chain_starts(store: ObjectStore, execution_id: str, newest_seq: int, limit: int) -> list[int]:
    """Seqs of the newest `limit` full images, newest first (walking back chain by chain)."""
    starts: list[int] = []
    seq = newest_seq
    while seq > 0 and len(starts) < limit:
        header = read_header(store, keys.snap(execution_id, seq), SNAPSHOT_MAGIC)
        full = header.get("full_seq")
        if full is None:  # a terminal record: look at what precedes it
            seq -= 1
            continue
        starts.append(int(full))
        seq = int(full) - 1
    return starts


def prune(store: ObjectStore, execution_id: str, keep_chains: int = 2) -> PruneReport:
    objs = list_snapshots(store, execution_id)
    if not objs:
        return PruneReport(0, 0, None)
    starts = chain_starts(store, execution_id, keys.seq_of(objs[-1].key), keep_chains)
    if len(starts) < keep_chains:
        return PruneReport(0, len(objs), None)
    cut = starts[-1]
    old = [o for o in objs if keys.seq_of(o.key) < cut]
    if not old:
        return PruneReport(0, len(objs), None)

    def summary(o: ObjectInfo) -> dict[str, Any] | None:
        try:
            return {"seq": keys.seq_of(o.key), "size": o.size, "header": read_header(store, o.key, SNAPSHOT_MAGIC)}
        except NotFound:
            return None  # deleted by an earlier, interrupted prune

    with ThreadPoolExecutor(max_workers=16) as pool:
        rows = [r for r in pool.map(summary, old) if r is not None]
    archive = keys.history(execution_id, keys.seq_of(old[-1].key))
    try:
        store.put(archive, json.dumps({"objects": rows}).encode(), create_only=True)
    except PreconditionFailed:
        pass  # archived by an earlier attempt that did not finish deleting
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda o: store.delete(o.key), old))
    return PruneReport(len(old), len(objs) - len(old), archive)


def archived(store: ObjectStore, execution_id: str) -> list[tuple[ObjectInfo, dict[str, Any]]]:
    """(object, header) of every pruned snapshot, from the history archives, oldest first."""
    out = []
    for obj in store.list(keys.history_prefix(execution_id)):
        for row in json.loads(store.get(obj.key))["objects"]:
            out.append((ObjectInfo(keys.snap(execution_id, int(row["seq"])), int(row["size"])), row["header"]))
    return out
