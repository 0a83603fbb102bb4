"""Issue 5's benchmark: durability overhead, recovery, footprint, memory size and throughput.

Run `python -m benchmarks.run --quick`; see benchmarks/README.md. This package
is imported by the fresh-process recovery probe too, so it imports nothing here.
"""
