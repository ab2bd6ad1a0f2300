"""Sorting and searching: sort, argsort, topk, kthvalue, median, mode, unique, searchsorted,
bucketize, bincount, histc.

The selecting ops (sort, topk, kthvalue, median and mode along a dim) are written as an index
primitive plus `gather`: the primitive finds *which* elements are picked (no gradient), gather
takes their values, and gather's vjp scatters the gradient back to the picked positions — the
same rule torch uses, with higher-order gradients for free.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..tensor import Tensor, _normalize_dim
from .families import define
from .indexing import gather
from .reduction import values_at
from .registry import Spec

__all__ = [
    "sort",
    "argsort",
    "msort",
    "topk",
    "kthvalue",
    "median",
    "nanmedian",
    "mode",
    "unique",
    "unique_consecutive",
    "searchsorted",
    "bucketize",
    "bincount",
    "histc",
]


# ----- index primitives ----------------------------------------------------------------------
def _argsort_kernel(xp, x, dim, descending):
    """Stable: equal elements keep their order (NaN sorts as the largest value, as in torch)."""
    if x.ndim == 0:
        return xp.zeros((), dtype=np.int64)
    if not descending:
        return xp.argsort(x, axis=dim, kind="stable").astype(np.int64, copy=False)
    # Sorting the reversed slice ascending and reading the result backwards is a stable
    # descending sort that needs no negation (which would break NaN, bool and unsigned).
    order = xp.argsort(xp.flip(x, axis=dim), axis=dim, kind="stable")
    return xp.flip(x.shape[dim] - 1 - order, axis=dim).astype(np.int64, copy=False)


ARGSORT = define(
    "argsort",
    meta=lambda x, dim, descending: Spec(x.shape, dtypes.int64),
    kernel=_argsort_kernel,
    vjp=None,
    family="library",
    differentiable=False,
    doc="Stable argsort along `dim`; sort, topk and kthvalue gather through it.",
)


def _mode_kernel(xp, x, dim):
    """Index (keepdim) of the most frequent value; the smallest such value wins, and the index
    is its last occurrence, as in torch."""
    if x.ndim == 0:
        return xp.zeros((), dtype=np.int64)
    order = xp.argsort(x, axis=dim, kind="stable")
    values = xp.take_along_axis(x, order, axis=dim)
    size = x.shape[dim]
    positions = xp.arange(size).reshape((-1,) + (1,) * (x.ndim - 1 - dim))
    starts = xp.ones(values.shape, dtype=bool)
    inner = [slice(None)] * x.ndim
    inner[dim] = slice(1, None)
    previous = [slice(None)] * x.ndim
    previous[dim] = slice(None, -1)
    starts[tuple(inner)] = values[tuple(inner)] != values[tuple(previous)]
    # Each position's run length so far; a run's full length is reached at its last element,
    # which (the sort being stable) is the last occurrence of that value in the input.
    run_start = xp.maximum.accumulate(xp.where(starts, positions, 0), axis=dim)
    lengths = positions - run_start + 1
    best = xp.expand_dims(xp.argmax(lengths, axis=dim), dim)
    return xp.take_along_axis(order, best, axis=dim).astype(np.int64, copy=False)


def _mode_meta(x, dim):
    return Spec(
        tuple(1 if axis == dim else size for axis, size in enumerate(x.shape)), dtypes.int64
    )


MODE = define(
    "mode",
    meta=_mode_meta,
    kernel=_mode_kernel,
    vjp=None,
    family="library",
    differentiable=False,
    doc="Index of the mode along `dim` (keepdim shape).",
)


# ----- global median: a value whose gradient is shared among ties -----------------------------
def _median_kernel(xp, x, ignore_nan):
    flat = x.reshape(-1)
    if ignore_nan and flat.dtype.kind == "f":
        flat = flat[~xp.isnan(flat)]
    if flat.size == 0:
        return xp.asarray(np.nan, dtype=x.dtype)
    if flat.dtype.kind == "f" and not ignore_nan and bool(xp.isnan(flat).any()):
        return xp.asarray(np.nan, dtype=x.dtype)
    return xp.sort(flat)[(flat.size - 1) // 2]


def _median_vjp(node, g):
    # torch spreads the gradient evenly over the elements equal to the median.
    (x,), out = node.inputs, node.out
    mask = (x == out).to(g.dtype)
    return (g * mask / mask.sum(),)


MEDIAN = define(
    "median",
    meta=lambda x, ignore_nan: Spec((), x.dtype),
    kernel=_median_kernel,
    vjp=_median_vjp,
    family="library",
    save_outputs=True,
    doc="The lower median of all elements (NaN-ignoring with ignore_nan).",
)


# ----- unique --------------------------------------------------------------------------------
def _unique_kernel(xp, x, dim):
    """(sorted unique values, inverse, counts); with `dim`, unique slices along it."""
    values, inverse, counts = xp.unique(x, return_inverse=True, return_counts=True, axis=dim)
    inverse = inverse.reshape(x.shape if dim is None else (x.shape[dim],))
    return values, inverse.astype(np.int64, copy=False), counts.astype(np.int64, copy=False)


def _unique_meta(x, dim):
    if dim is None:
        shapes = ((-1,), x.shape, (-1,))
    else:
        shapes = (
            tuple(-1 if axis == dim else s for axis, s in enumerate(x.shape)),
            (x.shape[dim],),
            (-1,),
        )
    return (Spec(shapes[0], x.dtype), Spec(shapes[1], dtypes.int64), Spec(shapes[2], dtypes.int64))


UNIQUE = define(
    "unique",
    meta=_unique_meta,
    kernel=_unique_kernel,
    vjp=None,
    family="library",
    num_outputs=3,
    differentiable=False,
)


def _unique_consecutive_kernel(xp, x, dim):
    source = x.reshape(-1) if dim is None else xp.moveaxis(x, dim, 0)
    size = source.shape[0]
    rows = source.reshape(size, int(np.prod(source.shape[1:])))
    starts = xp.ones(size, dtype=bool)
    if size > 1:
        starts[1:] = (rows[1:] != rows[:-1]).any(axis=1) if rows.shape[1] else False
    first = xp.nonzero(starts)[0]
    values = xp.moveaxis(source[first], 0, 0 if dim is None else dim)
    inverse = (xp.cumsum(starts) - 1).reshape(x.shape if dim is None else (size,))
    counts = xp.diff(xp.append(first, size))
    return values, inverse.astype(np.int64), counts.astype(np.int64)


UNIQUE_CONSECUTIVE = define(
    "unique_consecutive",
    meta=_unique_meta,
    kernel=_unique_consecutive_kernel,
    vjp=None,
    family="library",
    num_outputs=3,
    differentiable=False,
)


# ----- searching and counting ----------------------------------------------------------------
def _searchsorted_kernel(xp, sequence, values, right, out_int32):
    side = "right" if right else "left"
    dtype = np.int32 if out_int32 else np.int64
    if sequence.ndim == 1:
        return xp.asarray(xp.searchsorted(sequence, values, side=side), dtype=dtype)
    # Batched: row i of `values` searches row i of `sequence` (NumPy's searchsorted is 1-D).
    rows = sequence.reshape(-1, sequence.shape[-1])
    queries = values.reshape(rows.shape[0], -1)
    out = xp.empty(queries.shape, dtype=dtype)
    for row in range(rows.shape[0]):
        out[row] = xp.searchsorted(rows[row], queries[row], side=side)
    return out.reshape(values.shape)


def _searchsorted_meta(sequence, values, right, out_int32):
    values_shape = values.shape if isinstance(values, Spec) else ()
    if len(sequence.shape) != 1 and (tuple(sequence.shape[:-1]) != tuple(values_shape[:-1])):
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
            "dimensions of boundaries tensor and input value tensor must match, but we got "
            f"boundaries tensor {list(sequence.shape)} and input value tensor "
            f"{list(values_shape)}"
        )
    return Spec(tuple(values_shape), dtypes.int32 if out_int32 else dtypes.int64)


SEARCHSORTED = define(
    "searchsorted",
    meta=_searchsorted_meta,
    kernel=_searchsorted_kernel,
    vjp=None,
    family="library",
    differentiable=False,
    eager_check=True,
)


def _bincount_kernel(xp, x, weights, minlength):
    if x.size and int(x.min()) < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    length = max(int(x.max()) + 1 if x.size else 0, minlength)
    if weights is None:
        return xp.bincount(x, minlength=length).astype(np.int64, copy=False)
    out_dtype = weights.dtype if weights.dtype in (np.float32, np.float64) else np.float64
    return xp.bincount(x, weights=weights, minlength=length).astype(out_dtype, copy=False)


def _bincount_meta(x, weights, minlength):
    if len(x.shape) != 1 or x.dtype.category != dtypes.INTEGER:
        raise RuntimeError(
            "bincount only supports 1-d non-negative integral inputs, got a "
            f"{len(x.shape)}-d {x.dtype.name} tensor"
        )
    if weights is not None and tuple(weights.shape) != tuple(x.shape):
        raise RuntimeError(
            f"bincount: weights should be 1-d and have the same length as input, got weights "
            f"of shape {list(weights.shape)} for input of shape {list(x.shape)}"
        )
    if minlength < 0:
        raise RuntimeError(f"bincount: minlength should be >= 0, got {minlength}")
    if weights is None:
        return Spec((-1,), dtypes.int64)
    kept = weights.dtype in (dtypes.float32, dtypes.float64)
    return Spec((-1,), weights.dtype if kept else dtypes.float64)


def _bincount_vjp(node, g):
    # Each weight was added into bin input[i]: its gradient is that bin's gradient.
    x = node.inputs[0]
    return (None, gather(g, 0, x))


BINCOUNT = define(
    "bincount",
    meta=_bincount_meta,
    kernel=_bincount_kernel,
    vjp=_bincount_vjp,
    family="library",
    eager_check=True,
)


def _histc_range(xp, x, low, high):
    if low == high and x.size:
        low, high = float(x.min()), float(x.max())
    if low == high:  # torch widens an empty range by one on each side
        low, high = low - 1, high + 1
    return low, high


def _histc_kernel(xp, x, bins, low, high):
    low, high = _histc_range(xp, x, low, high)
    flat = x.reshape(-1)
    keep = (flat >= low) & (flat <= high)
    flat = flat[keep]
    position = ((flat - low) * bins / (high - low)).astype(np.int64)
    position = xp.minimum(position, bins - 1)  # the right edge belongs to the last bin
    return xp.bincount(position, minlength=bins)[:bins].astype(x.dtype)


def _histc_meta(x, bins, low, high):
    if not x.dtype.is_floating_point:
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{x.dtype.name}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins}")
    if low > high:
        raise RuntimeError(f"torch.histc: max must be larger than min, got min={low}, max={high}")
    return Spec((bins,), x.dtype)


HISTC = define(
    "histc",
    meta=_histc_meta,
    kernel=_histc_kernel,
    vjp=None,
    family="library",
    differentiable=False,
    eager_check=True,
)


# ----- public functions ----------------------------------------------------------------------
def argsort(input, dim=-1, descending=False, stable=False):
    """Indices that sort `input` along `dim`; always stable (a valid choice for stable=False)."""
    return ARGSORT(
        input, dim=_normalize_dim(dim, input.ndim, "argsort"), descending=bool(descending)
    )


def sort(input, dim=-1, descending=False, stable=False):
    dim = _normalize_dim(dim, input.ndim, "sort")
    indices = ARGSORT(input, dim=dim, descending=bool(descending))
    return values_at("sort", input, dim, indices, keepdim=True)


def msort(input):
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The k largest (or smallest) elements along `dim`, in sorted order."""
    dim = _normalize_dim(dim, input.ndim, "topk")
    size = input.shape[dim] if input.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(
            f"topk: selected index k out of range (k={k} for a dimension of size {size})"
        )
    indices = ARGSORT(input, dim=dim, descending=bool(largest))
    if input.ndim:
        indices = indices.narrow(dim, 0, k)
    return values_at("topk", input, dim, indices, keepdim=True)


def kthvalue(input, k, dim=-1, keepdim=False):
    """The k-th smallest element (1-based) along `dim`, and its index."""
    dim = _normalize_dim(dim, input.ndim, "kthvalue")
    size = input.shape[dim] if input.ndim else 1
    if not 1 <= k <= size:
        raise RuntimeError(
            f"kthvalue(): selected number k out of range for dimension {dim} (k={k}, size {size})"
        )
    indices = ARGSORT(input, dim=dim, descending=False)
    if input.ndim:
        indices = indices.narrow(dim, k - 1, 1)
    return values_at("kthvalue", input, dim, indices, keepdim)


def median(input, dim=None, keepdim=False):
    """The lower median; NaN if the values hold a NaN. With `dim`: (values, indices)."""
    if dim is None:
        return MEDIAN(input, ignore_nan=False)
    return _median_along(input, dim, keepdim, ignore_nan=False)


def nanmedian(input, dim=None, keepdim=False):
    """median ignoring NaN (NaN only where a slice holds nothing else)."""
    if dim is None:
        return MEDIAN(input, ignore_nan=True)
    return _median_along(input, dim, keepdim, ignore_nan=True)


def mode(input, dim=-1, keepdim=False):
    dim = _normalize_dim(dim, input.ndim, "mode")
    return values_at("mode", input, dim, MODE(input, dim=dim), keepdim)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """Sorted unique values (or unique slices along `dim`), optionally with the inverse
    indices and the counts. The result is always sorted (a valid choice for sorted=False)."""
    axis = None if dim is None else _normalize_dim(dim, input.ndim, "unique")
    values, inverse, counts = UNIQUE(input, dim=axis)
    return _unique_result(values, inverse, counts, return_inverse, return_counts)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    axis = None if dim is None else _normalize_dim(dim, input.ndim, "unique_consecutive")
    values, inverse, counts = UNIQUE_CONSECUTIVE(input, dim=axis)
    return _unique_result(values, inverse, counts, return_inverse, return_counts)


def searchsorted(
    sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None, out=None
):
    """Where each value would be inserted into the sorted last dim of `sorted_sequence`."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(
                f"torch.searchsorted(): side can only be 'left' or 'right' but got {side!r}"
            )
        if right and side == "left":
            raise RuntimeError(
                "torch.searchsorted(): side and right can't be set to opposites, "
                "got side of left while right was True"
            )
        right = side == "right"
    if sorter is not None:
        sorted_sequence = gather(sorted_sequence, -1, sorter)
    return SEARCHSORTED(
        sorted_sequence,
        _as_values(input, sorted_sequence),
        right=bool(right),
        out_int32=bool(out_int32),
    )


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """The bucket of each value: boundaries[i-1] < x <= boundaries[i] (right=False)."""
    if boundaries.ndim != 1:
        raise RuntimeError(
            f"bucketize: boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})"
        )
    return SEARCHSORTED(
        boundaries, _as_values(input, boundaries), right=bool(right), out_int32=bool(out_int32)
    )


def bincount(input, weights=None, minlength=0):
    return BINCOUNT(input, weights, minlength=int(minlength))


def histc(input, bins=100, min=0, max=0, *, out=None):
    """Histogram with `bins` equal bins over [min, max] (the data's range when min == max);
    values outside are ignored."""
    return HISTC(input, bins=int(bins), low=float(min), high=float(max))


# ----- helpers -------------------------------------------------------------------------------
def _median_along(input, dim, keepdim, ignore_nan):
    from .elementwise import isnan, where
    from .reduction import any, argmax, sum

    name = "nanmedian" if ignore_nan else "median"
    dim = _normalize_dim(dim, input.ndim, name)
    if input.ndim and input.shape[dim] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
    order = ARGSORT(input, dim=dim, descending=False)  # NaN sorts last
    if input.ndim == 0:
        return values_at(name, input, dim, order, keepdim)
    missing = isnan(input)
    if ignore_nan:
        # The lower middle of the non-NaN values (index 0 when a slice is all NaN).
        count = sum(~missing, dim, keepdim=True)
        position = ((count - 1) // 2).clamp(min=0)
        return values_at(name, input, dim, gather(order, dim, position), keepdim)
    middle = order.narrow(dim, (input.shape[dim] - 1) // 2, 1)
    # A slice holding NaN has median NaN, at its first NaN, as in torch.
    first_nan = argmax(missing.to(dtypes.uint8), dim, keepdim=True)
    indices = where(any(missing, dim, keepdim=True), first_nan, middle)
    return values_at(name, input, dim, indices, keepdim)


def _unique_result(values, inverse, counts, return_inverse, return_counts):
    if not return_inverse and not return_counts:
        return values
    return (values,) + ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())


def _as_values(value, like):
    """searchsorted/bucketize accept a Python number: it becomes a 0-d tensor."""
    if isinstance(value, Tensor):
        return value
    from .creation import tensor

    return tensor(value, device=like.device)
