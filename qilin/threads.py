"""The CPU thread pools behind qilin's kernels: torch's set_num_threads / get_num_threads.

qilin's matmuls and decompositions run in the BLAS that NumPy links (OpenBLAS); its thread
pool is sized through threadpoolctl, which finds the loaded BLAS whatever its build. A pool
larger than the free cores is worse than useless with OpenBLAS (its threads spin while they
wait): on a busy 2-core machine, two BLAS threads ran a 128x784x512 matmul 15x slower than one.
"""

from __future__ import annotations

import os

import threadpoolctl

__all__ = [
    "set_num_threads",
    "get_num_threads",
    "set_num_interop_threads",
    "get_num_interop_threads",
]

_controller: threadpoolctl.ThreadpoolController | None = None
_interop_threads = 1


def _blas() -> threadpoolctl.ThreadpoolController:
    global _controller
    if _controller is None:
        _controller = threadpoolctl.ThreadpoolController()
    return _controller


def _check(count, name: str) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"{name}: expected a positive integer number of threads, got {count!r}")
    return count


def set_num_threads(count: int) -> None:
    """Use `count` threads for intra-op parallelism (the BLAS pool), as torch does."""
    _blas().limit(limits=_check(count, "set_num_threads"), user_api="blas")


def get_num_threads() -> int:
    pools = [info["num_threads"] for info in _blas().select(user_api="blas").info()]
    return max(pools, default=os.cpu_count() or 1)


def set_num_interop_threads(count: int) -> None:
    """Accepted for torch compatibility: qilin runs independent ops one after another."""
    global _interop_threads
    _interop_threads = _check(count, "set_num_interop_threads")


def get_num_interop_threads() -> int:
    return _interop_threads
