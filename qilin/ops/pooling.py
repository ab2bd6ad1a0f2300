"""Pooling primitives: max and average pooling over the 1, 2 or 3 trailing spatial dims, adaptive
max pooling, and the transpose of average pooling (its vjp).

Inputs are (*leading, *spatial): the spatial rank is len(kernel_size) (or len(output_size)) and
the leading dims are (C,) or (N, C), as torch allows. A window is read as one strided view of the
padded input per kernel offset, so the kernels loop over kernel offsets only and stay vectorised
over batch, channels and output positions.

Max pooling returns torch's indices: the flat position of each maximum in its input plane. Its
vjp scatters the gradient to those positions with `scatter_add`, whose own vjp is `gather`, so
gradients of any order follow. Average pooling is linear: its vjp is `avg_pool_backward` (the
transpose, spreading each gradient over its window), whose vjp is average pooling again.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .. import dtypes
from .families import define
from .registry import Spec

__all__: list[str] = []  # the user-facing functions live in qilin.nn.functional


# ----- shapes and argument checks --------------------------------------------------------------
def pool_output_size(size, kernel, stride, padding, dilation, ceil_mode) -> int:
    """Windows along one axis (torch's rule): with ceil_mode a partial last window counts, but
    only if it starts inside the input or the left padding."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    count = (span + stride - 1) // stride + 1
    if (count - 1) * stride >= size + padding:
        count -= 1
    return count


def adaptive_bounds(size: int, out: int) -> tuple:
    """torch's adaptive windows: window i covers [floor(i*size/out), ceil((i+1)*size/out))."""
    index = np.arange(out)
    return (index * size) // out, -((-(index + 1) * size) // out)


def _check_rank(name: str, x, nd: int) -> None:
    shape = tuple(x.shape)
    if len(shape) not in (nd + 1, nd + 2) or 0 in shape[-nd - 1 :]:
        raise RuntimeError(
            f"{name}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with optional 0 dim "
            f"batch size for input, but got: {list(shape)}"
        )
    if x.dtype is dtypes.bool:
        raise RuntimeError(f"\"{name}\" not implemented for 'Bool'")


def _window_output_shape(name, x, kernel_size, stride, padding, dilation, ceil_mode) -> tuple:
    nd = len(kernel_size)
    _check_rank(name, x, nd)
    for label, values in (("kernel_size", kernel_size), ("stride", stride)):
        if any(v <= 0 for v in values):
            raise RuntimeError(f"{name}: {label} should be greater than zero, but got {values}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{name}: dilation should be greater than zero, but got {dilation}")
    for pad, kernel, dilation_step in zip(padding, kernel_size, dilation):
        if pad < 0:
            raise RuntimeError(f"{name}: pad must be non-negative, but got pad={pad}")
        if pad > ((kernel - 1) * dilation_step + 1) // 2:
            raise RuntimeError(
                f"{name}: pad should be at most half of effective kernel size, but got pad={pad}, "
                f"kernel_size={kernel} and dilation={dilation_step}"
            )
    in_size = tuple(x.shape[-nd:])
    out_size = tuple(
        pool_output_size(n, k, s, p, d, ceil_mode)
        for n, k, s, p, d in zip(in_size, kernel_size, stride, padding, dilation)
    )
    if min(out_size) < 1:
        channels = tuple(x.shape[-nd - 1 : -nd])
        given = "x".join(map(str, channels + in_size))
        calculated = "x".join(map(str, channels + out_size))
        raise RuntimeError(
            f"{name}: Given input size: ({given}). Calculated output size: ({calculated}). "
            "Output size is too small"
        )
    return tuple(x.shape[:-nd]) + out_size


# ----- windows as strided views ------------------------------------------------------------------
def _padded(xp, x, padding, after, fill):
    """x with `padding` before and `after` elements of `fill` on each spatial axis (x itself
    when there is none)."""
    if not any(padding) and not any(after):
        return x
    nd = len(padding)
    lead = x.shape[:-nd]
    inner = x.shape[-nd:]
    out = xp.full(lead + tuple(n + p + a for n, p, a in zip(inner, padding, after)), fill, x.dtype)
    out[(Ellipsis, *(slice(p, p + n) for p, n in zip(padding, inner)))] = x
    return out


def _right_padding(in_size, out_size, kernel_size, stride, padding, dilation) -> tuple:
    """How far the last window reaches past the input and its left padding (ceil_mode windows
    may pass the right padding too; they read `fill` there)."""
    return tuple(
        max((o - 1) * s + (k - 1) * d + 1 - n - p, 0)
        for n, o, k, s, p, d in zip(in_size, out_size, kernel_size, stride, padding, dilation)
    )


def _window_keys(out_size, kernel_size, stride, dilation):
    """(offset, key) per kernel offset: padded[key][..., o] is the element at offset within the
    window of output position o."""
    for offset in itertools.product(*(range(k) for k in kernel_size)):
        key = tuple(
            slice(j * d, j * d + (o - 1) * s + 1, s)
            for j, o, s, d in zip(offset, out_size, stride, dilation)
        )
        yield offset, (Ellipsis, *key)


def _plane_strides(in_size) -> tuple:
    strides, step = [], 1
    for size in reversed(in_size):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def _flat_grid(xp, coordinates, strides):
    """sum_axis coordinates[axis] * strides[axis] as an open grid of shape (*out_size)."""
    nd = len(coordinates)
    grid = 0
    for axis, (values, step) in enumerate(zip(coordinates, strides)):
        shape = [1] * nd
        shape[axis] = -1
        grid = grid + xp.asarray(values * step, dtype=np.int64).reshape(shape)
    return grid


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _first_max(xp, views: list, fill, nan_aware: bool):
    """(max over the views, position of the first view holding it) elementwise: as in torch, a
    later view wins only if greater (or NaN, when `nan_aware`). With a `fill`, the max starts
    there (the padding's value) instead of at view 0."""
    code = np.uint8 if len(views) < 256 else np.int32
    if fill is None:
        best, start = views[0].copy(), 1
    else:
        best, start = xp.full(views[0].shape, fill, views[0].dtype), 0
    position = xp.zeros(best.shape, code)
    for k in range(start, len(views)):
        values = views[k]
        take = values > best
        if nan_aware:
            take |= values != values
        # k is above every earlier position, so a maximum records the latest view that won
        xp.maximum(position, take * code(k), out=position)
        xp.maximum(best, values, out=best)  # NaN stays NaN, either way round
    return best, position


def _window_max(xp, views: list, fill=None):
    """_first_max, checking positions for NaN only when there is one (the rare, slower case)."""
    best, position = _first_max(xp, views, fill, nan_aware=False)
    if best.dtype.kind == "f" and xp.isnan(best).any():
        best, position = _first_max(xp, views, fill, nan_aware=True)
    return best, position


# ----- max pooling -------------------------------------------------------------------------------
def _max_pool_meta(x, kernel_size, stride, padding, dilation, ceil_mode):
    name = f"max_pool{len(kernel_size)}d"
    shape = _window_output_shape(name, x, kernel_size, stride, padding, dilation, ceil_mode)
    return Spec(shape, x.dtype), Spec(shape, dtypes.int64)


def _max_pool_kernel(xp, x, kernel_size, stride, padding, dilation, ceil_mode):
    nd = len(kernel_size)
    in_size = x.shape[-nd:]
    out_size = tuple(
        pool_output_size(n, k, s, p, d, ceil_mode)
        for n, k, s, p, d in zip(in_size, kernel_size, stride, padding, dilation)
    )
    after = _right_padding(in_size, out_size, kernel_size, stride, padding, dilation)
    padded = _padded(xp, x, padding, after, _lowest(x.dtype))
    strides = _plane_strides(in_size)
    starts = [np.arange(o) * s - p for o, s, p in zip(out_size, stride, padding)]
    origin = _flat_grid(xp, starts, strides)  # flat index of each window's first element
    offsets, views = [], []
    for offset, key in _window_keys(out_size, kernel_size, stride, dilation):
        offsets.append(sum(j * d * t for j, d, t in zip(offset, dilation, strides)))
        views.append(padded[key])
    fill = _lowest(x.dtype) if any(padding) else None  # else every window starts in the input
    best, position = _window_max(xp, views, fill)
    index = xp.take(xp.asarray(offsets, dtype=np.int64), position)
    index += origin
    if fill is not None:
        # A window that never beat the fill (all -inf) points at its first real element, as
        # in torch, not into the padding.
        stuck = best == fill
        if stuck.any():
            first = [s - (s // d) * d * (s < 0) for s, d in zip(starts, dilation)]
            index[stuck] = xp.broadcast_to(_flat_grid(xp, first, strides), index.shape)[stuck]
    return best, index


def _max_vjp(node, grads):
    nd = len(node.attrs.get("kernel_size") or node.attrs["output_size"])
    input_size = tuple(node.input_meta[0][0][-nd:])
    return (MAX_POOL_BACKWARD(grads[0], node.outs[1], input_size=input_size),)


MAX_POOL = define(
    "max_pool",
    meta=_max_pool_meta,
    kernel=_max_pool_kernel,
    vjp=_max_vjp,
    family="library",
    num_outputs=2,
    nondiff_outputs=frozenset({1}),
    save_inputs=False,
    save_outputs=True,
    eager_check=True,
    doc="(max over each window, flat in-plane index of the max) for 1-3 spatial dims.",
)


# ----- adaptive max pooling ----------------------------------------------------------------------
def _adaptive_max_pool_meta(x, output_size):
    nd = len(output_size)
    name = f"adaptive_max_pool{nd}d"
    _check_rank(name, x, nd)
    if any(o < 0 for o in output_size):
        raise RuntimeError(f"{name}: output_size must be non-negative, but got {output_size}")
    shape = tuple(x.shape[:-nd]) + tuple(output_size)
    return Spec(shape, x.dtype), Spec(shape, dtypes.int64)


def _adaptive_max_pool_kernel(xp, x, output_size):
    nd = len(output_size)
    in_size = x.shape[-nd:]
    shape = x.shape[:-nd] + tuple(output_size)
    if 0 in shape:
        return xp.empty(shape, x.dtype), xp.empty(shape, np.int64)
    bounds = [adaptive_bounds(n, o) for n, o in zip(in_size, output_size)]
    widest = [int((end - start).max()) for start, end in bounds]
    strides = _plane_strides(in_size)

    # Offsets past a window's end repeat its last element: it never wins a strict compare.
    views, grids = [], []
    for offset in itertools.product(*(range(w) for w in widest)):
        rows = [np.minimum(start + j, end - 1) for j, (start, end) in zip(offset, bounds)]
        views.append(x[(Ellipsis, *(xp.asarray(k) for k in np.ix_(*rows)))])
        grids.append(np.broadcast_to(_flat_grid(np, rows, strides), output_size).reshape(-1))
    best, position = _window_max(xp, views)
    table = xp.asarray(np.stack(grids))  # (offsets, output positions): the flat input index
    count = table.shape[1]
    index = table[position.reshape(-1, count), xp.arange(count)]
    return best, index.reshape(best.shape)


ADAPTIVE_MAX_POOL = define(
    "adaptive_max_pool",
    meta=_adaptive_max_pool_meta,
    kernel=_adaptive_max_pool_kernel,
    vjp=_max_vjp,
    family="library",
    num_outputs=2,
    nondiff_outputs=frozenset({1}),
    save_inputs=False,
    save_outputs=True,
    eager_check=True,
    doc="(max over torch's adaptive windows, flat in-plane index of the max).",
)


# ----- average pooling and its transpose ---------------------------------------------------------
def _avg_divisor(xp, in_size, out_size, attrs, dtype):
    """What each window's sum is divided by (torch's rule), as a number or an open grid."""
    if attrs["divisor_override"]:
        return attrs["divisor_override"]
    nd = len(in_size)
    divisor = np.ones((1,) * nd, dtype=np.int64)
    for axis, (n, o, k, s, p) in enumerate(
        zip(in_size, out_size, attrs["kernel_size"], attrs["stride"], attrs["padding"])
    ):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if not attrs["count_include_pad"]:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        shape = [1] * nd
        shape[axis] = -1
        divisor = divisor * (end - start).reshape(shape)
    if divisor.min() == divisor.max():
        return int(divisor.flat[0])
    return xp.asarray(divisor, dtype=dtype)


def _divide(xp, total, divisor, dtype):
    if dtype.kind == "f":
        total /= divisor
        return total if total.dtype == dtype else total.astype(dtype)
    return xp.trunc(total / divisor).astype(dtype)  # integers: C's truncating division, as torch


def _avg_pool_meta(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    nd = len(kernel_size)
    name = f"avg_pool{nd}d"
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError(f"{name}: divisor must be not zero")
    if not (x.dtype.is_floating_point or x.dtype is dtypes.int64):  # torch's choice of dtypes
        raise NotImplementedError(f"\"{name}\" not implemented for '{x.dtype.name}'")
    shape = _window_output_shape(name, x, kernel_size, stride, padding, (1,) * nd, ceil_mode)
    return Spec(shape, x.dtype)


def _accumulator(dtype):
    """Half precision sums in float32; integers in int64."""
    if dtype.kind == "f":
        return np.float32 if dtype.itemsize < 4 else dtype
    return np.int64


def _avg_pool_kernel(xp, x, **attrs):
    kernel_size, stride, padding = attrs["kernel_size"], attrs["stride"], attrs["padding"]
    nd = len(kernel_size)
    in_size = x.shape[-nd:]
    ones = (1,) * nd
    out_size = tuple(
        pool_output_size(n, k, s, p, 1, attrs["ceil_mode"])
        for n, k, s, p in zip(in_size, kernel_size, stride, padding)
    )
    after = _right_padding(in_size, out_size, kernel_size, stride, padding, ones)
    padded = _padded(xp, x, padding, after, 0)
    total = None
    for _, key in _window_keys(out_size, kernel_size, stride, ones):
        if total is None:
            total = padded[key].astype(_accumulator(x.dtype))  # a fresh array to add into
        else:
            total += padded[key]
    return _divide(xp, total, _avg_divisor(xp, in_size, out_size, attrs, total.dtype), x.dtype)


def _avg_pool_vjp(node, g):
    nd = len(node.attrs["kernel_size"])
    return (AVG_POOL_BACKWARD(g, input_size=node.input_meta[0][0][-nd:], **node.attrs),)


AVG_POOL = define(
    "avg_pool",
    meta=_avg_pool_meta,
    kernel=_avg_pool_kernel,
    vjp=_avg_pool_vjp,
    family="library",
    save_inputs=False,
    eager_check=True,
    doc="Mean over each window (torch's divisor rules) for 1-3 spatial dims.",
)


def _avg_pool_backward_meta(g, input_size, **attrs):
    nd = len(input_size)
    return Spec(tuple(g.shape[:-nd]) + tuple(input_size), g.dtype)


def _avg_pool_backward_kernel(xp, g, input_size, **attrs):
    kernel_size, stride, padding = attrs["kernel_size"], attrs["stride"], attrs["padding"]
    nd = len(input_size)
    ones = (1,) * nd
    out_size = g.shape[-nd:]
    share = g / _avg_divisor(xp, input_size, out_size, attrs, g.dtype)
    after = _right_padding(input_size, out_size, kernel_size, stride, padding, ones)
    padded_size = tuple(n + p + a for n, p, a in zip(input_size, padding, after))
    padded = xp.zeros(g.shape[:-nd] + padded_size, g.dtype)
    for _, key in _window_keys(out_size, kernel_size, stride, ones):
        padded[key] += share
    if not any(padding) and not any(after):
        return padded
    return padded[(Ellipsis, *(slice(p, p + n) for p, n in zip(padding, input_size)))].copy()


def _avg_pool_backward_vjp(node, g):
    attrs = {k: v for k, v in node.attrs.items() if k != "input_size"}
    return (AVG_POOL(g, **attrs),)


AVG_POOL_BACKWARD = define(
    "avg_pool_backward",
    meta=_avg_pool_backward_meta,
    kernel=_avg_pool_backward_kernel,
    vjp=_avg_pool_backward_vjp,
    family="library",
    save_inputs=False,
    doc="The transpose of avg_pool: each output gradient spread evenly over its window.",
)


# ----- the vjp of max pooling --------------------------------------------------------------------
def _max_pool_backward_meta(g, indices, input_size):
    nd = len(input_size)
    if tuple(g.shape) != tuple(indices.shape):
        raise RuntimeError(
            f"max_pool_backward: grad {list(g.shape)} and indices {list(indices.shape)} must have "
            "the same shape"
        )
    return Spec(tuple(g.shape[:-nd]) + tuple(input_size), g.dtype)


def _max_pool_backward_kernel(xp, g, indices, input_size):
    """Zeros with each g added at its max's position: one add.at over all planes flattened
    (positions shifted by plane), which numpy runs fast for a 1-d target."""
    nd = len(input_size)
    lead = g.shape[:-nd]
    plane = math.prod(input_size)
    planes = math.prod(lead)
    out = xp.zeros(planes * plane, g.dtype)
    if g.size:
        shift = xp.arange(0, planes * plane, plane, dtype=np.int64).reshape(planes, 1)
        flat = (indices.reshape(planes, -1) + shift).reshape(-1)
        xp.add.at(out, flat, g.reshape(-1))
    return out.reshape(lead + tuple(input_size))


def _max_pool_backward_vjp(node, gg):
    """The gradient's gradient reads gg back at the same positions: a gather per plane."""
    from .indexing import GATHER
    from .movement import reshape

    _, indices = node.inputs
    nd = len(node.attrs["input_size"])
    lead = tuple(gg.shape[:-nd])
    picked = GATHER(reshape(gg, lead + (-1,)), reshape(indices, lead + (-1,)), dim=len(lead))
    return (reshape(picked, tuple(indices.shape)), None)


MAX_POOL_BACKWARD = define(
    "max_pool_backward",
    meta=_max_pool_backward_meta,
    kernel=_max_pool_backward_kernel,
    vjp=_max_pool_backward_vjp,
    family="library",
    eager_check=True,
    doc="The vjp of max pooling: zeros with each gradient added at its max's flat index.",
)
