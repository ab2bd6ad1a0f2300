"""The CUDA backend: CuPy arrays on one GPU. Imported only when a CUDA device is asked for."""

from __future__ import annotations


def _import_cupy():
    try:
        import cupy
    except ImportError:
        raise RuntimeError(
            "a CUDA device was requested, but CuPy is not installed; install qilin[cuda] "
            "(cupy-cuda12x) on a machine with an NVIDIA GPU, or use device='cpu'"
        ) from None  # the ImportError adds nothing the message does not say
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # driver missing or broken
        raise RuntimeError(
            f"a CUDA device was requested, but no CUDA driver or GPU answered "
            f"({error}); use device='cpu' on this machine"
        ) from None
    return cupy, count


def is_available() -> bool:
    try:
        return _import_cupy()[1] > 0
    except RuntimeError:
        return False


def device_count() -> int:
    try:
        return _import_cupy()[1]
    except RuntimeError:
        return 0


class CupyBackend:
    name = "cupy"
    _by_index: dict = {}

    def __init__(self, index: int):
        cupy, count = _import_cupy()
        if index >= count:
            raise RuntimeError(
                f"CUDA device cuda:{index} was requested, but only {count} GPU(s) exist"
            )
        self.xp, self.index = cupy, index

    @classmethod
    def for_index(cls, index: int) -> CupyBackend:
        if index not in cls._by_index:
            cls._by_index[index] = cls(index)
        return cls._by_index[index]

    def from_host(self, array):
        with self.xp.cuda.Device(self.index):
            return self.xp.asarray(array)

    def to_host(self, array):
        return self.xp.asnumpy(array)

    def is_array(self, value) -> bool:
        return isinstance(value, self.xp.ndarray)
