"""Guest side of Tardigrade: the `td` ABI, the C SDK header, examples and the toolchain.

Standalone: nothing here imports `runtime`, `snapshots` or `api`.
"""
