"""The fused normalising primitive behind batch, layer, group and instance norm.

    y = (x - mean) / sqrt(var + eps) * weight + bias,   mean, var over `dims` (biased variance)

`norm_affine(x, weight, bias, dims=, eps=)` returns (y, mean, var), the statistics kept with
`dims` of size 1 and not differentiable (batch norm reads them to update its running
statistics). weight and bias are None or broadcastable to x (the callers reshape them: (C, 1, 1)
for batch norm, normalized_shape for layer norm).

Written as a composite, one forward+backward built ~20 autograd nodes, each a full pass over x;
fused it is a few passes each way. The first-order backward is a fused kernel too
(`norm_affine_backward`, not differentiable); under create_graph the vjp is written in
differentiable qilin ops instead, recomputing the statistics from x so that second derivatives
see how they depend on x.
"""

from __future__ import annotations

import math

from ..autograd import grad_mode
from .elementwise import rsqrt
from .families import define
from .reduction import sum_to
from .registry import Spec

__all__: list[str] = []  # internal primitives: the public names live in nn.functional


def _stats_shape(shape: tuple, dims: tuple) -> tuple:
    return tuple(1 if axis in dims else size for axis, size in enumerate(shape))


def _meta(x, weight, bias, dims, eps):
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"norm_affine: expected a floating point input, got {x.dtype.name}")
    stats = Spec(_stats_shape(x.shape, dims), x.dtype)
    return Spec(x.shape, x.dtype), stats, stats


def _small(shape: tuple, stats_shape: tuple) -> bool:
    """True when an array of `shape` broadcast against the statistics stays their size (batch
    norm's (C, 1, 1) weight): then the affine scale folds into rstd before touching x."""
    if len(shape) > len(stats_shape):
        return False
    tail = stats_shape[len(stats_shape) - len(shape) :]
    return all(size == 1 or size == other for size, other in zip(shape, tail))


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _sum(xp, axes: tuple, *arrays):
    """The sum over `axes` (kept with size 1) of the product of same-shaped `arrays`: one
    einsum reads them without building the product (a full-size temporary) first."""
    ndim = arrays[0].ndim
    letters = _LETTERS[:ndim]
    kept = "".join(letter for axis, letter in enumerate(letters) if axis not in axes)
    total = xp.einsum(",".join([letters] * len(arrays)) + "->" + kept, *arrays)
    shape = tuple(1 if axis in axes else size for axis, size in enumerate(arrays[0].shape))
    return total.reshape(shape)


def _sum_to(xp, shape: tuple, *arrays):
    """`_sum` over the axes that broadcasting added to `shape` (reduction.sum_to's twin)."""
    full = arrays[0].shape
    lead = len(full) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + axis for axis, size in enumerate(shape) if size == 1 and full[lead + axis] != 1
    )
    return _sum(xp, axes, *arrays).reshape(shape)


def _computing(x):
    """float16 / bfloat16 compute in float32 (einsum would accumulate in the narrow type)."""
    return x if x.dtype.itemsize >= 4 else x.astype("float32")


def _kernel(xp, x, weight, bias, dims, eps):
    source, count = _computing(x), _count(x.shape, dims)
    mean = _sum(xp, dims, source) / count
    centred = source - mean
    var = _sum(xp, dims, centred, centred) / count
    scale = 1.0 / xp.sqrt(var + eps)
    if weight is not None and _small(weight.shape, scale.shape):
        scale = scale * weight
        weight = None
    centred *= scale
    if weight is not None:
        centred *= weight
    if bias is not None:
        centred += bias
    dtype = x.dtype
    return centred.astype(dtype, copy=False), mean.astype(dtype), var.astype(dtype)


def _count(shape: tuple, dims: tuple) -> int:
    # at least 1: an empty batch then has zero statistics and zero weight / bias gradients
    # (torch's), where dividing by 0 would make the gradients NaN
    return max(math.prod(shape[axis] for axis in dims), 1)


def _vjp(node, grads):
    g = grads[0]
    x, weight, bias = node.inputs
    dims, eps = node.attrs["dims"], node.attrs["eps"]
    if not grad_mode.state.enabled:  # first order: the fused kernel
        needs = tuple(node.needs_grad)
        gx, gw, gb = NORM_AFFINE_BACKWARD(g, x, weight, bias, dims=dims, eps=eps)
        return (gx if needs[0] else None, gw if needs[1] else None, gb if needs[2] else None)
    # create_graph: differentiable ops, statistics recomputed from x
    centred = x - x.mean(dims, keepdim=True)
    rstd = rsqrt((centred * centred).mean(dims, keepdim=True) + eps)
    normalized = centred * rstd
    g_normalized = g if weight is None else g * weight
    gx = rstd * (
        g_normalized
        - g_normalized.mean(dims, keepdim=True)
        - normalized * (g_normalized * normalized).mean(dims, keepdim=True)
    )
    gw = None if weight is None else sum_to(g * normalized, tuple(weight.shape))
    gb = None if bias is None else sum_to(g, tuple(bias.shape))
    return gx, gw, gb


NORM_AFFINE = define(
    "norm_affine",
    meta=_meta,
    kernel=_kernel,
    vjp=_vjp,
    family="library",
    num_outputs=3,
    nondiff_outputs=frozenset({1, 2}),
    eager_check=True,
    doc="(x - mean) / sqrt(var + eps) * weight + bias over `dims`; returns (y, mean, var).",
)


# ----- the fused first-order backward --------------------------------------------------------
def _backward_meta(g, x, weight, bias, dims, eps):
    def shape_of(value):
        return value.shape if value is not None else ()

    return Spec(x.shape, x.dtype), Spec(shape_of(weight), x.dtype), Spec(shape_of(bias), x.dtype)


def _backward_kernel(xp, g, x, weight, bias, dims, eps):
    """dx = rstd * (gn - mean(gn) - xhat * mean(gn * xhat)) over dims, gn = g * weight,
    xhat = (x - mean) * rstd; the weight and bias gradients sum g * xhat and g.

    The statistics are recomputed from x (two reads): saving the forward's output would make
    an in-place op on it (BatchNorm then ReLU(inplace=True)) break the backward."""
    dtype = x.dtype
    g, x = _computing(g), _computing(x)
    count = _count(x.shape, dims)
    normalized = x - _sum(xp, dims, x) / count
    rstd = 1.0 / xp.sqrt(_sum(xp, dims, normalized, normalized) / count + eps)
    zero = xp.zeros((), dtype=dtype)
    if (weight is None or _small(weight.shape, rstd.shape)) and (
        bias is None or _small(bias.shape, rstd.shape)
    ):
        # per-channel affine (batch norm): one pair of sums over dims serves every gradient
        g_sum = _sum(xp, dims, g)
        g_dot = _sum(xp, dims, g, normalized) * rstd
        grad_weight = zero if weight is None else _sum_to(xp, weight.shape, g_dot)
        grad_bias = zero if bias is None else _sum_to(xp, bias.shape, g_sum)
        scale = rstd if weight is None else rstd * weight
        grad_input = g * scale
        grad_input -= scale * (g_sum / count)
        normalized *= scale * rstd * (g_dot / count)
    else:
        normalized *= rstd
        grad_weight = zero if weight is None else _sum_to(xp, weight.shape, g, normalized)
        grad_bias = zero if bias is None else _sum_to(xp, bias.shape, g)
        g_normalized = g if weight is None else g * weight
        g_sum = _sum(xp, dims, g_normalized)
        g_dot = _sum(xp, dims, g_normalized, normalized)
        if weight is None:
            grad_input = g * rstd
        else:
            grad_input = g_normalized  # a fresh array: scaled in place
            grad_input *= rstd
        grad_input -= rstd * (g_sum / count)
        normalized *= rstd * (g_dot / count)
    grad_input -= normalized
    return (
        grad_input.astype(dtype, copy=False),
        xp.asarray(grad_weight).astype(dtype, copy=False),
        xp.asarray(grad_bias).astype(dtype, copy=False),
    )


NORM_AFFINE_BACKWARD = define(
    "norm_affine_backward",
    meta=_backward_meta,
    kernel=_backward_kernel,
    vjp=None,
    family="library",
    num_outputs=3,
    differentiable=False,
    doc="(grad x, grad weight, grad bias) of norm_affine; weight / bias grads are 0-d zeros "
    "when there is no weight / bias.",
)
