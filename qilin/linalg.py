"""qilin.linalg: the torch.linalg namespace (matrix norms, inverses, decompositions)."""

from __future__ import annotations

from .ops.linalg import matmul
from .ops.reduction import norm as _norm

__all__ = ["matmul", "norm", "vector_norm"]


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    return _norm(x, ord, dim, keepdim, dtype=dtype)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    return _norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
