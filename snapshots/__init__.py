"""Persistence: the object-store protocol, file and S3 backends, snapshot formats and chains, leases.

Knows nothing of wasm: it stores byte regions, JSON metadata and blobs.
"""
