"""Composite elementwise math written from the primitives (no records of their own): the
gradients come from the primitives' vjps."""

from __future__ import annotations

import math

from ..dtypes import bool as BOOL
from ..errors import located
from .elementwise import EQ, LOG, LOGADDEXP, LT, SIN, WHERE, clamp, copysign

__all__ = [
    "addcmul",
    "addcdiv",
    "logit",
    "sinc",
    "heaviside",
    "signbit",
    "logaddexp2",
    "diff",
    "dist",
]


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2 (the optimizers' fused update shape)."""
    product = tensor1 * tensor2
    return input + (product * value if value != 1 else product)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2."""
    if not (tensor1.is_floating_point() or tensor2.is_floating_point()):
        # torch dropped the old truncating integer behaviour rather than change it silently.
        raise located(
            RuntimeError(
                "Integer division with addcdiv is no longer supported: use "
                "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for the old "
                "truncating behaviour, or floating-point tensors for a true division."
            )
        )
    quotient = tensor1 / tensor2
    return input + (quotient * value if value != 1 else quotient)


def logit(input, eps=None):
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when eps is given."""
    if eps is not None:
        input = clamp(input, eps, 1 - eps)
    return LOG(input / (1 - input))


def sinc(input):
    """sin(pi x) / (pi x), and 1 at x = 0."""
    scaled = input * math.pi
    zero = EQ(input, 0)
    safe = WHERE(zero, scaled * 0 + 1, scaled)
    return WHERE(zero, safe * 0 + 1, SIN(safe) / safe)


def heaviside(input, values):
    """0 where input < 0, `values` where input == 0, 1 where input > 0."""
    if input.dtype is not values.dtype:
        raise RuntimeError(
            f"heaviside is not yet implemented for tensors with different dtypes: "
            f"{input.dtype.name} and {values.dtype.name}"
        )
    step = (input > 0).to(input.dtype)
    return WHERE(EQ(input, 0), values, step)


def signbit(input):
    """True where the sign bit is set (including -0.0)."""
    if not input.is_floating_point():
        return LT(input, 0)
    return LT(copysign(input.new_ones(()), input), 0)


def logaddexp2(input, other):
    """log2(2**a + 2**b)."""
    ln2 = math.log(2.0)
    return LOGADDEXP(input * ln2, other * ln2) / ln2


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along `dim` (for bool tensors: whether neighbours differ)."""
    from .movement import cat

    if n < 0:
        raise located(RuntimeError(f"diff expects n to be non-negative, but got n = {n}"))
    pieces = [t for t in (prepend, input, append) if t is not None]
    result = cat(pieces, dim) if len(pieces) > 1 else input
    for _ in range(n):
        size = result.shape[dim]
        later, earlier = result.narrow(dim, 1, size - 1), result.narrow(dim, 0, size - 1)
        result = later != earlier if result.dtype is BOOL else later - earlier
    return result


def dist(input, other, p=2):
    """The p-norm of input - other, over all elements."""
    from .reduction import norm

    return norm(input - other, p)
