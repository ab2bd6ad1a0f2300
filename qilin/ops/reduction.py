"""Reductions and scans: sum, mean, prod, amax/amin, max/min with indices, var, logical
reductions, cumsum/cumprod, and composites (std, logsumexp, norm)."""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..tensor import Tensor, _normalize_dim
from .families import define, reduced_shape, reduction, restore_reduced
from .registry import Spec

__all__ = ["sum", "mean", "prod", "amax", "amin", "max", "min", "argmax", "argmin", "var", "std",
           "var_mean", "std_mean", "logsumexp", "all", "any", "count_nonzero", "cumsum",
           "cumprod", "norm", "sum_to", "nansum", "nanmean", "aminmax"]


def normalize_dims(dim, ndim: int, op: str = "") -> tuple | None:
    """torch's `dim` argument (None, an int, or a sequence) as a sorted tuple of axes."""
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        return (_normalize_dim(int(dim), ndim, op),)
    axes = tuple(sorted({_normalize_dim(int(d), ndim, op) for d in dim}))
    if len(axes) != len(tuple(dim)):
        raise RuntimeError(f"{op}: dim {tuple(dim)} appears multiple times in the list of dims")
    return axes if axes or ndim == 0 else None


def _axes(dim):
    return dim  # kernels receive a tuple or None, which NumPy's `axis` accepts as is


# ----- records -------------------------------------------------------------------------------
SUM = reduction(
    "sum", lambda xp, x, dim, keepdim: xp.sum(x, axis=_axes(dim), keepdims=keepdim),
    lambda g, x, out, shape, dim, keepdim: restore_reduced(g, shape, dim, keepdim),
    result="sum", save=None, identity="0")
MEAN = reduction(
    "mean", lambda xp, x, dim, keepdim: xp.mean(x, axis=_axes(dim), keepdims=keepdim),
    lambda g, x, out, shape, dim, keepdim: restore_reduced(g, shape, dim, keepdim) / _count(
        shape, dim),
    result="float", save=None, identity="0")
PROD = reduction(
    "prod", lambda xp, x, dim, keepdim: xp.prod(x, axis=_axes(dim), keepdims=keepdim),
    lambda g, x, out, shape, dim, keepdim: _prod_grad(g, x, shape, dim, keepdim),
    result="sum", identity="1")


def _extreme_grad(reduce, g, x, shape, dim, keepdim):
    """amax/amin: the gradient is shared evenly among the elements equal to the extreme."""
    out = restore_reduced(reduce(x, dim=dim, keepdim=True), shape, dim, True)
    mask = (x == out).to(g.dtype)
    count = SUM(mask, dim=dim, keepdim=True)
    return restore_reduced(g, shape, dim, keepdim) * mask / restore_reduced(count, shape, dim, True)


AMAX = reduction("amax", lambda xp, x, dim, keepdim: xp.max(x, axis=_axes(dim), keepdims=keepdim),
                 lambda g, x, out, *rest: _extreme_grad(AMAX, g, x, *rest), identity="-INFINITY")
AMIN = reduction("amin", lambda xp, x, dim, keepdim: xp.min(x, axis=_axes(dim), keepdims=keepdim),
                 lambda g, x, out, *rest: _extreme_grad(AMIN, g, x, *rest), identity="INFINITY")

ALL = reduction("all", lambda xp, x, dim, keepdim: xp.all(x, axis=_axes(dim), keepdims=keepdim),
                result="bool", differentiable=False, identity="1")
ANY = reduction("any", lambda xp, x, dim, keepdim: xp.any(x, axis=_axes(dim), keepdims=keepdim),
                result="bool", differentiable=False, identity="0")
COUNT_NONZERO = reduction(
    "count_nonzero", lambda xp, x, dim, keepdim: xp.count_nonzero(x, axis=_axes(dim)),
    result="int64", differentiable=False)


def _var_kernel(xp, x, dim, keepdim, correction=1):
    count = _count(x.shape, dim)
    mean = xp.mean(x, axis=_axes(dim), keepdims=True)
    centered = x - mean
    squares = xp.sum(centered * centered, axis=_axes(dim), keepdims=keepdim)
    return (squares / max(count - correction, 0)).astype(x.dtype, copy=False)


def _var_grad(node, g):
    (x,) = node.inputs
    dim, keepdim = node.attrs["dim"], node.attrs["keepdim"]
    correction = node.attrs.get("correction", 1)
    shape = tuple(x.shape)
    centered = x - MEAN(x, dim=dim, keepdim=True)
    scale = 2.0 / max(_count(shape, dim) - correction, 0)
    return (restore_reduced(g, shape, dim, keepdim) * centered * scale,)


def _var_meta(x, dim=None, keepdim=False, correction=1):
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"var(): expected a floating point input, got {x.dtype.name}")
    return Spec(reduced_shape(x.shape, dim, keepdim), x.dtype)


VAR = define("var", meta=_var_meta, kernel=lambda xp, x, dim=None, keepdim=False, correction=1:
             _var_kernel(xp, x, dim, keepdim, correction), vjp=_var_grad, family="reduction")


def _arg_kernel(function):
    def run(xp, x, dim=None, keepdim=False):
        if dim is None:
            index = function(x.reshape(-1))
            return xp.asarray(index, dtype=np.int64).reshape((1,) * x.ndim if keepdim else ())
        return function(x, axis=dim[0], keepdims=keepdim).astype(np.int64, copy=False)

    return run


def _arg_meta(x, dim=None, keepdim=False):
    return Spec(reduced_shape(x.shape, dim, keepdim), dtypes.int64)


ARGMAX = define("argmax", meta=_arg_meta, kernel=_arg_kernel(np.argmax), vjp=None,
                family="reduction", differentiable=False)
ARGMIN = define("argmin", meta=_arg_meta, kernel=_arg_kernel(np.argmin), vjp=None,
                family="reduction", differentiable=False)


def _cumulative_meta(x, dim):
    return Spec(x.shape, dtypes.int64 if not x.dtype.is_floating_point else x.dtype)


def _cumsum_kernel(xp, x, dim):
    return xp.cumsum(x, axis=dim, dtype=np.int64 if x.dtype.kind in "biu" else x.dtype)


def _cumprod_kernel(xp, x, dim):
    return xp.cumprod(x, axis=dim, dtype=np.int64 if x.dtype.kind in "biu" else x.dtype)


def _reverse_cumsum(g, dim):
    from .movement import flip

    return flip(CUMSUM(flip(g, (dim,)), dim=dim), (dim,))


def _cumprod_grad(node, g):
    # d out_j / d x_i = out_j / x_i for j >= i; written without dividing by zeros where possible.
    (x,), out, dim = node.inputs, node.out, node.attrs["dim"]
    from .elementwise import where

    safe = where(x == 0, x * 0 + 1, x)
    return (where(x == 0, _cumprod_zero_grad(x, g, dim), _reverse_cumsum(g * out, dim) / safe),)


def _cumprod_zero_grad(x, g, dim):
    """Exact gradient at zero entries: recompute the products that skip each element."""
    from .movement import movedim, stack, unbind

    columns = unbind(movedim(x, dim, -1), -1)
    grads = unbind(movedim(g, dim, -1), -1)
    result = []
    for i in range(len(columns)):
        total = None
        prefix = None
        for j in range(len(columns)):
            if j < i:
                prefix = columns[j] if prefix is None else prefix * columns[j]
                continue
            if j == i:
                running = prefix if prefix is not None else columns[i] * 0 + 1
            else:
                running = running * columns[j]
            term = grads[j] * running
            total = term if total is None else total + term
        result.append(total)
    return movedim(stack(result, -1), -1, dim)


CUMSUM = define("cumsum", meta=_cumulative_meta, kernel=_cumsum_kernel,
                vjp=lambda node, g: (_reverse_cumsum(g, node.attrs["dim"]),),
                family="reduction", save_inputs=False)
CUMPROD = define("cumprod", meta=_cumulative_meta, kernel=_cumprod_kernel, vjp=_cumprod_grad,
                 family="reduction", save_outputs=True)


# ----- vjp helpers ---------------------------------------------------------------------------
def _count(shape: tuple, dim) -> int:
    if dim is None:
        return int(math.prod(shape))
    return int(math.prod(shape[axis] for axis in dim))


def _prod_grad(g, x, shape, dim, keepdim):
    from .elementwise import where

    # prod / x is wrong at zeros; the product of the other elements is exact everywhere.
    if dim is None:
        flat = x.reshape(-1)
        others = _exclusive_products(flat, 0).reshape(shape)
        return restore_reduced(g, shape, dim, keepdim) * others
    if len(dim) == 1:
        others = _exclusive_products(x, dim[0])
        return restore_reduced(g, shape, dim, keepdim) * others
    out = PROD(x, dim=dim, keepdim=True)
    return where(x == 0, x * 0, restore_reduced(g, shape, dim, keepdim) * out / x)


def _exclusive_products(x, dim):
    """For each element, the product of all other elements along `dim` (no division)."""
    from .movement import cat, narrow

    size = x.shape[dim]
    ones = narrow(x, dim, 0, 1) * 0 + 1
    before = cat([ones, narrow(CUMPROD(x, dim=dim), dim, 0, size - 1)], dim) if size > 1 else ones
    flipped = x.flip((dim,))
    after = cat([ones, narrow(CUMPROD(flipped, dim=dim), dim, 0, size - 1)], dim).flip(
        (dim,)) if size > 1 else ones
    return before * after


def sum_to(x: Tensor, shape: tuple) -> Tensor:
    """Sum `x` over the axes that broadcasting added to `shape` (the vjp of broadcasting)."""
    shape = tuple(shape)
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + axis for axis, size in enumerate(shape) if size == 1 and x.shape[lead + axis] != 1)
    if not axes:
        return x.reshape(shape) if tuple(x.shape) != shape else x
    return SUM(x, dim=axes, keepdim=True).reshape(shape)


# ----- public functions ----------------------------------------------------------------------
def sum(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return SUM(input, dim=normalize_dims(dim, input.ndim, "sum"), keepdim=keepdim)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    from .elementwise import where

    return sum(where(input != input, input * 0, input), dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return MEAN(input, dim=normalize_dims(dim, input.ndim, "mean"), keepdim=keepdim)


def nanmean(input, dim=None, keepdim=False):
    keep = input == input
    return nansum(input, dim, keepdim) / sum(keep, dim, keepdim)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return PROD(input, dim=normalize_dims(dim, input.ndim, "prod"), keepdim=keepdim)


def amax(input, dim=(), keepdim=False):
    return AMAX(input, dim=normalize_dims(dim, input.ndim, "amax") if dim != () else None,
                keepdim=keepdim)


def amin(input, dim=(), keepdim=False):
    return AMIN(input, dim=normalize_dims(dim, input.ndim, "amin") if dim != () else None,
                keepdim=keepdim)


def _extreme_with_index(name, reduce, arg, input, dim, keepdim, other):
    from .indexing import ReturnTypes
    from .elementwise import maximum, minimum

    if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        return (maximum if name == "max" else minimum)(input, dim)
    if other is not None:
        return (maximum if name == "max" else minimum)(input, other)
    if dim is None:
        return reduce(input)
    axes = normalize_dims(dim, input.ndim, name)
    indices = arg(input, dim=axes, keepdim=True)
    from .indexing import gather

    values = gather(input, axes[0] if axes else 0, indices) if input.ndim else input
    if not keepdim and input.ndim:
        values, indices = values.squeeze(axes[0]), indices.squeeze(axes[0])
    return ReturnTypes(name, values=values, indices=indices)


def max(input, dim=None, keepdim=False, *, other=None):
    return _extreme_with_index("max", amax, ARGMAX, input, dim, keepdim, other)


def min(input, dim=None, keepdim=False, *, other=None):
    return _extreme_with_index("min", amin, ARGMIN, input, dim, keepdim, other)


def aminmax(input, *, dim=None, keepdim=False):
    from .indexing import ReturnTypes

    return ReturnTypes("aminmax", min=amin(input, dim if dim is not None else (), keepdim),
                       max=amax(input, dim if dim is not None else (), keepdim))


def argmax(input, dim=None, keepdim=False):
    return ARGMAX(input, dim=normalize_dims(dim, input.ndim, "argmax"), keepdim=keepdim)


def argmin(input, dim=None, keepdim=False):
    return ARGMIN(input, dim=normalize_dims(dim, input.ndim, "argmin"), keepdim=keepdim)


def _correction(unbiased, correction) -> int:
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(unbiased, bool) and dim is None:  # var(x, False): positional unbiased
        pass
    return VAR(input, dim=normalize_dims(dim, input.ndim, "var"), keepdim=keepdim,
               correction=_correction(unbiased, correction))


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    from .elementwise import sqrt

    return sqrt(var(input, dim, unbiased, keepdim, correction=correction))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return (var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return (std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim))


def logsumexp(input, dim, keepdim=False):
    from .elementwise import exp, log, where

    axes = normalize_dims(dim, input.ndim, "logsumexp")
    peak = AMAX(input, dim=axes, keepdim=True).detach()
    peak = where(peak.isinf(), peak * 0, peak)  # all -inf (or inf) rows: don't subtract inf
    total = log(SUM(exp(input - peak), dim=axes, keepdim=True)) + peak
    return total if keepdim else total.squeeze(axes) if axes else total.reshape(())


def all(input, dim=None, keepdim=False):
    return ALL(input, dim=normalize_dims(dim, input.ndim, "all"), keepdim=keepdim)


def any(input, dim=None, keepdim=False):
    return ANY(input, dim=normalize_dims(dim, input.ndim, "any"), keepdim=keepdim)


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
    """torch.norm: the vector p-norm over `dim` (all elements by default); 'fro' is p=2."""
    from .elementwise import abs, pow, sqrt

    if dtype is not None:
        input = input.to(dtype)
    if p == "fro" or p == 2:
        return sqrt(sum(input * input, dim, keepdim))
    if p == "nuc":
        from ..linalg import matrix_norm

        return matrix_norm(input, "nuc", dim=dim if dim is not None else (-2, -1), keepdim=keepdim)
    if p == math.inf or p == "inf":
        return amax(abs(input), dim if dim is not None else (), keepdim)
    if p == -math.inf:
        return amin(abs(input), dim if dim is not None else (), keepdim)
    if p == 0:
        return sum((input != 0).to(input.dtype), dim, keepdim)
    if p == 1:
        return sum(abs(input), dim, keepdim)
    return pow(sum(pow(abs(input), p), dim, keepdim), 1.0 / p)
