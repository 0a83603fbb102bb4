"""Replay-mode journals: one create-only record per committed step, read back in order."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from snapshots import keys
from snapshots.format import JournalRecord
from snapshots.store import CorruptObject, NotFound, ObjectStore

FETCH_THREADS = 16


def read_journal(store: ObjectStore, execution_id: str, after: int = 0) -> list[JournalRecord]:
    """The journal records after seq `after`, oldest first, fetched in parallel and verified."""
    start = keys.journal(execution_id, after) if after else ""
    objs = list(store.list(keys.journal_prefix(execution_id), start_after=start))

    def fetch(key: str) -> JournalRecord:
        try:
            return JournalRecord.decode(key, store.get(key))
        except NotFound:
            raise CorruptObject(key, "journal record is missing") from None

    with ThreadPoolExecutor(max_workers=min(FETCH_THREADS, max(1, len(objs)))) as pool:
        records = list(pool.map(fetch, [o.key for o in objs]))
    for expect, (obj, rec) in enumerate(zip(objs, records, strict=True), start=after + 1):
        if rec.seq != expect or keys.seq_of(obj.key) != expect:
            raise CorruptObject(obj.key, f"journal record {rec.seq} where record {expect} belongs (a gap?)")
    return records
