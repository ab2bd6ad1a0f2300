"""Parameters as one flat vector and back (torch.nn.utils.parameters_to_vector)."""

from __future__ import annotations

import qilin

from ...errors import located
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters) -> Tensor:
    """Concatenate the flattened parameters into one 1-D tensor (differentiable)."""
    return qilin.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of `vec` into each parameter's data (no autograd history)."""
    if not isinstance(vec, Tensor):
        raise located(TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}"))
    offset = 0
    for p in parameters:
        count = p.numel()
        p.data = vec[offset : offset + count].view(tuple(p.shape)).detach()  # shares vec, as torch
        offset += count
    if offset != vec.numel():
        raise located(
            RuntimeError(
                f"vector_to_parameters: the vector has {vec.numel()} elements but the parameters "
                f"hold {offset}"
            )
        )
