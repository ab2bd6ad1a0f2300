"""Reductions and scans: sum, mean, prod, amax/amin, max/min with indices, var, logical
reductions, cumsum/cumprod, and composites (std, logsumexp, norm)."""

from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from .. import dtypes
from ..errors import located
from ..tensor import Tensor, _normalize_dim
from .families import define, reduced_shape, reduction, restore_reduced
from .registry import Spec

__all__ = [
    "sum",
    "mean",
    "prod",
    "amax",
    "amin",
    "max",
    "min",
    "argmax",
    "argmin",
    "var",
    "std",
    "var_mean",
    "std_mean",
    "logsumexp",
    "all",
    "any",
    "count_nonzero",
    "cumsum",
    "cumprod",
    "norm",
    "sum_to",
    "nansum",
    "nanmean",
    "aminmax",
]

_EMPTY_DIM = "Expected reduction dim {} to have non-zero size."
_EMPTY_ALL = (
    "Expected reduction dim to be specified for input.numel() == 0. Specify the "
    "reduction dim with the 'dim' argument."
)


def normalize_dims(dim, ndim: int, op: str = "") -> tuple | None:
    """torch's `dim` argument (None, an int, or a sequence) as a sorted tuple of axes; None
    means every axis (also for an empty sequence and for 0-d inputs, whose only 'dim' is 0)."""
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        axes = (_normalize_dim(int(dim), ndim, op),)
    else:
        try:
            listed = [_normalize_dim(operator.index(d), ndim, op) for d in dim]
        except TypeError:
            raise located(
                TypeError(
                    f"{op}(): argument 'dim' must be an int, a tuple of ints or None, got {dim!r}"
                )
            ) from None
        axes = tuple(sorted(set(listed)))
        if len(axes) != len(listed):
            repeated = next(d for d in listed if listed.count(d) > 1)
            raise located(
                RuntimeError(
                    f"{op}: dim {repeated} appears multiple times in the list of dims {list(dim)}"
                )
            )
    return axes if axes and ndim else None


# ----- records -------------------------------------------------------------------------------
SUM = reduction(
    "sum",
    lambda xp, x, dim, keepdim: x.sum(axis=dim, keepdims=keepdim),
    lambda g, x, out, shape, dim, keepdim: restore_reduced(g, shape, dim, keepdim),
    result="sum",
    save=None,
    identity="0",
)
MEAN = reduction(
    "mean",
    lambda xp, x, dim, keepdim: x.mean(axis=dim, keepdims=keepdim),
    lambda g, x, out, shape, dim, keepdim: (
        restore_reduced(g, shape, dim, keepdim) / _count(shape, dim)
    ),
    result="float",
    save=None,
    identity="0",
)
PROD = reduction(
    "prod",
    lambda xp, x, dim, keepdim: xp.prod(x, axis=dim, keepdims=keepdim),
    lambda g, x, out, shape, dim, keepdim: _prod_grad(g, x, shape, dim, keepdim),
    result="sum",
    identity="1",
)


def _nonempty(function):
    """A kernel for reductions without an identity (max, argmax): torch's errors on empty input
    instead of NumPy's."""

    def run(xp, x, dim, keepdim):
        if x.size == 0:
            empty = [axis for axis in (dim if dim is not None else ()) if x.shape[axis] == 0]
            if dim is None or empty:
                if empty:
                    raise IndexError(_EMPTY_DIM.format(empty[0]))
                raise RuntimeError(_EMPTY_ALL)
        return function(xp, x, dim, keepdim)

    return run


def _extreme_grad(reduce, g, x, shape, dim, keepdim):
    """amax/amin: the gradient is shared evenly among the elements equal to the extreme."""
    out = restore_reduced(reduce(x, dim=dim, keepdim=True), shape, dim, True)
    mask = (x == out).to(g.dtype)
    count = SUM(mask, dim=dim, keepdim=True)
    return restore_reduced(g, shape, dim, keepdim) * mask / restore_reduced(count, shape, dim, True)


AMAX = reduction(
    "amax",
    _nonempty(lambda xp, x, dim, keepdim: xp.max(x, axis=dim, keepdims=keepdim)),
    lambda g, x, out, *rest: _extreme_grad(AMAX, g, x, *rest),
    identity="-INFINITY",
)
AMIN = reduction(
    "amin",
    _nonempty(lambda xp, x, dim, keepdim: xp.min(x, axis=dim, keepdims=keepdim)),
    lambda g, x, out, *rest: _extreme_grad(AMIN, g, x, *rest),
    identity="INFINITY",
)

ALL = reduction(
    "all",
    lambda xp, x, dim, keepdim: xp.all(x, axis=dim, keepdims=keepdim),
    result="bool",
    differentiable=False,
    identity="1",
)
ANY = reduction(
    "any",
    lambda xp, x, dim, keepdim: xp.any(x, axis=dim, keepdims=keepdim),
    result="bool",
    differentiable=False,
    identity="0",
)
COUNT_NONZERO = reduction(
    "count_nonzero",
    lambda xp, x, dim, keepdim: xp.count_nonzero(x, axis=dim),
    result="int64",
    differentiable=False,
)


def _var_kernel(xp, x, dim=None, keepdim=False, correction=1):
    mean = xp.mean(x, axis=dim, keepdims=True)
    centered = x - mean
    squares = xp.sum(centered * centered, axis=dim, keepdims=keepdim)
    # Too few degrees of freedom give inf or nan, as in torch.
    freedom = builtins.max(_count(x.shape, dim) - correction, 0)  # `max` is qilin.max here
    return (squares / freedom).astype(x.dtype, copy=False)


def _var_grad(node, g):
    (x,) = node.inputs
    dim, keepdim = node.attrs["dim"], node.attrs["keepdim"]
    shape = tuple(x.shape)
    freedom = _count(shape, dim) - node.attrs["correction"]
    centered = x - MEAN(x, dim=dim, keepdim=True)
    scale = 2.0 / freedom if freedom > 0 else math.inf
    return (restore_reduced(g, shape, dim, keepdim) * centered * scale,)


def _var_meta(x, dim=None, keepdim=False, correction=1):
    if not x.dtype.is_floating_point:
        raise RuntimeError(
            f"std and var only support floating point and complex dtypes, got {x.dtype.name}"
        )
    return Spec(reduced_shape(x.shape, dim, keepdim), x.dtype)


VAR = define(
    "var", meta=_var_meta, kernel=_var_kernel, vjp=_var_grad, family="reduction", eager_check=True
)


def _arg_kernel(function):
    def run(xp, x, dim, keepdim):
        if dim is None:
            index = xp.asarray(function(x.reshape(-1)), dtype=np.int64)
            return index.reshape((1,) * x.ndim if keepdim else ())
        return function(x, axis=dim[0], keepdims=keepdim).astype(np.int64, copy=False)

    return _nonempty(run)


def _arg_meta(x, dim=None, keepdim=False):
    if x.dtype is dtypes.bool:
        raise RuntimeError("argmax(): does not support bool input (argmin neither)")
    return Spec(reduced_shape(x.shape, dim, keepdim), dtypes.int64)


ARGMAX = define(
    "argmax",
    meta=_arg_meta,
    kernel=_arg_kernel(np.argmax),
    vjp=None,
    family="reduction",
    differentiable=False,
    eager_check=True,
)
ARGMIN = define(
    "argmin",
    meta=_arg_meta,
    kernel=_arg_kernel(np.argmin),
    vjp=None,
    family="reduction",
    differentiable=False,
    eager_check=True,
)


# ----- scans ---------------------------------------------------------------------------------
def _cumulative_meta(x, dim):
    return Spec(x.shape, x.dtype if x.dtype.is_floating_point else dtypes.int64)


def _cumulative_kernel(function):
    def run(xp, x, dim):
        dtype = np.int64 if x.dtype.kind in "biu" else x.dtype
        if x.ndim == 0:  # a scan over a scalar is the scalar
            return x.astype(dtype)
        return function(x, axis=dim, dtype=dtype)

    return run


def _reverse_cumsum(g, dim):
    """out_i = sum_{j >= i} g_j: the vjp of cumsum."""
    from .movement import flip

    if g.ndim == 0:
        return g
    return flip(CUMSUM(flip(g, (dim,)), dim=dim), (dim,))


def _cumprod_grad(node, g):
    (x,), out, dim = node.inputs, node.out, node.attrs["dim"]
    if x.ndim == 0:
        return (g,)
    return (_cumprod_backward(x, out, g, dim),)


def _cumprod_backward(x, out, g, dim):
    """d out_j / d x_i = prod_{k <= j, k != i} x_k for j >= i, without dividing by a zero.

    Without zeros it is reverse_cumsum(g * out) / x. Otherwise, with z each slice's first zero
    and y = x with x_z read as 1: out_j = P_j * F_j, where P = cumprod(y) and F_j = x_z for
    j >= z (1 before). So x_z gets sum_{j >= z} g_j P_j, and every other element the cumprod
    gradient of y (which has one zero less) for the cotangent g * F. Each step is an identity in
    x_z, so the result stays exact when differentiated again.
    """
    from .elementwise import where

    zero = x == 0
    if not bool(zero.any()):  # a data-dependent branch, as in torch
        return _reverse_cumsum(g * out, dim) / x
    seen = CUMSUM(zero, dim=dim)  # zeros at or before each position
    first = zero & (seen == 1)
    y = where(first, 1, x)
    products = CUMPROD(y, dim=dim)
    first_value = SUM(where(first, x, 0), dim=(dim,), keepdim=True)  # x_z, with its gradient
    factor = where(seen >= 1, first_value, 1)
    others = _cumprod_backward(y, products, g * factor, dim)
    return where(first, _reverse_cumsum(g * products, dim), others)


CUMSUM = define(
    "cumsum",
    meta=_cumulative_meta,
    kernel=_cumulative_kernel(np.cumsum),
    vjp=lambda node, g: (_reverse_cumsum(g, node.attrs["dim"]),),
    family="reduction",
    save_inputs=False,
)
CUMPROD = define(
    "cumprod",
    meta=_cumulative_meta,
    kernel=_cumulative_kernel(np.cumprod),
    vjp=_cumprod_grad,
    family="reduction",
    save_outputs=True,
)


# ----- vjp helpers ---------------------------------------------------------------------------
def _count(shape: tuple, dim) -> int:
    if dim is None:
        return int(math.prod(shape))
    return int(math.prod(shape[axis] for axis in dim))


def _prod_grad(g, x, shape, dim, keepdim):
    """The product of all *other* elements (exact at zeros, unlike prod / x): the reduced axes
    are moved last and flattened into one, where exclusive products are two cumprods."""
    from .movement import permute

    g = restore_reduced(g, shape, dim, keepdim)
    if x.ndim == 0:
        return g
    reduced = tuple(range(x.ndim)) if dim is None else dim
    kept = tuple(axis for axis in range(x.ndim) if axis not in reduced)
    order = kept + reduced
    moved = permute(x, order)
    flat = moved.reshape(tuple(shape[axis] for axis in kept) + (_count(shape, reduced),))
    others = _exclusive_products(flat, flat.ndim - 1).reshape(tuple(moved.shape))
    return g * permute(others, tuple(int(i) for i in np.argsort(order)))


def _exclusive_products(x, dim):
    """For each element, the product of all other elements along `dim` (no division)."""
    from .creation import ones_like
    from .movement import cat, flip, narrow

    size = x.shape[dim]
    if size <= 1:
        return ones_like(x)
    ones = ones_like(narrow(x, dim, 0, 1))
    before = cat([ones, narrow(CUMPROD(x, dim=dim), dim, 0, size - 1)], dim)
    after = cat([ones, narrow(CUMPROD(flip(x, (dim,)), dim=dim), dim, 0, size - 1)], dim)
    return before * flip(after, (dim,))


def sum_to(x: Tensor, shape: tuple) -> Tensor:
    """Sum `x` over the axes that broadcasting added to `shape` (the vjp of broadcasting)."""
    shape = tuple(shape)
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + axis for axis, size in enumerate(shape) if size == 1 and x.shape[lead + axis] != 1
    )
    if not axes:
        return x.reshape(shape) if tuple(x.shape) != shape else x
    return SUM(x, dim=axes, keepdim=True).reshape(shape)


def values_at(name: str, input: Tensor, dim: int, indices: Tensor, keepdim: bool):
    """(values, indices) named tuple from keepdim-shaped `indices` along `dim`. The values are a
    gather, whose vjp sends each gradient to the selected element (torch's rule for max(dim),
    sort, topk, kthvalue, median and mode)."""
    from .indexing import ReturnTypes, gather

    if input.ndim == 0:
        values = gather(input.reshape(1), 0, indices.reshape(1)).reshape(())
    else:
        values = gather(input, dim, indices)
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
    return ReturnTypes(name, values=values, indices=indices)


# ----- public functions ----------------------------------------------------------------------
def sum(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return SUM(input, dim=normalize_dims(dim, input.ndim, "sum"), keepdim=keepdim)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    from .elementwise import where

    if input.is_floating_point():
        input = where(input != input, 0, input)
    return sum(input, dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return MEAN(input, dim=normalize_dims(dim, input.ndim, "mean"), keepdim=keepdim)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    if not input.is_floating_point():
        raise RuntimeError(
            f"nanmean(): expected input to have floating point dtype but got {input.dtype.name}"
        )
    present = sum(input == input, dim, keepdim)
    return nansum(input, dim, keepdim) / present  # all-NaN slices: NaN (and NaN grads), as torch


def prod(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return PROD(input, dim=normalize_dims(dim, input.ndim, "prod"), keepdim=keepdim)


def amax(input, dim=(), keepdim=False):
    return AMAX(input, dim=normalize_dims(dim, input.ndim, "amax"), keepdim=keepdim)


def amin(input, dim=(), keepdim=False):
    return AMIN(input, dim=normalize_dims(dim, input.ndim, "amin"), keepdim=keepdim)


def _extreme(name, input, dim, keepdim, other):
    """max/min: of all elements; (values, indices) along `dim`; or elementwise with a tensor."""
    from .elementwise import maximum, minimum

    if other is None and isinstance(dim, Tensor):  # max(a, b) is the elementwise maximum
        other = dim
    if other is not None:
        return (maximum if name == "max" else minimum)(input, other)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError(f"{name}(): {_EMPTY_ALL}")
        return (AMAX if name == "max" else AMIN)(input, dim=None, keepdim=False)
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}(): dim must be an int, got {type(dim).__name__} {dim!r}")
    axis = _normalize_dim(int(dim), input.ndim, name)
    searched = input.to(dtypes.uint8) if input.dtype is dtypes.bool else input  # argmax: no bool
    indices = (ARGMAX if name == "max" else ARGMIN)(
        searched, dim=normalize_dims(axis, input.ndim), keepdim=True
    )
    return values_at(name, input, axis, indices, keepdim)


def max(input, dim=None, keepdim=False, *, other=None):
    return _extreme("max", input, dim, keepdim, other)


def min(input, dim=None, keepdim=False, *, other=None):
    return _extreme("min", input, dim, keepdim, other)


def aminmax(input, *, dim=None, keepdim=False):
    from .indexing import ReturnTypes

    dim = () if dim is None else dim
    return ReturnTypes("aminmax", min=amin(input, dim, keepdim), max=amax(input, dim, keepdim))


def argmax(input, dim=None, keepdim=False):
    return ARGMAX(input, dim=normalize_dims(dim, input.ndim, "argmax"), keepdim=keepdim)


def argmin(input, dim=None, keepdim=False):
    return ARGMIN(input, dim=normalize_dims(dim, input.ndim, "argmin"), keepdim=keepdim)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance with `correction` (1: Bessel's, the default); `unbiased` is the old spelling.
    `var(x, False)` passes `unbiased` positionally, as torch allows."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return VAR(
        input,
        dim=normalize_dims(dim, input.ndim, "var"),
        keepdim=keepdim,
        correction=_correction(unbiased, correction),
    )


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    from .elementwise import sqrt

    return sqrt(var(input, dim, unbiased, keepdim, correction=correction))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return (var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return (std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim))


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) computed as m + log(sum(exp(x - m))) with m the (detached) maximum."""
    from .elementwise import exp, log, where

    axes = normalize_dims(dim, input.ndim, "logsumexp")
    peak = AMAX(input, dim=axes, keepdim=True).detach()
    peak = where(peak.isinf(), 0, peak)  # all -inf (or an inf) slices: don't subtract inf
    total = log(SUM(exp(input - peak), dim=axes, keepdim=True)) + peak
    return total if keepdim else total.reshape(reduced_shape(tuple(input.shape), axes, False))


def all(input, dim=None, keepdim=False):
    result = ALL(input, dim=normalize_dims(dim, input.ndim, "all"), keepdim=keepdim)
    return result.to(dtypes.uint8) if input.dtype is dtypes.uint8 else result  # as torch


def any(input, dim=None, keepdim=False):
    result = ANY(input, dim=normalize_dims(dim, input.ndim, "any"), keepdim=keepdim)
    return result.to(dtypes.uint8) if input.dtype is dtypes.uint8 else result


def count_nonzero(input, dim=None):
    return COUNT_NONZERO(input, dim=normalize_dims(dim, input.ndim, "count_nonzero"), keepdim=False)


def cumsum(input, dim, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return CUMSUM(input, dim=_normalize_dim(dim, input.ndim, "cumsum"))


def cumprod(input, dim, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return CUMPROD(input, dim=_normalize_dim(dim, input.ndim, "cumprod"))


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm: the vector p-norm over `dim` (all elements by default); 'fro' is p=2.
    The gradient at an all-zero slice is 0, as in torch (not the nan of a plain root)."""
    from .elementwise import abs, pow

    if dtype is not None:
        input = input.to(dtype)
    if not input.is_floating_point():
        raise RuntimeError(
            f"linalg.vector_norm: Expected a floating point or complex tensor as "
            f"input. Got {input.dtype.name}"
        )
    if p == "nuc":
        from ..linalg import matrix_norm

        return matrix_norm(input, "nuc", dim=dim if dim is not None else (-2, -1), keepdim=keepdim)
    if p in ("fro", 2):
        return _root(sum(input * input, dim, keepdim), 2)
    if p in (math.inf, "inf"):
        return amax(abs(input), dim if dim is not None else (), keepdim)
    if p == -math.inf:
        return amin(abs(input), dim if dim is not None else (), keepdim)
    if p == 0:
        return sum((input != 0).to(input.dtype), dim, keepdim)
    if p == 1:
        return sum(abs(input), dim, keepdim)
    return _root(sum(pow(abs(input), p), dim, keepdim), p)


def _root(total, p):
    """total ** (1/p) with a zero gradient where total == 0 (where the plain root's is inf)."""
    from .elementwise import pow, sqrt, where

    zero = total == 0
    safe = where(zero, 1, total)
    return where(zero, 0, sqrt(safe) if p == 2 else pow(safe, 1.0 / p))
