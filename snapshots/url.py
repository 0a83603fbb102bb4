"""Open a store from a URL: `./dir`, `file:///abs/dir`, or `s3://bucket[/prefix]`."""

from __future__ import annotations

import os
from urllib.parse import urlparse

from snapshots.file import FileStore
from snapshots.store import ObjectStore


def open_store(url: str, *, s3_endpoint: str | None = None, create_bucket: bool = False) -> ObjectStore:
    if url.startswith("s3://"):
        from snapshots.s3 import S3Store

        parsed = urlparse(url)
        if not parsed.netloc:
            raise ValueError(f"store URL {url!r} names no bucket; expected s3://bucket[/prefix]")
        store = S3Store(parsed.netloc, parsed.path, endpoint_url=s3_endpoint or os.environ.get("AWS_ENDPOINT_URL"))
        if create_bucket:
            store.ensure_bucket()
        return store
    if url.startswith("file://"):
        path = urlparse(url).path
        if not path:
            raise ValueError(f"store URL {url!r} names no directory; expected file:///absolute/dir")
        return FileStore(path)
    if "://" in url:
        raise ValueError(f"unsupported store URL {url!r}; expected a directory, file:///dir or s3://bucket[/prefix]")
    return FileStore(url)
