"""Tensor factories: tensor, as_tensor, asarray, from_numpy, zeros/ones/full/empty (+ _like),
arange, range, linspace, logspace, eye, tril/triu_indices. Random factories live in
`qilin.random`.

Factories build host (NumPy) arrays and move them to the device once; dtype inference follows
torch: Python bools < ints (int64) < floats (the default dtype), while NumPy scalars, arrays and
tensors keep their own dtype.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import dtypes
from ..device import CPU, resolve
from ..dispatch import write_out
from ..tensor import Size, Tensor, _wrap

__all__ = [
    "tensor",
    "as_tensor",
    "asarray",
    "from_numpy",
    "zeros",
    "ones",
    "full",
    "empty",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty_like",
    "arange",
    "range",
    "linspace",
    "logspace",
    "eye",
    "scalar_tensor",
    "empty_strided",
    "tril_indices",
    "triu_indices",
]

_builtin_range = range
_SCALARS = (bool, int, float, np.bool_, np.number)


# ----- shared helpers (also used by qilin.random) ----------------------------------------------
def size_from_args(args: tuple, size, name: str) -> tuple:
    """The shape from torch's size forms: f(2, 3), f((2, 3)), f([2, 3]), f(Size), f(size=...)."""
    if size is not None:
        if args:
            raise TypeError(f"{name}() got the size both positionally and as size=")
        args = (size,)
    if not args:
        raise TypeError(f'{name}() missing 1 required positional arguments: "size"')
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    shape = tuple(_dimension(value, name) for value in args)
    for length in shape:
        if length < 0:
            raise RuntimeError(
                f"{name}(): Trying to create tensor with negative dimension {length}: {list(shape)}"
            )
    return shape


def factory_size(args: tuple, kwargs: dict, name: str) -> tuple:
    """The shape of a factory called as f(*size, **kwargs), whose kwargs may hold only size=."""
    size = kwargs.pop("size", None)
    if kwargs:
        raise TypeError(f"{name}() got unexpected keyword arguments {sorted(kwargs)}")
    return size_from_args(args, size, name)


def _dimension(value, name: str) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        return int(value.item())
    raise TypeError(
        f"{name}(): argument 'size' must be tuple of ints, but found element of "
        f"type {type(value).__name__}"
    )


def finish(array: np.ndarray, dtype: dtypes.DType, device, requires_grad: bool) -> Tensor:
    """Wrap a host array as a tensor of `dtype` on `device` (one cast, one transfer)."""
    device = resolve(device)
    if array.dtype != dtype.numpy:
        array = array.astype(dtype.numpy)
    result = _wrap(array if device is CPU else device.backend.from_host(array), device)
    if requires_grad:
        result.requires_grad_(True)
    return result


def _dtype_or_default(dtype) -> dtypes.DType:
    return dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()


# ----- tensor(): nested Python data -> array --------------------------------------------------
def _infer_dtype(data) -> dtypes.DType:
    """torch.tensor's inference over nested data (bool < int64 < default float)."""
    if isinstance(data, (Tensor, np.ndarray, np.generic)):
        return data.dtype if isinstance(data, Tensor) else dtypes.from_numpy(data.dtype)
    if isinstance(data, bool):
        return dtypes.bool
    if isinstance(data, int):
        return dtypes.int64
    if isinstance(data, float):
        return dtypes.get_default_dtype()
    if isinstance(data, (list, tuple)):
        found = None
        kinds = {type(item) for item in data}
        if kinds and kinds <= {bool, int, float}:  # the common flat case, without recursion
            found = (
                dtypes.get_default_dtype()
                if float in kinds
                else dtypes.int64
                if int in kinds
                else dtypes.bool
            )
            return found
        for item in data:
            dtype = _infer_dtype(item)
            found = dtype if found is None else dtypes.promote_types(found, dtype)
        return found if found is not None else dtypes.get_default_dtype()
    if isinstance(data, numbers.Integral):
        return dtypes.int64
    if isinstance(data, numbers.Real):
        return dtypes.get_default_dtype()
    raise TypeError(
        f"tensor(): could not infer the dtype of {type(data).__name__}; expected "
        "numbers, nested lists or tuples of numbers, NumPy arrays or tensors"
    )


def _host_data(data):
    """Replace tensors inside nested data by host arrays, so NumPy can read everything."""
    if isinstance(data, Tensor):
        return data.detach()._host()
    if isinstance(data, (list, tuple)) and any(
        isinstance(item, (Tensor, list, tuple)) for item in data
    ):
        return [_host_data(item) for item in data]
    return data


def _shape_mismatch(data, dim: int = 0):
    """Find where nested data is ragged, for torch's 'expected sequence of length' error."""
    if not isinstance(data, (list, tuple)):
        return None
    lengths = [len(item) if isinstance(item, (list, tuple, np.ndarray)) else None for item in data]
    for item, length in zip(data, lengths):
        if length != lengths[0]:
            if None in (length, lengths[0]):
                return (
                    f"expected a number or a sequence consistently at dim {dim + 1}, but got "
                    f"{type(data[0]).__name__} and {type(item).__name__}"
                )
            return f"expected sequence of length {lengths[0]} at dim {dim + 1} (got {length})"
    for item in data:
        found = _shape_mismatch(item, dim + 1)
        if found:
            return found
    return None


def _build_array(data, dtype: dtypes.DType) -> np.ndarray:
    """A fresh host array of `dtype` holding `data`.

    Python numbers are read at full width (int64 / float64) and then cast, so that
    tensor([0.1], dtype=float64) is exact and tensor([-1], dtype=uint8) wraps as in torch.
    """
    inferred = _infer_dtype(data)
    wide = {dtypes.BOOL: np.bool_, dtypes.INTEGER: np.int64, dtypes.FLOATING: np.float64}
    read_as = (
        inferred.numpy if isinstance(data, (np.ndarray, np.generic)) else wide[inferred.category]
    )
    try:
        array = np.array(_host_data(data), dtype=read_as)
    except (ValueError, TypeError) as error:
        reason = _shape_mismatch(data) or str(error)
        raise ValueError(f"tensor(): {reason}") from None
    if read_as is not inferred.numpy and dtype.category == dtypes.INTEGER and array.size:
        _check_integer_range(array, dtype)
    return array.astype(dtype.numpy, copy=array.dtype != dtype.numpy or not array.flags.owndata)


def _check_integer_range(array: np.ndarray, dtype: dtypes.DType) -> None:
    """Python numbers must fit the integer dtype they are stored in (arrays wrap, as in torch)."""
    info = np.iinfo(dtype.numpy)
    # Unsigned types also take negatives down to -max, which wrap (-1 is 255 as uint8).
    floor = info.min if info.min < 0 else -info.max
    low, high = array.min(), array.max()
    if low < floor or high > info.max:
        bad = low if low < floor else high
        raise RuntimeError(
            f"tensor(): value {bad} cannot be converted to type {dtype.name} "
            f"without overflow (the range is [{floor}, {info.max}])"
        )


def _array_like(data):
    """Objects that NumPy can view (__array__, the buffer protocol) as an ndarray; the rest as
    they are."""
    if isinstance(data, (Tensor, np.ndarray, list, tuple, *_SCALARS)):
        return data
    if (
        hasattr(data, "__array__")
        or hasattr(data, "__array_interface__")
        or isinstance(data, memoryview)
    ):
        return np.asarray(data)
    return data


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """A new tensor holding a copy of `data` (nested lists, scalars, arrays or tensors).

    >>> tensor([[1, 2], [3, 4.5]]).dtype
    qilin.float32
    """
    if isinstance(data, str):
        raise TypeError("tensor(): invalid data type 'str'")
    data = _array_like(data)
    dtype = dtypes.to_dtype(dtype) if dtype is not None else _infer_dtype(data)
    array = _build_array(data, dtype)
    if device is None and isinstance(data, Tensor):
        device = data.device
    return finish(array, dtype, device, requires_grad)


def scalar_tensor(value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 0-d tensor of the default float dtype (or `dtype`), as torch.scalar_tensor."""
    return tensor(value, dtype=_dtype_or_default(dtype), device=device, requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like `tensor`, but shares memory with a tensor or NumPy array when no conversion is
    needed."""
    return asarray(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False) -> Tensor:
    """Convert `obj` to a tensor, sharing memory when possible (copy=None), always copying
    (copy=True), or raising if a copy would be needed (copy=False)."""
    dtype = dtypes.to_dtype(dtype) if dtype is not None else None
    target = resolve(device) if device is not None else None
    shared = None
    obj = _array_like(obj)
    if isinstance(obj, Tensor):
        shared = obj
    elif isinstance(obj, np.ndarray) and obj.dtype in dtypes._BY_NUMPY:
        shared = from_numpy(obj)
    if shared is not None:
        same = (dtype is None or dtype is shared.dtype) and (
            target is None or target is shared.device
        )
        if same and not copy:
            result = shared
        elif not same and copy is False:
            raise ValueError(
                f"asarray(): copy=False, but converting {shared.dtype} on "
                f"{shared.device} to {dtype or shared.dtype} on "
                f"{target or shared.device} needs a copy"
            )
        else:
            result = shared.to(device=target, dtype=dtype, copy=bool(copy) or same)
    else:
        if copy is False and not isinstance(obj, np.generic):
            raise ValueError(
                f"asarray(): copy=False, but a {type(obj).__name__} must be copied "
                "into a new tensor"
            )
        result = tensor(obj, dtype=dtype, device=target)
    if requires_grad:
        result = result.detach() if result is obj else result
        result.requires_grad_(True)
    return result


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with `array`: writes to either are seen by the other."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    if array.dtype not in dtypes._BY_NUMPY:
        supported = ", ".join(d.name for d in reversed(dtypes.ALL))
        raise TypeError(
            f"can't convert np.ndarray of type {array.dtype}. The only supported "
            f"types are: {supported}."
        )
    if not array.flags.writeable:
        warnings.warn(
            "The given NumPy array is not writable; qilin does not copy it, so "
            "in-place writes to the tensor will fail. Copy the array first, or make it "
            "writable.",
            UserWarning,
            stacklevel=2,
        )
    return _wrap(array, CPU)


# ----- filled tensors --------------------------------------------------------------------------
def _filled(shape: tuple, fill, dtype: dtypes.DType, device, requires_grad: bool) -> Tensor:
    device = resolve(device)
    xp = device.backend.xp
    array = xp.empty(shape, dtype=dtype.numpy)
    if fill is not None:
        # Through an array so out-of-range ints wrap (full_like(uint8, -1) is 255 in torch).
        array[...] = (
            np.asarray(fill) if isinstance(fill, int) and not isinstance(fill, bool) else fill
        )
    result = _wrap(array, device)
    if requires_grad:
        result.requires_grad_(True)
    return result


def zeros(
    *size,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
    **kwargs,
) -> Tensor:
    shape = factory_size(size, kwargs, "zeros")
    return write_out(_filled(shape, 0, _dtype_or_default(dtype), device, requires_grad), out)


def ones(
    *size,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
    **kwargs,
) -> Tensor:
    shape = factory_size(size, kwargs, "ones")
    return write_out(_filled(shape, 1, _dtype_or_default(dtype), device, requires_grad), out)


def empty(
    *size,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
    memory_format=None,
    **kwargs,
) -> Tensor:
    shape = factory_size(size, kwargs, "empty")
    return write_out(_filled(shape, None, _dtype_or_default(dtype), device, requires_grad), out)


def empty_strided(
    size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False
) -> Tensor:
    """An uninitialised contiguous tensor of `size` (qilin ignores the requested strides)."""
    return empty(tuple(size), dtype=dtype, device=device, requires_grad=requires_grad)


def _fill_dtype(fill_value) -> dtypes.DType:
    """full()'s dtype from the fill value's category: bool, int64 or the default float."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if isinstance(fill_value, (bool, np.bool_)):
        return dtypes.bool
    if isinstance(fill_value, (int, np.integer)):
        return dtypes.int64
    if isinstance(fill_value, (float, np.floating)):
        return dtypes.get_default_dtype()
    raise TypeError(f"full(): fill_value must be a number, got {type(fill_value).__name__}")


def full(
    size,
    fill_value,
    *,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
) -> Tensor:
    """A tensor of `size` filled with `fill_value`; the dtype follows the value (True -> bool,
    3 -> int64, 3.0 -> the default float) unless given."""
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full(): argument 'size' must be tuple of ints, not {type(size).__name__}")
    dtype = dtypes.to_dtype(dtype) if dtype is not None else _fill_dtype(fill_value)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    shape = size_from_args((size,), None, "full")
    return write_out(_filled(shape, fill_value, dtype, device, requires_grad), out)


def _like(input: Tensor, dtype, device):
    if not isinstance(input, Tensor):
        raise TypeError(f"expected a Tensor as input, got {type(input).__name__}")
    return (
        tuple(input.shape),
        dtypes.to_dtype(dtype) if dtype is not None else input.dtype,
        device if device is not None else input.device,
    )


def zeros_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
) -> Tensor:
    shape, dtype, device = _like(input, dtype, device)
    return _filled(shape, 0, dtype, device, requires_grad)


def ones_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
) -> Tensor:
    shape, dtype, device = _like(input, dtype, device)
    return _filled(shape, 1, dtype, device, requires_grad)


def empty_like(
    input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None
) -> Tensor:
    shape, dtype, device = _like(input, dtype, device)
    return _filled(shape, None, dtype, device, requires_grad)


def full_like(
    input,
    fill_value,
    *,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    memory_format=None,
) -> Tensor:
    shape, dtype, device = _like(input, dtype, device)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _filled(shape, fill_value, dtype, device, requires_grad)


# ----- ranges ----------------------------------------------------------------------------------
def _number(value, name: str):
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise RuntimeError(
                f"{name}: expected a number or a one-element tensor, got a tensor "
                f"of shape {list(value.shape)}"
            )
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    return value.item() if isinstance(value, np.generic) else value


def arange(
    start, end=None, step=1, *, out=None, dtype=None, layout=None, device=None, requires_grad=False
) -> Tensor:
    """Values from `start` up to (not including) `end` by `step`.

    Integer dtypes truncate start, end and step to integers first; float dtypes count
    ceil((end - start) / step) elements computed in float64, as torch does.
    """
    if end is None:
        start, end = 0, start
    start, end, step = (_number(v, "arange") for v in (start, end, step))
    if dtype is None:
        any_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = dtypes.get_default_dtype() if any_float else dtypes.int64
    dtype = dtypes.to_dtype(dtype)
    if not dtype.is_floating_point:
        start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"arange: unsupported range: {start} -> {end}")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError(
            f"arange: upper bound and lower bound inconsistent with step sign "
            f"(start={start}, end={end}, step={step})"
        )
    count = math.ceil((float(end) - float(start)) / float(step))
    if dtype.is_floating_point:  # values accumulate in float64 and are cast once
        array = start + np.arange(count, dtype=np.float64) * step
    else:
        array = start + np.arange(count, dtype=np.int64) * step
    return write_out(finish(array, dtype, device, requires_grad), out)


def range(
    start=0,
    end=None,
    step=1,
    *,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
) -> Tensor:
    """Deprecated torch.range: like arange, but `end` is included."""
    warnings.warn(
        "qilin.range is deprecated and will be removed in a future release because "
        "its behavior is inconsistent with Python's range builtin. Instead, use "
        "qilin.arange, which produces values in [start, end).",
        UserWarning,
        stacklevel=2,
    )
    if end is None:
        start, end = 0, start
    start, end, step = (_number(v, "range") for v in (start, end, step))
    if step == 0:
        raise RuntimeError("range: step must be nonzero")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError(
            f"range: upper bound and lower bound inconsistent with step sign "
            f"(start={start}, end={end}, step={step})"
        )
    count = int(math.floor((end - start) / step)) + 1
    array = start + np.arange(count, dtype=np.float64) * step
    return write_out(finish(array, _dtype_or_default(dtype), device, requires_grad), out)


def _steps(steps, name: str) -> int:
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"{name}(): argument 'steps' must be int, not {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError(f"{name}(): number of steps must be non-negative, got {steps}")
    return int(steps)


def _symmetric_linspace(start: float, end: float, steps: int) -> np.ndarray:
    """torch's linspace: the first half counts up from start, the second half down from end,
    so both endpoints are exact."""
    if steps == 1:
        return np.array([start], dtype=np.float64)
    step = (end - start) / (steps - 1)
    index = np.arange(steps, dtype=np.float64)
    halfway = steps // 2
    return np.where(index < halfway, start + step * index, end - step * (steps - 1 - index))


def linspace(
    start, end, steps, *, out=None, dtype=None, layout=None, device=None, requires_grad=False
) -> Tensor:
    """`steps` values evenly spaced from `start` to `end`, both included."""
    start, end = _number(start, "linspace"), _number(end, "linspace")
    array = _symmetric_linspace(float(start), float(end), _steps(steps, "linspace"))
    return write_out(finish(array, _dtype_or_default(dtype), device, requires_grad), out)


def logspace(
    start,
    end,
    steps,
    base=10.0,
    *,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
) -> Tensor:
    """`steps` values base ** linspace(start, end, steps)."""
    start, end = _number(start, "logspace"), _number(end, "logspace")
    exponents = _symmetric_linspace(float(start), float(end), _steps(steps, "logspace"))
    array = np.power(float(base), exponents)
    return write_out(finish(array, _dtype_or_default(dtype), device, requires_grad), out)


def eye(
    n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False
) -> Tensor:
    """An n x m matrix with ones on the diagonal."""
    for name, value in (("n", n), ("m", m)):
        if value is not None and value < 0:
            raise RuntimeError(f"eye(): {name} must be greater or equal to 0, got {value}")
    array = np.eye(int(n), int(m) if m is not None else int(n), dtype=np.float64)
    return write_out(finish(array, _dtype_or_default(dtype), device, requires_grad), out)


def _triangle_indices(row: int, col: int, offset: int, lower: bool, dtype, device) -> Tensor:
    rows, cols = np.indices((row, col))
    keep = (cols - rows <= offset) if lower else (cols - rows >= offset)
    array = np.stack([rows[keep], cols[keep]]) if row and col else np.zeros((2, 0), np.int64)
    return finish(
        array, dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64, device, False
    )


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None) -> Tensor:
    """The (2, N) row and column indices of the lower triangle of a row x col matrix."""
    return _triangle_indices(row, col, offset, True, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None) -> Tensor:
    """The (2, N) row and column indices of the upper triangle of a row x col matrix."""
    return _triangle_indices(row, col, offset, False, dtype, device)


def legacy_tensor(*args, device=None) -> Tensor:
    """`qilin.Tensor(...)`, torch's legacy constructor: Tensor(2, 3) and Tensor(Size) are
    uninitialised default-float tensors, Tensor(sequence) converts to the default float dtype,
    and Tensor(tensor) is an alias of that tensor."""
    if not args:
        return empty(0, device=device)
    if len(args) == 1 and isinstance(args[0], Tensor):
        return args[0].detach()
    if len(args) == 1 and isinstance(args[0], Size):
        return empty(tuple(args[0]), device=device)
    if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
        return empty(*args, device=device)
    if len(args) == 1 and isinstance(args[0], (list, tuple, np.ndarray)):
        return tensor(args[0], dtype=dtypes.get_default_dtype(), device=device)
    if len(args) == 1:
        raise TypeError(f"Tensor(): data must be a sequence (got {type(args[0]).__name__})")
    raise TypeError(
        f"Tensor(): expected sizes as ints or one sequence of data, got "
        f"({', '.join(type(a).__name__ for a in args)})"
    )
