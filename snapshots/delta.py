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


def changed(new: array, old: array, default: int = ZERO_CHUNK_HASH) -> list[int]:
    """Indices whose hash differs from `old` (chunks past the end of `old` compare to `default`)."""
    common = min(len(new), len(old))
    out = [i for i in range(common) if new[i] != old[i]]
    out.extend(i for i in range(common, len(new)) if new[i] != default)
    return out


def to_ranges(indices: list[int]) -> list[list[int]]:
    """[1,2,3,7] -> [[1,3],[7,1]]: (start, count) runs, compact in JSON headers."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][0] + runs[-1][1] == i:
            runs[-1][1] += 1
        else:
            runs.append([i, 1])
    return runs


def from_ranges(runs: list[list[int]]) -> list[int]:
    return [start + k for start, count in runs for k in range(count)]


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
