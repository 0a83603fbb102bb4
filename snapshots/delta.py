"""Change detection and page deltas over byte regions, at 4 KiB granularity.

A region (a wasm linear memory, say) is cut into 4 KiB chunks; each chunk's
xxh3-64 hash is kept for the last committed image. The next snapshot carries
only the chunks whose hash changed. A region's digest - a hash over all its
chunk hashes - lets a restore prove it rebuilt exactly the committed image.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import xxhash

CHUNK = 4096
SUPER = 64 * 1024  # hashed first; only changed super-chunks are rehashed per 4 KiB chunk
_PER_SUPER = SUPER // CHUNK
_hash = xxhash.xxh3_64_intdigest
ZERO_CHUNK_HASH = _hash(bytes(CHUNK))


def chunk_hashes(view: memoryview) -> array:
    """xxh3-64 of every 4 KiB chunk of `view` (its length is a multiple of 4 KiB)."""
    n = len(view)
    if n % CHUNK:
        raise ValueError(f"region length {n} is not a multiple of {CHUNK}")
    return array("Q", [_hash(view[i : i + CHUNK]) for i in range(0, n, CHUNK)])


def digest(hashes: array) -> str:
    return xxhash.xxh3_64_hexdigest(hashes.tobytes())


_BLOCK = 64  # hashes compared at once as bytes: few Python-level steps for large regions


def _differing(a: memoryview, b: memoryview) -> list[int]:
    """Indices where two equally long views of hashes differ, comparing blocks of them as bytes."""
    ba, bb = a.tobytes(), b.tobytes()  # one copy each; bytes compare as memcmp
    if ba == bb:
        return []
    out: list[int] = []
    for lo in range(0, len(a), _BLOCK):
        hi = min(lo + _BLOCK, len(a))
        if ba[lo * 8 : hi * 8] != bb[lo * 8 : hi * 8]:
            out.extend(i for i in range(lo, hi) if a[i] != b[i])
    return out


def changed(new: array, old: array, default: int = ZERO_CHUNK_HASH) -> list[int]:
    """Indices whose hash differs from `old` (chunks past the end of `old` compare to `default`)."""
    common = min(len(new), len(old))
    out = _differing(memoryview(new)[:common], memoryview(old)[:common])
    if len(new) > common:
        tail = memoryview(new)[common:]
        defaults = memoryview(array("Q", [default]) * len(tail))
        out.extend(common + i for i in _differing(tail, defaults))
    return out


def super_hashes(view: memoryview) -> array:
    """xxh3-64 of every 64 KiB super-chunk (the region's length is a multiple of 64 KiB)."""
    return array("Q", [_hash(view[i : i + SUPER]) for i in range(0, len(view), SUPER)])


def super_digest(supers: array) -> str:
    return xxhash.xxh3_64_hexdigest(supers.tobytes())


class Hasher:
    """Chunk hashes of one region, kept up to date cheaply between calls.

    Each call hashes the region in 64 KiB super-chunks (a few hundred calls for
    16 MiB) and rehashes 4 KiB chunks only where a super-chunk changed.
    """

    def __init__(self) -> None:
        self._super = array("Q")
        self._chunks = array("Q")

    def seed(self, supers: array, hashes: array) -> None:
        """Start from a region whose hashes are known (a verified restore): no full rehash later."""
        self._super = supers
        self._chunks = array("Q", hashes)

    @property
    def super_digest(self) -> str:
        """Digest of the super-chunk hashes of the last `hashes` call ("" if the region was not page-sized)."""
        return super_digest(self._super) if len(self._super) else ""

    def hashes(self, view: memoryview) -> array:
        n = len(view)
        if n % SUPER:
            self._super = array("Q")
            return chunk_hashes(view)  # not page-sized: no shortcut
        supers = super_hashes(view)
        old = self._super
        common = min(len(old), len(supers))
        dirty = _differing(memoryview(supers)[:common], memoryview(old)[:common]) + list(range(common, len(supers)))
        chunks = self._chunks
        if len(chunks) < n // CHUNK:
            chunks.extend([0] * (n // CHUNK - len(chunks)))
        for j in dirty:
            base = j * SUPER
            for k in range(_PER_SUPER):
                chunks[j * _PER_SUPER + k] = _hash(view[base + k * CHUNK : base + (k + 1) * CHUNK])
        self._super = supers
        return array("Q", chunks[: n // CHUNK])


def to_ranges(indices: list[int]) -> list[list[int]]:
    """[1,2,3,7] -> [[1,3],[7,1]]: (start, count) runs, compact in JSON headers."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][0] + runs[-1][1] == i:
            runs[-1][1] += 1
        else:
            runs.append([i, 1])
    return runs


def gather(view: memoryview, runs: list[list[int]]) -> bytes:
    """The bytes of the chunk runs, concatenated in order."""
    return b"".join(view[start * CHUNK : (start + count) * CHUNK] for start, count in runs)


def scatter(target: memoryview, runs: list[list[int]], data: memoryview) -> None:
    """Write concatenated chunk runs (as made by `gather`) back into `target`."""
    need = sum(count for _, count in runs) * CHUNK
    if len(data) != need:
        raise ValueError(f"page data is {len(data)} bytes; the chunk list needs {need}")
    pos = 0
    for start, count in runs:
        n = count * CHUNK
        if (start * CHUNK) + n > len(target):
            raise ValueError(f"chunks {start}..{start + count - 1} lie past the end of a {len(target)}-byte region")
        target[start * CHUNK : start * CHUNK + n] = data[pos : pos + n]
        pos += n


@dataclass
class RegionState:
    """What is committed of one region: its chunk hashes."""

    hashes: array

    @property
    def size(self) -> int:
        return len(self.hashes) * CHUNK

    @property
    def digest(self) -> str:
        return digest(self.hashes)
