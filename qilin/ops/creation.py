"""Tensor factories: tensor, as_tensor, from_numpy, zeros/ones/full/empty (+ _like), arange,
linspace, logspace, eye. Random factories live in `qilin.random`."""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..autograd import grad_mode
from ..device import CPU, Device
from ..tensor import Tensor, _wrap

__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "full", "empty",
           "zeros_like", "ones_like", "full_like", "empty_like", "arange", "range", "linspace",
           "logspace", "eye", "scalar_tensor", "empty_strided"]

_builtin_range = range


def _device(device) -> Device:
    return CPU if device is None else Device(device)


def _infer_dtype(data) -> dtypes.DType:
    """torch.tensor's inference: bool < int64 < default float over nested Python data."""
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, np.ndarray):
        return dtypes.from_numpy(data.dtype)
    if isinstance(data, np.generic):
        return dtypes.from_numpy(data.dtype)
    if isinstance(data, bool):
        return dtypes.bool
    if isinstance(data, int):
        return dtypes.int64
    if isinstance(data, float):
        return dtypes.get_default_dtype()
    if isinstance(data, (list, tuple)):
        found = None
        for item in data:
            dtype = _infer_dtype(item)
            found = dtype if found is None else dtypes.promote_types(found, dtype)
        return found if found is not None else dtypes.get_default_dtype()
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _to_array(data):
    if isinstance(data, Tensor):
        return data._host()
    if isinstance(data, (list, tuple)) and any(isinstance(item, (Tensor, list, tuple)) for item in data):
        return [_to_array(item) for item in data]
    return data


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """A new tensor holding a copy of `data` (nested lists, scalars, arrays or tensors)."""
    dtype = dtypes.to_dtype(dtype) if dtype is not None else _infer_dtype(data)
    try:
        array = np.array(_to_array(data), dtype=dtype.numpy)
    except ValueError as error:
        raise ValueError(f"tensor(): could not build a tensor from the data given: {error}") from None
    device = _device(device if device is not None else (data.device if isinstance(data, Tensor)
                                                        else None))
    result = _wrap(array if device is CPU else device.backend.from_host(array), device)
    if requires_grad:
        result.requires_grad_(True)
    return result


def scalar_tensor(value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return tensor(value, dtype=dtype or dtypes.get_default_dtype(), device=device,
                  requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like `tensor`, but shares memory with a tensor or NumPy array when no conversion is needed."""
    if isinstance(data, Tensor):
        result = data
        if dtype is not None or device is not None:
            result = data.to(device=device, dtype=dtype)
        return result
    if isinstance(data, np.ndarray) and device in (None, "cpu", CPU) and (
            dtype is None or dtypes.to_dtype(dtype).numpy == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array`."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    dtypes.from_numpy(array.dtype)  # raises a clear error for unsupported dtypes
    return _wrap(array, CPU)


def _shape_of(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    shape = tuple(int(s) for s in size)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(shape)}")
    return shape


def _filled(shape, fill, dtype, device, requires_grad) -> Tensor:
    dtype = dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    device = _device(device)
    xp = device.backend.xp
    array = xp.full(shape, fill, dtype=dtype.numpy) if fill is not None else xp.empty(
        shape, dtype=dtype.numpy)
    result = _wrap(array, device)
    if requires_grad:
        result.requires_grad_(True)
    return result


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    return _filled(_shape_of(size), 0, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    return _filled(_shape_of(size), 1, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, memory_format=None,
          pin_memory=False) -> Tensor:
    return _filled(_shape_of(size), None, dtype, device, requires_grad)


def empty_strided(size, stride, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return empty(tuple(size), dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None:
        dtype = _infer_dtype(fill_value.item() if isinstance(fill_value, Tensor) else fill_value)
    return _filled(_shape_of((size,)), fill_value, dtype, device, requires_grad)


def _like(input, dtype, device):
    return (tuple(input.shape), dtype if dtype is not None else input.dtype,
            device if device is not None else input.device)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    shape, dtype, device = _like(input, dtype, device)
    return _filled(shape, 0, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    shape, dtype, device = _like(input, dtype, device)
    return _filled(shape, 1, dtype, device, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    shape, dtype, device = _like(input, dtype, device)
    return _filled(shape, None, dtype, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False,
              memory_format=None):
    shape, dtype, device = _like(input, dtype, device)
    return _filled(shape, fill_value, dtype, device, requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if values[2] == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        dtype = _infer_dtype(values)
    dtype = dtypes.to_dtype(dtype)
    count = max(0, math.ceil((values[1] - values[0]) / values[2]))
    # Computed in float64 (or int64) and cast, as torch does, so the count never drifts.
    array = values[0] + np.arange(count, dtype=np.float64 if dtype.is_floating_point else np.int64
                                  ) * values[2]
    return _finish(array, dtype, device, requires_grad)


def range(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Deprecated torch.range: like arange but includes `end`."""
    if end is None:
        start, end = 0, start
    count = int(math.floor((end - start) / step)) + 1
    array = start + np.arange(count, dtype=np.float64) * step
    return _finish(array, dtypes.to_dtype(dtype) if dtype else dtypes.get_default_dtype(), device,
                   requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype = dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    array = np.linspace(float(start), float(end), int(steps), dtype=np.float64)
    return _finish(array, dtype, device, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None,
             requires_grad=False) -> Tensor:
    dtype = dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    array = np.power(base, np.linspace(float(start), float(end), int(steps), dtype=np.float64))
    return _finish(array, dtype, device, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype = dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    return _finish(np.eye(n, m if m is not None else n), dtype, device, requires_grad)


def _finish(array, dtype, device, requires_grad) -> Tensor:
    device = _device(device)
    array = array.astype(dtype.numpy)
    result = _wrap(array if device is CPU else device.backend.from_host(array), device)
    if requires_grad:
        result.requires_grad_(True)
    return result


del grad_mode
