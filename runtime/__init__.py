"""Executes guests: wasmtime engine, suspend/resume, host calls, activities, executor, worker.

Imports `snapshots` (persistence) and `guest.abi` (the ABI constants); knows nothing of HTTP.
"""
