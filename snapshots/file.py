"""The embedded store: a local directory with the same semantics as S3.

Create-only writes go through a fsynced temp file and `link()`, which fails if
the target exists - atomic without a lock. Compare-and-swap takes an `flock`
on a per-key lock file, so it is safe between processes on one machine. Every
write fsyncs the file and its directory before it returns.
"""

from __future__ import annotations

import builtins
import errno
import fcntl
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import xxhash

from snapshots.store import NotFound, ObjectInfo, PreconditionFailed

_TMP = ".tmp"
_LOCKS = ".locks"


def _etag(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


class FileStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.url = f"file://{self.root}"
        (self.root / _TMP).mkdir(parents=True, exist_ok=True)
        (self.root / _LOCKS).mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/") or key.startswith(_TMP) or key.startswith(_LOCKS):
            raise ValueError(f"invalid key: {key!r}")
        return self.root / key

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(key) from None

    def get_range(self, key: str, start: int, length: int) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                f.seek(start)
                return f.read(length)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(key) from None

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        data = self.get(key)
        return data, _etag(data)

    def _write_temp(self, data: bytes) -> Path:
        tmp = self.root / _TMP / uuid.uuid4().hex
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        return tmp

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def put(self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None) -> str:
        path = self._path(key)
        tmp = self._write_temp(data)
        try:
            for _ in range(3):  # a concurrent delete may prune the parent directory under us
                path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    self._install(key, path, tmp, create_only, if_match)
                    break
                except FileNotFoundError:
                    continue
            else:
                raise FileNotFoundError(f"could not create the directory of {key}")
            self._fsync_dir(path.parent)
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        return _etag(data)

    def _install(self, key: str, path: Path, tmp: Path, create_only: bool, if_match: str | None) -> None:
        if create_only:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise PreconditionFailed(key, "object exists (create-only write)") from None
        elif if_match is not None:
            lock_path = self.root / _LOCKS / (xxhash.xxh3_64_hexdigest(key.encode()) + ".lock")
            with open(lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    current = _etag(path.read_bytes())
                except FileNotFoundError:
                    raise PreconditionFailed(key, "object does not exist (conditional write)") from None
                if current != if_match:
                    raise PreconditionFailed(key, f"ETag is {current}, expected {if_match}")
                os.replace(tmp, path)
        else:
            os.replace(tmp, path)

    def list(self, prefix: str, start_after: str = "") -> Iterator[ObjectInfo]:
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        top = self.root / base if base else self.root
        if not top.is_dir():
            return
        keys: builtins.list[tuple[str, int]] = []
        for dirpath, dirnames, filenames in os.walk(top):
            rel = os.path.relpath(dirpath, self.root)
            rel = "" if rel == "." else rel + "/"
            if not rel:
                dirnames[:] = [d for d in dirnames if d not in (_TMP, _LOCKS)]
            for name in filenames:
                key = rel + name
                if key.startswith(prefix) and key > start_after:
                    try:
                        keys.append((key, os.stat(os.path.join(dirpath, name)).st_size))
                    except FileNotFoundError:
                        continue  # deleted while we walked
        for key, size in sorted(keys):
            yield ObjectInfo(key, size)

    def list_prefixes(self, prefix: str) -> builtins.list[str]:
        top = self._path(prefix.rstrip("/")) if prefix else self.root
        try:
            names = os.listdir(top)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n for n in names if not (top == self.root and n in (_TMP, _LOCKS)))

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        # Empty directories of deleted executions would pile up: prune upwards.
        parent = path.parent
        while parent != self.root:
            try:
                parent.rmdir()
            except OSError as e:
                if e.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                    break
                raise
            parent = parent.parent
