"""softmax and log_softmax: fused kernels with their own vjps (they are hot in attention and
classification losses, and the fused forms are numerically stable).

    softmax(x)_i     = exp(x_i - m) / sum_j exp(x_j - m),   m = max_j x_j
    log_softmax(x)_i = x_i - m - log sum_j exp(x_j - m)

The vjps use only the saved output, so they are themselves differentiable qilin ops.
"""

from __future__ import annotations

from .. import dtypes
from ..tensor import _normalize_dim
from .families import define
from .registry import Spec

__all__ = ["softmax", "log_softmax"]  # softmin is nn.functional.softmin in torch


def _meta(x, dim):
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"softmax: expected a floating point input, got {x.dtype.name}")
    return Spec(x.shape, x.dtype)


def _shifted(xp, x, dim):
    peak = x.max(axis=dim, keepdims=True) if x.size else x
    # An all -inf slice has no finite maximum: shift by 0 there so the result is nan, as torch.
    return x - xp.where(xp.isfinite(peak), peak, 0) if x.size else x


def _softmax_kernel(xp, x, dim):
    exponent = xp.exp(_shifted(xp, x, dim))
    return exponent / exponent.sum(axis=dim, keepdims=True)


def _log_softmax_kernel(xp, x, dim):
    shifted = _shifted(xp, x, dim)
    return shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))


def _softmax_vjp(node, g):
    y, dim = node.out, node.attrs["dim"]
    return (y * (g - (g * y).sum(dim, keepdim=True)),)


def _log_softmax_vjp(node, g):
    y, dim = node.out, node.attrs["dim"]
    return (g - y.exp() * g.sum(dim, keepdim=True),)


SOFTMAX = define(
    "softmax",
    meta=_meta,
    kernel=_softmax_kernel,
    vjp=_softmax_vjp,
    family="reduction",
    save_inputs=False,
    save_outputs=True,
)
LOG_SOFTMAX = define(
    "log_softmax",
    meta=_meta,
    kernel=_log_softmax_kernel,
    vjp=_log_softmax_vjp,
    family="reduction",
    save_inputs=False,
    save_outputs=True,
)


def _prepare(input, dim, dtype, name):
    if dim is None:
        raise TypeError(f"{name}() missing the required argument 'dim'")
    if dtype is not None:
        input = input.to(dtypes.to_dtype(dtype))
    elif not input.is_floating_point():
        input = input.to(dtypes.get_default_dtype())
    return input, _normalize_dim(dim, input.ndim, name)


def softmax(input, dim=None, dtype=None):
    input, dim = _prepare(input, dim, dtype, "softmax")
    return SOFTMAX(input, dim=dim)


def log_softmax(input, dim=None, dtype=None):
    input, dim = _prepare(input, dim, dtype, "log_softmax")
    return LOG_SOFTMAX(input, dim=dim)


def softmin(input, dim=None, dtype=None):
    input, dim = _prepare(input, dim, dtype, "softmin")
    return SOFTMAX(-input, dim=dim)
