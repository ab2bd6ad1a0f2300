"""Gradient clipping, in place on `.grad`, as torch.nn.utils.clip_grad_*."""

from __future__ import annotations

import math

import qilin

from ...autograd import no_grad
from ...errors import located
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm"]


def _grads(parameters) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None) -> Tensor:
    """The `norm_type`-norm of all the tensors together, as if concatenated into one vector."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return qilin.tensor(0.0)
    with no_grad():
        norms = qilin.stack([qilin.linalg.vector_norm(t, norm_type) for t in tensors])
        total = qilin.linalg.vector_norm(norms, norm_type)
    if error_if_nonfinite and not bool(qilin.isfinite(total)):
        raise located(
            RuntimeError(
                f"The total norm of order {norm_type} for gradients from `parameters` is "
                "non-finite, so it cannot be clipped. To disable this error and scale the "
                "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
            )
        )
    return total


def clip_grad_norm_(
    parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None
) -> Tensor:
    """Scale all gradients together so their total norm is at most `max_norm`; returns the
    total norm before clipping. The scale is min(1, max_norm / (norm + 1e-6)), as torch."""
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if not grads:
        return total
    with no_grad():
        scale = (float(max_norm) / (total + 1e-6)).clamp(max=1.0)
        for grad in grads:
            grad.mul_(scale.to(grad.dtype))
    return total


def clip_grad_value_(parameters, clip_value, foreach=None) -> None:
    """Clamp every gradient element into [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    if math.isnan(clip_value):
        raise located(ValueError("clip_value must not be nan"))
    with no_grad():
        for grad in _grads(parameters):
            grad.clamp_(-clip_value, clip_value)
