"""Data types and PyTorch's type-promotion rules.

A `DType` names a NumPy dtype (bfloat16 comes from ml_dtypes). Promotion follows PyTorch:
tensors with dimensions outrank zero-dimensional tensors, which outrank Python scalars; a
scalar (weak) only changes the result when it belongs to a higher category (bool < integer <
floating), in which case the result is that category's default (int64, or the default float).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

__all__ = [
    "DType",
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "cfloat",
    "cdouble",
    "half",
    "float",
    "double",
    "short",
    "int",
    "long",
    "get_default_dtype",
    "set_default_dtype",
    "promote_types",
    "result_type",
    "can_cast",
    "finfo",
    "iinfo",
    "is_floating_point",
    "to_dtype",
]

_builtin_bool, _builtin_int, _builtin_float = bool, int, float

# Category ranks used by promotion: bool < integer < floating (< complex: see complex64 below).
BOOL, INTEGER, FLOATING, COMPLEX = 0, 1, 2, 3


class DType:
    """A tensor element type, e.g. ``qilin.float32``."""

    __slots__ = ("name", "numpy", "itemsize", "category", "is_signed", "_rank")

    def __init__(self, name: str, numpy_dtype, category: int, rank: int):
        self.name = name
        self.numpy = np.dtype(numpy_dtype)
        self.itemsize = self.numpy.itemsize
        self.category = category
        self.is_signed = category == FLOATING or (category == INTEGER and name != "uint8")
        self._rank = rank

    @property
    def is_floating_point(self) -> _builtin_bool:
        return self.category == FLOATING

    @property
    def is_complex(self) -> _builtin_bool:
        return self.category == COMPLEX

    def to_real(self) -> DType:
        return _REAL_OF.get(self.name, self)

    def __repr__(self) -> str:
        return f"qilin.{self.name}"

    def __reduce__(self):
        return (to_dtype, (self.name,))


bool = DType("bool", np.bool_, BOOL, 0)  # noqa: A001
uint8 = DType("uint8", np.uint8, INTEGER, 1)
int8 = DType("int8", np.int8, INTEGER, 2)
int16 = DType("int16", np.int16, INTEGER, 3)
int32 = DType("int32", np.int32, INTEGER, 4)
int64 = DType("int64", np.int64, INTEGER, 5)
float16 = DType("float16", np.float16, FLOATING, 6)
bfloat16 = DType("bfloat16", ml_dtypes.bfloat16, FLOATING, 7)
float32 = DType("float32", np.float32, FLOATING, 8)
float64 = DType("float64", np.float64, FLOATING, 9)

# Complex dtypes name the dtype of a qilin.ComplexTensor (real pairs: complex_tensor.py); no
# Tensor holds complex data, so they are not in ALL and NumPy complex arrays stay refused.
complex64 = DType("complex64", np.complex64, COMPLEX, 10)
complex128 = DType("complex128", np.complex128, COMPLEX, 11)
cfloat, cdouble = complex64, complex128
_REAL_OF = {"complex64": float32, "complex128": float64}

half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001

ALL = (bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
FLOATING_TYPES = (float16, bfloat16, float32, float64)
FLOATING_NUMPY = frozenset(d.numpy for d in FLOATING_TYPES)
_BY_NUMPY = {d.numpy: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update(half=half, float=float32, double=float64, short=int16, int=int32, long=int64)

_default_float = float32


def get_default_dtype() -> DType:
    return _default_float


def set_default_dtype(dtype: DType) -> None:
    """Set the dtype of float tensors created from Python floats (float32 or float64)."""
    global _default_float
    dtype = to_dtype(dtype)
    if not dtype.is_floating_point:
        raise TypeError(f"set_default_dtype expects a floating dtype, got {dtype}")
    _default_float = dtype
    _result_cache.clear()


def from_numpy(numpy_dtype) -> DType:
    """The qilin dtype of a NumPy dtype; raises for types qilin does not hold (complex, str)."""
    found = _BY_NUMPY.get(numpy_dtype)
    if found is None:
        found = _BY_NUMPY.get(np.dtype(numpy_dtype))
        if found is None:
            raise TypeError(
                f"can't convert NumPy dtype {np.dtype(numpy_dtype)}: qilin supports "
                + ", ".join(d.name for d in ALL)
            )
    return found


def to_dtype(value) -> DType:
    """Accept a DType, a NumPy dtype, a Python type or a name and return the DType."""
    if isinstance(value, DType):
        return value
    if isinstance(value, str):
        found = _BY_NAME.get(value.removeprefix("qilin.").removeprefix("torch."))
        if found is None:
            raise TypeError(
                f"unknown dtype {value!r}; expected a qilin dtype such as qilin.float32, or its "
                "name"
            )
        return found
    if value is _builtin_bool:
        return bool
    if value is _builtin_int:
        return int64
    if value is _builtin_float:
        return _default_float
    try:
        return from_numpy(np.dtype(value))
    except TypeError as error:
        raise TypeError(f"expected a qilin dtype, got {value!r}") from error


def _promote_same_category(a: DType, b: DType) -> DType:
    if a is b:
        return a
    if a.category == INTEGER and b.category == INTEGER:
        # uint8 with a signed type needs a signed type wider than 8 bits.
        if uint8 in (a, b):
            other = b if a is uint8 else a
            return int16 if other is int8 else other
        return a if a._rank > b._rank else b
    if a.category == FLOATING:
        if {a, b} == {float16, bfloat16}:
            return float32
        return a if a._rank > b._rank else b
    return a


def promote_types(a: DType, b: DType) -> DType:
    """The smallest dtype both `a` and `b` convert to, as torch.promote_types."""
    a, b = to_dtype(a), to_dtype(b)
    if a.category != b.category:
        return a if a.category > b.category else b
    return _promote_same_category(a, b)


def can_cast(from_: DType, to: DType) -> _builtin_bool:
    """Whether an in-place result of dtype `from_` may be written into `to` (torch.can_cast)."""
    return to_dtype(from_).category <= to_dtype(to).category


def _scalar_category(value) -> int:
    if isinstance(value, _builtin_bool | np.bool_):
        return BOOL
    if isinstance(value, _builtin_int | np.integer):
        return INTEGER
    return FLOATING


_DEFAULT_OF_CATEGORY = {BOOL: lambda: bool, INTEGER: lambda: int64, FLOATING: get_default_dtype}
_result_cache: dict = {}


def result_type(*operands) -> DType:
    """The dtype of an op over tensors and Python scalars, by PyTorch's three-tier rule.

    Tensors are anything with ``.dtype`` and ``.ndim``; anything else (NumPy scalars too) is a
    weak scalar.
    """
    key = tuple(
        (op.dtype, op.ndim == 0)
        if hasattr(op, "ndim") and not isinstance(op, np.generic)
        else _scalar_category(op)  # NumPy scalars are weak, like Python numbers (as in torch)
        for op in operands
    )
    found = _result_cache.get(key)
    if found is None:
        found = _result_cache[key] = _result_type_uncached(key)
    return found


def _result_type_uncached(key) -> DType:
    dimensioned = zero_dim = None
    scalar_category = -1
    for entry in key:
        if isinstance(entry, tuple):
            dtype, is_zero_dim = entry
            dtype = to_dtype(dtype)
            if is_zero_dim:
                zero_dim = dtype if zero_dim is None else promote_types(zero_dim, dtype)
            else:
                dimensioned = dtype if dimensioned is None else promote_types(dimensioned, dtype)
        else:
            scalar_category = max(scalar_category, entry)
    result = dimensioned
    if zero_dim is not None and (result is None or zero_dim.category > result.category):
        result = zero_dim
    if scalar_category >= 0 and (result is None or scalar_category > result.category):
        result = _DEFAULT_OF_CATEGORY[scalar_category]()
    if result is None:
        raise TypeError("result_type needs at least one operand")
    return result


_LOW_PRECISION_NUMPY = frozenset((float16.numpy, bfloat16.numpy))


def cast_operand(value, numpy_dtype):
    """An operand of an elementwise kernel in the computation dtype `numpy_dtype`.

    Arrays are cast. A Python scalar is converted the way torch converts it: an integer wraps
    around into the dtype (a uint8 tensor minus 3 adds 253; NumPy would raise), and a float
    meeting half/bfloat16 stays a float32 scalar, because torch computes those types in float32
    (float16(0.1) would change the product). Other scalars stay weak Python numbers.
    """
    if hasattr(value, "dtype"):
        return value if value.dtype == numpy_dtype else value.astype(numpy_dtype)
    kind = numpy_dtype.kind
    if kind in "iu":
        return np.int64(value).astype(numpy_dtype)
    if numpy_dtype in _LOW_PRECISION_NUMPY:
        return np.float32(value)
    if kind == "b":
        return np.bool_(value)
    return value


def is_floating_point(x) -> _builtin_bool:
    return x.dtype.is_floating_point


class finfo:
    """Machine limits of a floating dtype (torch.finfo)."""

    def __init__(self, dtype: DType | None = None):
        dtype = to_dtype(dtype if dtype is not None else _default_float)
        if not dtype.is_floating_point:
            raise TypeError(f"finfo expects a floating dtype, got {dtype}")
        info = ml_dtypes.finfo(dtype.numpy) if dtype is bfloat16 else np.finfo(dtype.numpy)
        self.dtype = dtype.name  # a string, as torch.finfo(...).dtype
        self.bits = dtype.itemsize * 8
        self.eps = _builtin_float(info.eps)
        self.max = _builtin_float(info.max)
        self.min = _builtin_float(info.min)
        self.tiny = self.smallest_normal = _builtin_float(info.tiny)
        # 10**-precision as a Python float (NumPy rounds it to the dtype: 0.0010004 for float16).
        self.resolution = 10.0**-info.precision

    def __repr__(self) -> str:
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
            f"eps={self.eps:g}, smallest_normal={self.tiny:g}, tiny={self.tiny:g}, "
            f"dtype={self.dtype})"
        )


class iinfo:
    """Machine limits of an integer dtype (torch.iinfo)."""

    def __init__(self, dtype: DType):
        dtype = to_dtype(dtype)
        if dtype.category != INTEGER:
            raise TypeError(f"iinfo expects an integer dtype, got {dtype}")
        info = np.iinfo(dtype.numpy)
        self.dtype = dtype.name  # a string, as torch.iinfo(...).dtype
        self.bits = info.bits
        self.max = _builtin_int(info.max)
        self.min = _builtin_int(info.min)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
