"""Pairwise distances: `cdist` and the two primitives behind it.

    cdist(x1, x2, p)[..., i, j] = || x1[..., i, :] - x2[..., j, :] ||_p
    x1: (..., P, M), x2: (..., R, M) -> (..., P, R)

`cdist` takes every difference (a (..., P, R, M) temporary) and reduces it with the p-norm;
`euclidean_dist` is torch's matmul expansion for p = 2, ||a||^2 - 2 a.b + ||b||^2 as one
batched matmul, which torch uses when asked or, by default, when either side has more than 25
rows. Both have torch's backward: the gradient at a zero distance is 0 (a subgradient), not nan.
"""

from __future__ import annotations

import math

from .. import dtypes
from ..errors import located
from .families import broadcast_shapes, define
from .registry import Spec

__all__ = ["cdist"]

_COMPUTE_MODES = {
    "use_mm_for_euclid_dist_if_necessary": 0,
    "use_mm_for_euclid_dist": 1,
    "donot_use_mm_for_euclid_dist": 2,
}


def _pairwise_meta(x1, x2, **attrs):
    if x1.shape[:-2] != x2.shape[:-2] or x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"cdist: expected x1 (..., P, M) and x2 (..., R, M) with the same batch dims and M, "
            f"but got {list(x1.shape)} and {list(x2.shape)}"
        )
    if x1.dtype is not x2.dtype:
        raise RuntimeError(f"expected scalar type {x1.dtype.name} but found {x2.dtype.name}")
    return Spec(tuple(x1.shape[:-1]) + (x2.shape[-2],), x1.dtype)


# ----- the difference form ---------------------------------------------------------------------
def _cdist_kernel(xp, x1, x2, p):
    diff = xp.abs(x1[..., :, None, :] - x2[..., None, :, :])  # (..., P, R, M)
    if p == 0:
        return (diff != 0).sum(-1).astype(x1.dtype)
    if p == 1:
        return diff.sum(-1)
    if p == 2:
        return xp.sqrt((diff * diff).sum(-1))
    if math.isinf(p):
        return diff.max(-1) if diff.shape[-1] else diff.sum(-1)  # no columns: distance 0
    return (diff**p).sum(-1) ** (1.0 / p)


def _cdist_vjp(node, g):
    x1, x2 = node.inputs
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # (..., P, R, M)
    term = _difference_grad(diff, g.unsqueeze(-1), node.out.unsqueeze(-1), node.attrs["p"])
    # the gradient is odd in the difference: x2's is the same term, summed the other way, negated
    return (
        term.sum(-2) if node.needs_grad[0] else None,
        -term.sum(-3) if node.needs_grad[1] else None,
    )


def _difference_grad(diff, g, dist, p: float):
    """d dist / d diff times g, per element of diff, with torch's values where it has a kink."""
    from .creation import zeros_like
    from .elementwise import where

    if p == 0:
        return zeros_like(diff)
    if p == 1:
        return g * diff.sign()
    if math.isinf(p):
        # every coordinate that attains the maximum gets the whole gradient, as in torch
        return g * diff.sign() * (diff.abs() == dist).to(diff.dtype)
    at_zero = dist == 0
    safe_dist = where(at_zero, 1.0, dist)  # keeps nan/inf out of the unused branch's backward
    if p == 2:
        return where(at_zero, 0.0, g * diff / safe_dist)
    if p < 2:
        # |diff| ** (p - 1) is infinite at diff = 0 when p < 1: torch's gradient is 0 there
        hole = diff == 0
        magnitude = where(hole, 1.0, diff.abs()) ** (p - 1)
        value = diff.sign() * magnitude * g / safe_dist ** (p - 1)
        return where(at_zero | hole, 0.0, value)
    value = diff * diff.abs() ** (p - 2) * g / safe_dist ** (p - 1)
    return where(at_zero, 0.0, value)


CDIST = define(
    "cdist",
    meta=_pairwise_meta,
    kernel=_cdist_kernel,
    vjp=_cdist_vjp,
    family="library",
    save_outputs=True,
    eager_check=True,
    doc="p-norm of every difference x1[..., i, :] - x2[..., j, :]: (..., P, R).",
)


# ----- the matmul expansion (p = 2) ------------------------------------------------------------
def _euclidean_kernel(xp, x1, x2):
    # [-2 a, |a|^2, 1] . [b, 1, |b|^2] = |a|^2 - 2 a.b + |b|^2, one matmul (torch's formula)
    norm1 = (x1 * x1).sum(-1, keepdims=True)
    norm2 = (x2 * x2).sum(-1, keepdims=True)
    left = xp.concatenate([x1 * -2, norm1, xp.ones_like(norm1)], -1)
    right = xp.concatenate([x2, xp.ones_like(norm2), norm2], -1)
    squared = xp.matmul(left, xp.swapaxes(right, -1, -2))
    return xp.sqrt(xp.maximum(squared, 0))  # rounding can make a zero distance slightly negative


def _euclidean_vjp(node, g):
    from .elementwise import where
    from .linalg import matmul

    x1, x2 = node.inputs
    dist = node.out
    at_zero = dist == 0
    ratio = where(at_zero, 0.0, g / where(at_zero, 1.0, dist))  # (..., P, R)
    grad1 = grad2 = None
    if node.needs_grad[0]:
        grad1 = x1 * ratio.sum(-1, keepdim=True) - matmul(ratio, x2)
    if node.needs_grad[1]:
        grad2 = x2 * ratio.sum(-2).unsqueeze(-1) - matmul(ratio.mT, x1)
    return grad1, grad2


EUCLIDEAN_DIST = define(
    "euclidean_dist",
    meta=_pairwise_meta,
    kernel=_euclidean_kernel,
    vjp=_euclidean_vjp,
    family="library",
    save_outputs=True,
    eager_check=True,
    doc="cdist for p = 2 through one matmul (torch's _euclidean_dist): (..., P, R).",
)


# ----- the public function ---------------------------------------------------------------------
def _check_cdist(x1, x2, p, compute_mode) -> int:
    for name, x in (("X1", x1), ("X2", x2)):
        if x.ndim < 2:
            raise located(
                RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x.ndim}D")
            )
    if x1.shape[-1] != x2.shape[-1]:
        raise located(
            RuntimeError(
                f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} "
                f"X2: {x2.shape[-1]}"
            )
        )
    if not x1.dtype.is_floating_point:
        raise located(
            RuntimeError(f"cdist only supports floating-point dtypes, X1 got: {x1.dtype.name}")
        )
    if x1.dtype in (dtypes.float16, dtypes.bfloat16):
        raise located(NotImplementedError(f'"cdist" not implemented for {x1.dtype.name}'))
    if x2.dtype is not x1.dtype:
        raise located(
            RuntimeError(
                f"expected scalar type {x1.dtype.name} but found {x2.dtype.name} (cdist needs "
                "x1 and x2 of one dtype)"
            )
        )
    if p < 0:
        raise located(RuntimeError(f"cdist only supports non-negative p values, got p={p}"))
    if compute_mode not in _COMPUTE_MODES:
        raise located(ValueError(f"{compute_mode} is not a valid value for compute_mode"))
    return _COMPUTE_MODES[compute_mode]


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Distances between the rows of x1 (..., P, M) and of x2 (..., R, M): (..., P, R)."""
    mode = _check_cdist(x1, x2, p, compute_mode)
    batch = broadcast_shapes(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]), op="cdist")
    if tuple(x1.shape[:-2]) != batch:
        x1 = x1.expand(batch + tuple(x1.shape[-2:]))
    if tuple(x2.shape[:-2]) != batch:
        x2 = x2.expand(batch + tuple(x2.shape[-2:]))
    rows1, rows2 = x1.shape[-2], x2.shape[-2]
    # torch's rule: the matmul form for p = 2 when asked, or by default past 25 rows a side
    # (empty inputs always take the difference form)
    use_mm = mode == 1 or (mode == 0 and (rows1 > 25 or rows2 > 25))
    if p == 2 and use_mm and x1.numel() and x2.numel():
        return EUCLIDEAN_DIST(x1, x2)
    return CDIST(x1, x2, p=float(p))
