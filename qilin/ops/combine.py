"""Tensors assembled from other tensors: block_diag, cartesian_prod, combinations.

All three are composites over primitives (cat, pad-by-cat, meshgrid views, index_select), so
their gradients come from those ops' vjps.
"""

from __future__ import annotations

import itertools

import numpy as np

from .. import dtypes
from ..errors import located
from ..tensor import Tensor

__all__ = ["block_diag", "cartesian_prod", "combinations"]


def block_diag(*tensors):
    """The tensors (0-d: 1x1, 1-d (n,): 1 x n, 2-d as they are) on the diagonal of one matrix."""
    from .creation import zeros
    from .movement import cat, reshape

    blocks = []
    for index, tensor in enumerate(tensors):
        if not isinstance(tensor, Tensor):
            raise located(
                TypeError(
                    f"block_diag(): expected Tensor as element {index}, "
                    f"but got {type(tensor).__name__}"
                )
            )
        if tensor.ndim > 2:
            raise located(
                RuntimeError(
                    "torch.block_diag: Input tensors must have 2 or fewer dimensions. Input "
                    f"{index} has {tensor.ndim} dimensions"
                )
            )
        blocks.append(reshape(tensor, (1, -1)) if tensor.ndim < 2 else tensor)
    if not blocks:
        return zeros(1, 0)
    dtype = dtypes.result_type(*blocks)
    device = blocks[0].device
    total = sum(b.shape[1] for b in blocks)
    rows, before = [], 0
    for block in blocks:
        height, width = block.shape
        # each block's rows: zeros left of it, the block, zeros right of it
        left = zeros(height, before, dtype=dtype, device=device)
        right = zeros(height, total - before - width, dtype=dtype, device=device)
        rows.append(cat([left, block.to(dtype), right], 1))
        before += width
    return cat(rows, 0)


def _require_vectors(tensors, name: str) -> list:
    tensors = list(
        tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    )
    for tensor in tensors:
        if tensor.ndim != 1:
            raise located(
                RuntimeError(f"Expect a 1D vector, but got shape {list(tensor.shape)} ({name})")
            )
    return tensors


def cartesian_prod(*tensors):
    """Every tuple (a, b, ...) with a from the first tensor, b from the second, ...: (N, k)."""
    from .movement import meshgrid, stack

    tensors = _require_vectors(tensors, "cartesian_prod")
    if not tensors:
        raise located(RuntimeError("meshgrid expects a non-empty TensorList"))
    if len(tensors) == 1:
        return tensors[0]
    if any(t.dtype is not tensors[0].dtype for t in tensors):
        raise located(
            RuntimeError(
                "meshgrid expects all tensors to have the same dtype (cartesian_prod got "
                f"{[t.dtype.name for t in tensors]})"
            )
        )
    grids = meshgrid(*tensors, indexing="ij")
    return stack([grid.reshape(-1) for grid in grids], 1)


def combinations(input, r=2, with_replacement=False):
    """Every length-r combination of input's elements, in lexicographic order of positions."""
    from .creation import empty, tensor
    from .indexing import index_select

    if input.ndim != 1:
        raise located(
            RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)} (combinations)")
        )
    if r < 0:
        raise located(RuntimeError(f"Expect a non-negative number, but got {r}"))
    if r == 0:
        return empty(0, dtype=input.dtype, device=input.device)
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    positions = np.array(list(pick(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    # one gather of all positions: the gradient is index_select's (index_add), as torch's mask
    flat = index_select(input, 0, tensor(positions.reshape(-1), device=input.device))
    return flat.reshape(-1, r)
