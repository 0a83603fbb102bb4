"""S3-compatible backend (boto3): AWS, SeaweedFS, MinIO, R2...

Create-only writes send `If-None-Match: *`; compare-and-swap sends `If-Match`
with the ETag (unquoted, as SeaweedFS wants it). Both answer 412 when the
condition fails. Connection errors (also those while a body streams) and 5xx
answers become Unavailable, which callers retry with backoff - an execution
pauses while its store is away. A range past the end reads as b"", like a file.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, EndpointConnectionError

from snapshots.store import NotFound, ObjectInfo, PreconditionFailed, Unavailable

_PRECONDITION = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Store:
    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(
                retries={"max_attempts": 2, "mode": "standard"},
                connect_timeout=3,
                read_timeout=20,
                max_pool_connections=64,
                s3={"addressing_style": "path"},
            ),
        )

    def _k(self, key: str) -> str:
        return self.prefix + key

    def _call(self, key: str, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in _MISSING or status == 404:
                raise NotFound(key) from None
            if code in _PRECONDITION or status in (409, 412):
                raise PreconditionFailed(key, f"condition failed ({code or status})") from None
            if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"):
                raise Unavailable(f"{key}: {code or status}") from None
            raise
        except (EndpointConnectionError, ConnectionError, BotoCoreError) as e:
            raise Unavailable(f"{key}: {e}") from None

    @staticmethod
    def _read(key: str, resp: Any) -> bytes:
        """The response body. It streams after get_object returns, so a connection that breaks
        mid-body surfaces here - as transient as one that never opened."""
        try:
            return bytes(resp["Body"].read())
        except BotoCoreError as e:
            raise Unavailable(f"{key}: {e}") from None

    def get(self, key: str) -> bytes:
        resp = self._call(key, self.client.get_object, Key=self._k(key))
        return self._read(key, resp)

    def get_range(self, key: str, start: int, length: int) -> bytes:
        if length <= 0:  # "bytes=5-4" is no valid range; still say NotFound for a missing key
            self._call(key, self.client.head_object, Key=self._k(key))
            return b""
        try:
            resp = self._call(
                key, self.client.get_object, Key=self._k(key), Range=f"bytes={start}-{start + length - 1}"
            )
        except ClientError as e:
            # 416: the range starts at or past the end (any range of an empty object). Like a
            # file read past EOF, that is no bytes, not an error.
            if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 416:
                return b""
            raise
        return self._read(key, resp)

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        resp = self._call(key, self.client.get_object, Key=self._k(key))
        return self._read(key, resp), str(resp["ETag"]).strip('"')

    def put(self, key: str, data: bytes, *, create_only: bool = False, if_match: str | None = None) -> str:
        kwargs: dict[str, Any] = {"Key": self._k(key), "Body": data}
        if create_only:
            kwargs["IfNoneMatch"] = "*"
        elif if_match is not None:
            kwargs["IfMatch"] = if_match
        resp = self._call(key, self.client.put_object, **kwargs)
        return str(resp["ETag"]).strip('"')

    def list(self, prefix: str, start_after: str = "") -> Iterator[ObjectInfo]:
        kwargs: dict[str, Any] = {"Prefix": self._k(prefix)}
        if start_after:
            kwargs["StartAfter"] = self._k(start_after)
        while True:
            resp = self._call(prefix, self.client.list_objects_v2, **kwargs)
            for item in resp.get("Contents", []):
                yield ObjectInfo(item["Key"][len(self.prefix) :], int(item["Size"]))
            if not resp.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = resp["NextContinuationToken"]

    def list_prefixes(self, prefix: str) -> builtins.list[str]:
        kwargs: dict[str, Any] = {"Prefix": self._k(prefix), "Delimiter": "/"}
        out: builtins.list[str] = []
        while True:
            resp = self._call(prefix, self.client.list_objects_v2, **kwargs)
            for p in resp.get("CommonPrefixes", []):
                out.append(p["Prefix"][len(self._k(prefix)) :].rstrip("/"))
            for item in resp.get("Contents", []):
                out.append(item["Key"][len(self._k(prefix)) :])
            if not resp.get("IsTruncated"):
                return sorted(out)
            kwargs["ContinuationToken"] = resp["NextContinuationToken"]

    def delete(self, key: str) -> None:
        try:
            self._call(key, self.client.delete_object, Key=self._k(key))
        except NotFound:
            pass

    def ensure_bucket(self) -> None:
        try:
            self._call("", self.client.head_bucket)
        except NotFound:
            self._call("", self.client.create_bucket)
