"""Defaults from the environment, in one place."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

DEFAULT_STORE = "./.tardigrade"


def store_url() -> str:
    return os.environ.get("TD_STORE") or DEFAULT_STORE


def cache_dir() -> Path:
    """Local-only caches: Zig's build cache and compiled modules (.cwasm)."""
    explicit = os.environ.get("TD_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tardigrade"


def cli_host_id() -> str:
    """The host id of a CLI process: unique per process, valid as an id."""
    name = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40].strip("-") or "host"
    return f"cli-{name}-{os.getpid()}"


def api_token() -> str | None:
    return os.environ.get("TD_API_TOKEN") or None
