"""The legacy tensor types: qilin.FloatTensor, LongTensor, ... (torch.FloatTensor etc.).

Each is a constructor and an isinstance test, as in torch:

    qilin.FloatTensor(2, 3)          a (2, 3) float32 tensor (zeros; torch leaves it uninitialised)
    qilin.LongTensor([1, 2])         int64 data
    isinstance(t, qilin.FloatTensor) True exactly when t is a float32 tensor on the CPU
    t.type(qilin.DoubleTensor)       converts, like t.type(qilin.float64)
"""

from __future__ import annotations

import numpy as np

from . import dtypes
from .errors import located
from .tensor import Size, Tensor

__all__ = [
    "FloatTensor",
    "DoubleTensor",
    "HalfTensor",
    "BFloat16Tensor",
    "LongTensor",
    "IntTensor",
    "ShortTensor",
    "CharTensor",
    "ByteTensor",
    "BoolTensor",
    "TYPE_NAMES",
    "dtype_of_type_name",
]

# dtype name -> legacy type name, as `Tensor.type()` prints it
TYPE_NAMES = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "float16": "HalfTensor",
    "bfloat16": "BFloat16Tensor",
    "int64": "LongTensor",
    "int32": "IntTensor",
    "int16": "ShortTensor",
    "int8": "CharTensor",
    "uint8": "ByteTensor",
    "bool": "BoolTensor",
}
_DTYPE_NAMES = {name: dtype for dtype, name in TYPE_NAMES.items()}


def dtype_of_type_name(name: str):
    """'torch.DoubleTensor' / 'qilin.DoubleTensor' / 'DoubleTensor' -> qilin.float64."""
    short = name.rpartition(".")[2]
    if short not in _DTYPE_NAMES:
        raise located(ValueError(f"invalid type: '{name}'"))
    return getattr(dtypes, _DTYPE_NAMES[short])


class _LegacyType(type):
    """The metaclass: calling the type builds a tensor, isinstance checks dtype and device."""

    dtype: dtypes.DType

    def __instancecheck__(cls, instance) -> bool:
        return (
            isinstance(instance, Tensor)
            and instance.dtype is cls.dtype
            and instance.device.type == "cpu"
        )

    def __call__(cls, *args, device=None):
        from .ops.creation import tensor, zeros

        if not args:
            return zeros(0, dtype=cls.dtype, device=device)  # torch: an empty 1-d tensor
        if _is_size(args):
            sizes = tuple(args[0]) if len(args) == 1 and isinstance(args[0], Size) else args
            if any(int(s) < 0 for s in sizes):
                raise located(
                    RuntimeError(
                        f"Trying to create tensor with negative dimension {min(sizes)}: "
                        f"{list(sizes)}"
                    )
                )
            return zeros(*map(int, sizes), dtype=cls.dtype, device=device)
        if len(args) != 1:
            raise located(
                TypeError(
                    f"{cls.__name__}(): expected sizes (ints) or one sequence of data, but got "
                    f"{tuple(type(a).__name__ for a in args)}"
                )
            )
        data = args[0]
        if isinstance(data, Tensor):
            if data.dtype is not cls.dtype:
                raise located(
                    TypeError(
                        f"{cls.__name__}(): expected a tensor of dtype {cls.dtype.name} (got "
                        f"{data.dtype.name}); use .to({cls.dtype.name}) to convert"
                    )
                )
            return data  # torch returns the same storage
        if not isinstance(data, (list, tuple, np.ndarray)):
            raise located(TypeError(f"new(): data must be a sequence (got {type(data).__name__})"))
        return tensor(data, dtype=cls.dtype, device=device)

    def __repr__(cls) -> str:
        return f"<class 'qilin.{cls.__name__}'>"


def _is_size(args: tuple) -> bool:
    if len(args) == 1 and isinstance(args[0], Size):
        return True
    return all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args)


def _legacy_type(name: str, dtype) -> _LegacyType:
    return _LegacyType(name, (), {"dtype": dtype, "is_cuda": False, "__module__": "qilin"})


FloatTensor = _legacy_type("FloatTensor", dtypes.float32)
DoubleTensor = _legacy_type("DoubleTensor", dtypes.float64)
HalfTensor = _legacy_type("HalfTensor", dtypes.float16)
BFloat16Tensor = _legacy_type("BFloat16Tensor", dtypes.bfloat16)
LongTensor = _legacy_type("LongTensor", dtypes.int64)
IntTensor = _legacy_type("IntTensor", dtypes.int32)
ShortTensor = _legacy_type("ShortTensor", dtypes.int16)
CharTensor = _legacy_type("CharTensor", dtypes.int8)
ByteTensor = _legacy_type("ByteTensor", dtypes.uint8)
BoolTensor = _legacy_type("BoolTensor", dtypes.bool)
