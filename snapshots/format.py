"""Binary formats of snapshot and journal objects.

Every object is one self-checking container:

    magic (8 bytes) | header length (u32 BE) | header (JSON) | body | xxh3-64 of all before (8 bytes)

The header says how the body is laid out; the body is one zstd frame holding
the named blobs and then the page data. Reading only the header (for history)
needs the first few KiB of the object; reading anything else verifies the
checksum first, so a flipped byte is reported with the object's key instead of
being restored.
"""

from __future__ import annotations

import json
import struct
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import xxhash
import zstandard

from snapshots.store import CorruptObject

SNAPSHOT_MAGIC = b"TDSNAP01"
JOURNAL_MAGIC = b"TDJRNL01"
_PREFIX = struct.Struct(">8sI")
_TRAILER = struct.Struct(">Q")
HEADER_PROBE = 16 * 1024  # bytes to read when only the header is wanted

# zstandard's (de)compressor objects must not be shared between threads: one of each per thread.
_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    c = getattr(_local, "compressor", None)
    if c is None:
        c = _local.compressor = zstandard.ZstdCompressor(level=1)
    return c


def _zstd() -> zstandard.ZstdDecompressor:
    d = getattr(_local, "decompressor", None)
    if d is None:
        d = _local.decompressor = zstandard.ZstdDecompressor()
    return d


SAMPLE = 256 * 1024  # bodies larger than this are compressed only if a sample of this size compresses


def _encode_body(raw: bytes) -> tuple[bytes, str]:
    """zstd, unless the data does not compress (a random-filled heap, say): then raw, saving both ways."""
    if not raw:
        return b"", "none"
    if len(raw) > 4 * SAMPLE and len(_compressor().compress(raw[:SAMPLE])) > 0.9 * SAMPLE:
        return raw, "none"
    packed = _compressor().compress(raw)
    return (raw, "none") if len(packed) >= 0.97 * len(raw) else (packed, "zstd")


def encode_container(magic: bytes, header: dict[str, Any], body_parts: list[bytes]) -> bytes:
    raw = b"".join(body_parts)
    body, codec = _encode_body(raw)
    header = dict(header, body={"raw": len(raw), "stored": len(body), "codec": codec})
    head = json.dumps(header, separators=(",", ":")).encode()
    out = bytearray(_PREFIX.pack(magic, len(head)))
    out += head
    out += body
    out += _TRAILER.pack(xxhash.xxh3_64_intdigest(out))
    return bytes(out)


def decode_header(key: str, data: bytes, magic: bytes) -> dict[str, Any] | int:
    """Parse the header from the start of an object; returns the bytes needed if `data` is too short."""
    if len(data) < _PREFIX.size:
        raise CorruptObject(key, f"{len(data)} bytes is too short for a header")
    found, head_len = _PREFIX.unpack_from(data)
    if found != magic:
        raise CorruptObject(key, f"bad magic {found!r}, expected {magic!r}")
    if len(data) < _PREFIX.size + head_len:
        return _PREFIX.size + head_len
    try:
        header = json.loads(data[_PREFIX.size : _PREFIX.size + head_len])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorruptObject(key, f"unreadable header: {e}") from None
    if not isinstance(header, dict):
        raise CorruptObject(key, "header is not a JSON object")
    return header


def decode_container(key: str, data: bytes, magic: bytes) -> tuple[dict[str, Any], bytes | memoryview]:
    """Verify the checksum and return (header, decompressed body); a raw body is a view, not a copy."""
    if len(data) < _PREFIX.size + _TRAILER.size:
        raise CorruptObject(key, f"{len(data)} bytes is too short")
    (want,) = _TRAILER.unpack_from(data, len(data) - _TRAILER.size)
    got = xxhash.xxh3_64_intdigest(memoryview(data)[: len(data) - _TRAILER.size])
    if got != want:
        raise CorruptObject(key, f"checksum mismatch (stored {want:016x}, computed {got:016x})")
    header = decode_header(key, data, magic)
    if isinstance(header, int):
        raise CorruptObject(key, "header runs past the end of the object")
    _, head_len = _PREFIX.unpack_from(data)
    start = _PREFIX.size + head_len
    stored = memoryview(data)[start : len(data) - _TRAILER.size]
    sizes = header.get("body", {})
    if len(stored) != sizes.get("stored"):
        raise CorruptObject(key, f"body is {len(stored)} bytes, header says {sizes.get('stored')}")
    if not stored:
        return header, b""
    if sizes.get("codec", "zstd") == "none":
        if len(stored) != sizes["raw"]:
            raise CorruptObject(key, f"raw body is {len(stored)} bytes, header says {sizes['raw']}")
        return header, stored
    try:
        body = _zstd().decompress(stored, max_output_size=sizes["raw"])
    except zstandard.ZstdError as e:
        raise CorruptObject(key, f"body does not decompress: {e}") from None
    if len(body) != sizes["raw"]:
        raise CorruptObject(key, f"body decompressed to {len(body)} bytes, header says {sizes['raw']}")
    return header, body


def _split(
    key: str, body: bytes | memoryview, names: list[str], sizes: list[int]
) -> tuple[dict[str, bytes], memoryview]:
    view = memoryview(body)
    blobs: dict[str, bytes] = {}
    pos = 0
    for name, size in zip(names, sizes, strict=True):
        blobs[name] = bytes(view[pos : pos + size])
        pos += size
    if pos > len(body):
        raise CorruptObject(key, "blob sizes exceed the body")
    return blobs, view[pos:]


@dataclass
class Region:
    """One byte region (a linear memory) as carried by a snapshot."""

    size: int  # bytes, after this snapshot
    runs: list[list[int]]  # chunk runs carried in this object, [start, count]
    digest: str  # digest of the whole region's chunk hashes after applying this snapshot
    super_digest: str = ""  # digest of its 64 KiB super-chunk hashes: a cheap check of restored memory


SnapshotKind = Literal["full", "delta", "terminal"]


@dataclass
class Snapshot:
    seq: int
    module: str
    kind: SnapshotKind
    full_seq: int | None  # the full image this object's chain starts from; None for terminal records
    base_seq: int | None = None  # deltas: the snapshot this one is a delta against
    regions: dict[str, Region] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)  # runtime state; opaque to this package
    blobs: dict[str, bytes] = field(default_factory=dict)
    pages: bytes | memoryview = b""  # chunk data: regions in order, runs in order

    def encode(self) -> bytes:
        header = {
            "seq": self.seq,
            "module": self.module,
            "kind": self.kind,
            "full_seq": self.full_seq,
            "base_seq": self.base_seq,
            "regions": {
                n: {"size": r.size, "runs": r.runs, "digest": r.digest, "super_digest": r.super_digest}
                for n, r in self.regions.items()
            },
            "blobs": [[n, len(b)] for n, b in self.blobs.items()],
            "meta": self.meta,
        }
        return encode_container(SNAPSHOT_MAGIC, header, [*self.blobs.values(), bytes(self.pages)])

    @classmethod
    def from_header(cls, key: str, header: dict[str, Any]) -> Snapshot:
        try:
            return cls(
                seq=int(header["seq"]),
                module=str(header["module"]),
                kind=header["kind"],
                full_seq=header["full_seq"],
                base_seq=header.get("base_seq"),
                regions={
                    n: Region(
                        int(r["size"]), [list(x) for x in r["runs"]], str(r["digest"]), str(r.get("super_digest", ""))
                    )
                    for n, r in header["regions"].items()
                },
                meta=dict(header["meta"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptObject(key, f"header lacks or mangles a field: {e!r}") from None

    @classmethod
    def decode(cls, key: str, data: bytes) -> Snapshot:
        header, body = decode_container(key, data, SNAPSHOT_MAGIC)
        snap = cls.from_header(key, header)
        names = [str(n) for n, _ in header.get("blobs", [])]
        sizes = [int(s) for _, s in header.get("blobs", [])]
        snap.blobs, snap.pages = _split(key, body, names, sizes)
        return snap


@dataclass
class JournalRecord:
    """Replay mode: what one suspension point (and the plain calls before it) returned."""

    seq: int
    meta: dict[str, Any]
    blobs: dict[str, bytes] = field(default_factory=dict)

    def encode(self) -> bytes:
        header = {"seq": self.seq, "meta": self.meta, "blobs": [[n, len(b)] for n, b in self.blobs.items()]}
        return encode_container(JOURNAL_MAGIC, header, list(self.blobs.values()))

    @classmethod
    def decode(cls, key: str, data: bytes) -> JournalRecord:
        header, body = decode_container(key, data, JOURNAL_MAGIC)
        names = [str(n) for n, _ in header.get("blobs", [])]
        sizes = [int(s) for _, s in header.get("blobs", [])]
        blobs, _ = _split(key, body, names, sizes)
        try:
            return cls(seq=int(header["seq"]), meta=dict(header["meta"]), blobs=blobs)
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptObject(key, f"header lacks or mangles a field: {e!r}") from None
