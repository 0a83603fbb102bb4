"""Compile C workflows to wasm32 with Zig's C compiler (PyPI `ziglang`), then prepare them."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from guest.toolchain.prepare import PrepareReport, prepare

INCLUDE_DIR = Path(__file__).resolve().parent.parent / "include"
DEFAULT_STACK_SIZE = 64 * 1024  # Zig's default is 16 MiB, which would make every snapshot huge


class BuildError(RuntimeError):
    """The C compiler refused the sources; the message holds its diagnostics."""


def compile_c(
    sources: list[Path],
    output: Path,
    *,
    cache_dir: Path,
    optimize: str = "-O2",
    stack_size: int = DEFAULT_STACK_SIZE,
    extra_flags: list[str] | None = None,
) -> None:
    """Compile and link `sources` into an unprepared wasm32-wasi reactor module."""
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        raise BuildError(f"source file not found: {', '.join(missing)}")
    cmd = [
        sys.executable, "-m", "ziglang", "cc",
        "--target=wasm32-wasi", optimize, "-s",
        "-mexec-model=reactor",
        f"-I{INCLUDE_DIR}",
        f"-Wl,-z,stack-size={stack_size}",
        "-Wl,--export=run",
        *(extra_flags or []),
        "-o", str(output),
        *(str(s) for s in sources),
    ]  # fmt: skip
    env = dict(os.environ, ZIG_GLOBAL_CACHE_DIR=str(cache_dir / "zig"))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        diagnostics = (proc.stderr or proc.stdout).strip()
        if "undefined symbol: run" in diagnostics or "--export not found: run" in diagnostics:
            raise BuildError(f"no `int run(void)` defined in {', '.join(map(str, sources))}\n{diagnostics}")
        raise BuildError(f"compilation failed:\n{diagnostics}")


def build(sources: list[Path], output: Path, *, cache_dir: Path, optimize: str = "-O2") -> PrepareReport:
    """Compile C sources and write the prepared, snapshot-ready module to `output`."""
    with tempfile.TemporaryDirectory(prefix="td-build-") as tmp:
        raw = Path(tmp) / "raw.wasm"
        compile_c(sources, raw, cache_dir=cache_dir, optimize=optimize)
        report = prepare(raw.read_bytes())
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(report.wasm)
    return report
