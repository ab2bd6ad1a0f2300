"""Array libraries behind devices: NumPy for the CPU, CuPy for CUDA.

A backend is small: the array module `xp` that op kernels are written against, and the two
transfers to and from host memory. Kernels never import numpy directly for device work.
"""

from __future__ import annotations

from .numpy_backend import NumpyBackend

__all__ = ["Backend", "backend_for", "NumpyBackend"]

Backend = NumpyBackend  # the interface every backend follows
_cpu = NumpyBackend()


def backend_for(device):
    if device.type == "cpu":
        return _cpu
    from .cupy_backend import CupyBackend

    return CupyBackend.for_index(0 if device.index is None else device.index)
