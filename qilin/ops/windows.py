"""Sliding windows as a view: `Tensor.unfold(dimension, size, step)`.

`x.unfold(d, size, step)` replaces dim d (length n) with (n - size) // step + 1 window starts
and appends a trailing dim of `size`: a strided view of x's memory, no copy, as in torch. The
windows may overlap (step < size), so the backward, `unfold_backward`, sums every window's
gradient back onto the positions it covers; the two are each other's vjp.

(`nn.functional.unfold`, the im2col of convolution, is a different op: ops/convolution.py.)
"""

from __future__ import annotations

import numpy as np

from ..tensor import _normalize_dim
from .families import define
from .registry import Spec

__all__: list = []  # a Tensor method only (torch has no top-level torch.unfold)


def _window_count(length: int, size: int, step: int) -> int:
    return (length - size) // step + 1


def _unfold_meta(x, dimension, size, step):
    length = x.shape[dimension]
    if size > length:
        raise RuntimeError(
            f"maximum size for tensor at dimension {dimension} is {length} but size is {size}"
        )
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    shape = list(x.shape)
    shape[dimension] = _window_count(length, size, step)
    return Spec(tuple(shape) + (size,), x.dtype)


def _unfold_kernel(xp, x, dimension, size, step):
    shape = list(x.shape)
    strides = list(x.strides)
    shape[dimension] = _window_count(shape[dimension], size, step)
    # (..., window start, ..., position in window): a window start moves `step` elements on.
    inner = strides[dimension]
    strides[dimension] = inner * step
    return _strided_view(xp, x, tuple(shape) + (size,), tuple(strides) + (inner,))


def _strided_view(xp, x, shape: tuple, strides: tuple):
    """A view of x's memory with the given layout. On NumPy it is made over the array that owns
    the memory, so that `.base` leads there (storage_offset and storage identity walk it);
    NumPy's as_strided would put a stand-in object in between."""
    if xp is np:
        owner = x
        while isinstance(owner.base, np.ndarray):
            owner = owner.base
        start = x.__array_interface__["data"][0] - owner.__array_interface__["data"][0]
        try:
            view = np.ndarray(shape, x.dtype, buffer=owner, offset=start, strides=strides)
        except (TypeError, ValueError):  # an owner that exports no single buffer
            return np.lib.stride_tricks.as_strided(x, shape, strides)
        view.flags.writeable = x.flags.writeable
        return view
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def _unfold_vjp(node, g):
    attrs = node.attrs
    return (
        UNFOLD_BACKWARD(
            g,
            shape=tuple(node.input_meta[0][0]),
            dimension=attrs["dimension"],
            size=attrs["size"],
            step=attrs["step"],
        ),
    )


UNFOLD = define(
    "unfold",
    meta=_unfold_meta,
    kernel=_unfold_kernel,
    vjp=_unfold_vjp,
    family="movement",
    save_inputs=False,
    view=True,
    eager_check=True,  # as_strided would happily read past the end of a too-short dim
    doc="x.unfold(d, size, step): windows of `size` along d, `step` apart, as a view.",
)


def _unfold_backward_meta(g, shape, dimension, size, step):
    expected = list(shape)
    expected[dimension] = _window_count(shape[dimension], size, step)
    expected = tuple(expected) + (size,)
    if tuple(g.shape) != expected:
        raise RuntimeError(
            f"unfold_backward: expected a gradient of shape {list(expected)} for windows of "
            f"size {size}, step {step} along dim {dimension} of shape {list(shape)}, but got "
            f"{list(g.shape)}"
        )
    return Spec(tuple(shape), g.dtype)


def _unfold_backward_kernel(xp, g, shape, dimension, size, step):
    out = xp.zeros(shape, dtype=g.dtype)
    count = g.shape[dimension]
    lead = (slice(None),) * dimension
    # Position k of every window lands on elements k, k + step, ...: one strided add per k,
    # so overlapping windows accumulate.
    for k in range(size):
        out[lead + (slice(k, k + step * (count - 1) + 1, step),)] += g[..., k]
    return out


UNFOLD_BACKWARD = define(
    "unfold_backward",
    meta=_unfold_backward_meta,
    kernel=_unfold_backward_kernel,
    vjp=lambda node, g: (
        UNFOLD(
            g,
            dimension=node.attrs["dimension"],
            size=node.attrs["size"],
            step=node.attrs["step"],
        ),
    ),
    family="movement",
    save_inputs=False,
    eager_check=True,
)


def unfold(input, dimension, size, step):
    """A view of the windows of `size` elements, `step` apart, along `dimension`."""
    size, step = int(size), int(step)
    if input.ndim == 0:
        # torch treats a 0-d tensor as one element along dim 0 (or -1): shape (size,)
        _normalize_dim(dimension, 1, "unfold")
        from .movement import VIEW

        windows = UNFOLD(VIEW(input, shape=(1,)), dimension=0, size=size, step=step)
        return VIEW(windows, shape=(size,))
    dimension = _normalize_dim(dimension, input.ndim, "unfold")
    return UNFOLD(input, dimension=dimension, size=size, step=step)
