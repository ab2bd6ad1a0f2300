"""Order statistics over a dim: quantile, nanquantile, cummax, cummin.

The positions are found without gradient (a sort, or the running-extreme index primitive
below); the values are then a gather, whose vjp sends each gradient to the chosen element, as
torch's backward does.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import located
from ..tensor import Tensor, _normalize_dim
from .families import define
from .registry import Spec

__all__ = ["cummax", "cummin", "quantile", "nanquantile"]


# ----- running extremes -----------------------------------------------------------------------
def _running_index_kernel(xp, x, dim, largest):
    """The index of the running max (min) along dim: the last position holding the running
    value, NaN being sticky (torch's rule: `x >= best or isnan(x)` takes over)."""
    if x.ndim == 0:
        return xp.zeros((), dtype=np.int64)
    accumulate = xp.maximum if largest else xp.minimum  # both propagate NaN
    source = x.astype(np.float64) if x.dtype.kind == "b" else x
    best = accumulate.accumulate(source, axis=dim)
    holds = (source == best) | ((source != source) & (best != best))
    positions = xp.arange(x.shape[dim]).reshape((-1,) + (1,) * (x.ndim - dim - 1))
    return xp.maximum.accumulate(xp.where(holds, positions, -1), axis=dim).astype(np.int64)


RUNNING_EXTREME_INDEX = define(
    "running_extreme_index",
    meta=lambda x, dim, largest: Spec(x.shape, dtypes.int64),
    kernel=_running_index_kernel,
    vjp=None,
    family="reduction",
    differentiable=False,
    save_inputs=False,
)


def _running_extreme(name, input, dim, largest):
    from .indexing import ReturnTypes, gather

    dim = _normalize_dim(dim, input.ndim, name) if input.ndim else 0
    indices = RUNNING_EXTREME_INDEX(input, dim=dim, largest=largest)
    if input.ndim == 0:
        return ReturnTypes(name, values=input.clone(), indices=indices)
    return ReturnTypes(name, values=gather(input, dim, indices), indices=indices)


def cummax(input, dim):
    """(values, indices) of the running maximum along dim."""
    return _running_extreme("cummax", input, dim, True)


def cummin(input, dim):
    """(values, indices) of the running minimum along dim."""
    return _running_extreme("cummin", input, dim, False)


# ----- quantiles ------------------------------------------------------------------------------
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _check_quantile(name, input, q, interpolation):
    if input.dtype not in (dtypes.float32, dtypes.float64):
        raise located(
            RuntimeError(
                f"{name}() input tensor must be either float or double dtype, got "
                f"{input.dtype.name}"
            )
        )
    if interpolation not in _INTERPOLATIONS:
        raise located(
            RuntimeError(
                f"{name}() interpolation must be one of {', '.join(_INTERPOLATIONS)}. Got "
                f"'{interpolation}'"
            )
        )
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise located(RuntimeError(f"{name}() q must be a scalar or 1D tensor, got {q.ndim}D"))
        if q.dtype is not input.dtype:
            raise located(
                RuntimeError(
                    f"{name}() q tensor must be same dtype as the input tensor, got "
                    f"{q.dtype.name} and {input.dtype.name}"
                )
            )
        values = q.detach().numpy().reshape(-1)
    else:
        values = np.asarray([q], dtype=np.float64)
    if not ((values >= 0) & (values <= 1)).all():
        raise located(RuntimeError(f"{name}() q values must be in the range [0, 1]"))


def _quantile(name, input, q, dim, keepdim, interpolation, ignore_nan):
    from .creation import tensor
    from .elementwise import lerp, where
    from .indexing import gather
    from .movement import movedim
    from .sorting import sort

    _check_quantile(name, input, q, interpolation)
    scalar_q = not isinstance(q, Tensor) or q.ndim == 0
    q = q if isinstance(q, Tensor) else tensor(float(q), dtype=input.dtype)
    q = q.detach().reshape(-1)
    if input.numel() == 0:
        raise located(RuntimeError(f"{name}() input tensor must be non-empty"))
    if dim is None:
        values = input.reshape(-1)
        axis = 0
    else:
        axis = _normalize_dim(dim, max(input.ndim, 1), name)
        values = movedim(input.reshape(1) if input.ndim == 0 else input, axis, -1)
        if input.ndim == 0:
            values = values.reshape(1)
    ordered = sort(values, dim=-1).values  # NaN sorts last
    size = ordered.shape[-1]
    missing = ordered.isnan()
    count = (~missing).sum(-1, keepdim=True) if ignore_nan else None
    # ranks: (Q, ..., 1), q along a new leading dim.
    lead = (-1,) + (1,) * ordered.ndim
    q_column = q.reshape(lead)
    if ignore_nan:
        ranks = q_column * (count.to(input.dtype) - 1)
        ranks = where(ranks < 0, 0.0, ranks)  # all-NaN slices pick their NaN
    else:
        ranks = q_column * (size - 1) + ordered[..., :1] * 0  # (Q, ..., 1)
        ranks = where(missing[..., -1:], float(size - 1), ranks)  # a NaN makes the result NaN
    if interpolation == "lower":
        ranks = ranks.floor()
    elif interpolation == "higher":
        ranks = ranks.ceil()
    elif interpolation == "nearest":
        ranks = ranks.round()
    below = ranks.floor().long()
    above = ranks.ceil().long().clamp(max=size - 1)
    expanded = ordered.unsqueeze(0).expand((q.shape[0],) + tuple(ordered.shape))
    low = gather(expanded, -1, below)
    high = gather(expanded, -1, above)
    if interpolation == "midpoint":
        result = lerp(low, high, 0.5)
    elif interpolation == "linear":
        result = lerp(low, high, ranks - below.to(input.dtype))
    else:
        result = low
    result = result.squeeze(-1)  # (Q, *kept dims)
    if keepdim:
        if dim is None:
            result = result.reshape((q.shape[0],) + (1,) * input.ndim)
        elif input.ndim:
            result = result.unsqueeze(axis + 1)
    return result.squeeze(0) if scalar_q else result


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """The q-th quantiles along dim (all elements when dim is None); NaN if a slice has NaN."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """quantile that ignores NaN (NaN only where a slice is all NaN)."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)
