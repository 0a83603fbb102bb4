"""An execution's status and history, built only from what is in the store.

Every host (and the CLI on any machine) computes the same answer, because the
answer is a function of the objects: the snapshot and journal headers, the
terminal record, and the lease.
"""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from snapshots import chain as chains
from snapshots import keys, leases
from snapshots.format import JOURNAL_MAGIC, SNAPSHOT_MAGIC, Snapshot
from snapshots.records import ExecutionRecord, read_execution
from snapshots.retention import archived
from snapshots.store import NotFound, ObjectInfo, ObjectStore

STATUSES = ("pending", "running", "parked", "completed", "failed", "cancelled")
TERMINAL = ("completed", "failed", "cancelled")


@dataclass
class ExecutionStatus:
    id: str
    status: str
    mode: str
    module: str
    step: int
    created_at: float
    updated_at: float | None = None
    host: str | None = None
    output: str | None = None
    output_b64: str | None = None
    error: str = ""
    exit_code: int | None = None
    snapshots: int = 0
    snapshot_bytes: int = 0
    journal_records: int = 0
    journal_bytes: int = 0
    waiting: dict[str, Any] | None = None  # what a parked or waiting execution waits for
    migration: dict[str, Any] | None = None
    last_event: dict[str, Any] | None = None
    cancel: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: v for k, v in d.items() if not (v is None and k in ("output", "output_b64"))}


def _set_output(st: ExecutionStatus, data: bytes) -> None:
    try:
        st.output = data.decode("utf-8")
    except UnicodeDecodeError:
        st.output_b64 = base64.b64encode(data).decode()


def describe(store: ObjectStore, execution_id: str) -> ExecutionStatus:
    """The execution's status (UnknownExecution if there is none)."""
    record = read_execution(store, execution_id)
    snaps = chains.list_snapshots(store, execution_id)
    journal = list(store.list(keys.journal_prefix(execution_id)))
    st = ExecutionStatus(
        id=record.id,
        status="pending",
        mode=record.mode,
        module=record.module,
        step=0,
        created_at=record.created_at,
        snapshots=len(snaps),
        snapshot_bytes=sum(o.size for o in snaps),
        journal_records=len(journal),
        journal_bytes=sum(o.size for o in journal),
    )
    lease = leases.read(store, execution_id)
    if lease is not None:
        st.migration = lease.note.get("migration")
    latest_meta: dict[str, Any] | None = None
    if snaps:
        key = snaps[-1].key
        header = chains.read_header(store, key, SNAPSHOT_MAGIC)
        if header.get("kind") == "terminal":
            snap = Snapshot.decode(key, store.get(key))
            meta = snap.meta
            st.status = str(meta.get("status"))
            st.error = str(meta.get("error", ""))
            st.exit_code = meta.get("exit_code")
            st.step = int(meta.get("step", 0))
            st.last_event = meta.get("event")
            st.updated_at = (meta.get("event") or {}).get("at")
            _set_output(st, snap.blobs.get("output", b""))
            return st
        latest_meta = header["meta"]
    if journal and record.mode != "snapshot":
        jmeta = chains.read_header(store, journal[-1].key, JOURNAL_MAGIC)["meta"]
        if latest_meta is None or int(jmeta.get("journal_seq", 0)) >= int(latest_meta.get("journal_seq", 0)):
            latest_meta = jmeta
    holder = lease.owner if lease is not None and lease.holder_alive() else None
    st.host = holder
    if latest_meta is None:
        st.status = "running" if holder else "pending"
        return st
    st.step = int(latest_meta.get("step", 0))
    st.last_event = latest_meta.get("event")
    st.updated_at = (st.last_event or {}).get("at")
    st.cancel = latest_meta.get("cancel")
    pending = latest_meta.get("pending") or {}
    if pending.get("type") == "wait" and pending.get("call", {}).get("kind") in ("sleep", "signal", "call"):
        st.waiting = {"kind": pending["call"]["kind"], "name": pending["call"]["name"], "until": pending.get("until")}
        if pending["call"]["kind"] == "call":
            st.waiting["attempt"] = pending.get("attempt")
    st.status = "running" if holder else ("parked" if pending.get("type") == "wait" else "running")
    return st


@dataclass
class HistoryRow:
    step: int
    kind: str
    name: str = ""
    attempt: int | None = None
    at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    duration_ms: float | None = None
    host: str | None = None
    seq: int | None = None  # snapshot object
    snapshot: str | None = None  # full | delta
    snapshot_bytes: int | None = None
    journal_seq: int | None = None
    journal_bytes: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and v != {}}


_EVENT_FIELDS = ("name", "attempt", "at", "started_at", "ended_at", "duration_ms", "host")
_DETAIL_SKIP = {
    "kind",
    "step",
    "restored",
    "seq",
    "snapshot",
    "snapshot_bytes",
    "journal_seq",
    "journal_bytes",
    *_EVENT_FIELDS,
}


def _rows_from_event(step: int, event: dict[str, Any]) -> list[HistoryRow]:
    rows = []
    restored = event.get("restored")
    if restored:
        when = restored.get("at", event.get("at"))  # the restore's own time, not the next step's
        if restored.get("migrated_from"):
            rows.append(
                HistoryRow(
                    step,
                    "migrated",
                    name=f"{restored['migrated_from']} -> {restored.get('host')}",
                    host=restored.get("host"),
                    at=when,
                    detail={"pause_ms": restored.get("pause_ms")},
                )
            )
        rows.append(
            HistoryRow(
                step,
                "restored",
                host=restored.get("host"),
                at=when,
                detail={k: v for k, v in restored.items() if k not in ("host", "migrated_from", "pause_ms", "at")},
            )
        )
    row = HistoryRow(step, str(event.get("kind", "?")))
    for f in _EVENT_FIELDS:
        if event.get(f) is not None:
            setattr(row, f, event[f])
    row.detail = {k: v for k, v in event.items() if k not in _DETAIL_SKIP and v is not None}
    rows.append(row)
    return rows


def _headers(store: ObjectStore, objs: list[ObjectInfo], magic: bytes) -> list[tuple[ObjectInfo, dict[str, Any]]]:
    def one(o: ObjectInfo) -> tuple[ObjectInfo, dict[str, Any]] | None:
        try:
            return o, chains.read_header(store, o.key, magic)
        except NotFound:
            return None  # pruned while we listed

    with ThreadPoolExecutor(max_workers=16) as pool:
        return [r for r in pool.map(one, objs) if r is not None]


def history(store: ObjectStore, execution_id: str) -> list[HistoryRow]:
    """Every committed step, with restores, migrations and the end, oldest first."""
    record: ExecutionRecord = read_execution(store, execution_id)
    snaps = archived(store, execution_id) + _headers(store, chains.list_snapshots(store, execution_id), SNAPSHOT_MAGIC)
    journal = _headers(store, list(store.list(keys.journal_prefix(execution_id))), JOURNAL_MAGIC)
    rows: list[HistoryRow] = []
    by_journal_seq: dict[int, tuple[ObjectInfo, dict[str, Any]]] = {}
    for obj, header in snaps:
        jseq = header["meta"].get("event", {}).get("journal_seq")
        if jseq is not None:
            by_journal_seq[int(jseq)] = (obj, header)
    source = journal if record.mode != "snapshot" else [(o, h) for o, h in snaps if h["kind"] != "terminal"]
    for obj, header in source:
        meta = header["meta"]
        event = dict(meta.get("event") or {})
        new = _rows_from_event(int(event.get("step", meta.get("step", 0))), event)
        main = new[-1]
        if header.get("kind") in ("full", "delta"):
            main.seq, main.snapshot, main.snapshot_bytes = int(header["seq"]), header["kind"], obj.size
        else:
            main.journal_seq, main.journal_bytes = int(header["seq"]), obj.size
            snap = by_journal_seq.get(int(header["seq"]))
            if snap is not None:
                main.seq, main.snapshot, main.snapshot_bytes = int(snap[1]["seq"]), snap[1]["kind"], snap[0].size
        rows.extend(new)
    for obj, header in snaps:
        if header["kind"] == "terminal":
            meta = header["meta"]
            rows.append(
                HistoryRow(
                    int(meta.get("step", 0)),
                    str(meta.get("status")),
                    at=meta.get("event", {}).get("at"),
                    host=meta.get("event", {}).get("host"),
                    seq=int(header["seq"]),
                    snapshot_bytes=obj.size,
                    detail={k: meta[k] for k in ("exit_code", "error") if meta.get(k) not in (None, "")},
                )
            )
    return rows


def snapshot_rows(store: ObjectStore, execution_id: str) -> list[dict[str, Any]]:
    """One row per snapshot object: what it is, what it depends on, how big it is."""
    rows = []
    for obj, header in _headers(store, chains.list_snapshots(store, execution_id), SNAPSHOT_MAGIC):
        meta = header.get("meta", {})
        event = meta.get("event") or {}
        rows.append(
            {
                "seq": header["seq"],
                "key": obj.key,
                "kind": header["kind"],
                "bytes": obj.size,
                "step": meta.get("step"),
                "full_seq": header.get("full_seq"),
                "base_seq": header.get("base_seq"),
                "event": event.get("kind") or meta.get("status"),
                "changed_chunks": event.get("changed_chunks"),
                "at": event.get("at"),
                "host": event.get("host"),
            }
        )
    return rows
