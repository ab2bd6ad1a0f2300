"""Normalisation in nn.functional: batch, layer, group, instance, RMS and local response norm.

Batch, layer, group and instance norm share one fused primitive (ops/normalization.py:
`norm_affine`, which returns the output and the batch statistics); normalising with known
statistics (eval mode) and RMS / local response norm are composites of qilin ops.
"""

from __future__ import annotations

import math

from .. import dtypes
from ..autograd import no_grad
from ..errors import located
from ..ops import elementwise
from ..ops.normalization import NORM_AFFINE

__all__ = [
    "batch_norm",
    "layer_norm",
    "group_norm",
    "instance_norm",
    "rms_norm",
    "local_response_norm",
]


def _shape_text(shape) -> str:
    return "[" + ", ".join(str(size) for size in shape) + "]"


def _normalized_shape(normalized_shape) -> tuple:
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(int(size) for size in normalized_shape)


# ----- argument checks (torch's messages) ----------------------------------------------------
def _check_affine(name: str, value, shape: tuple) -> None:
    if value is not None and tuple(value.shape) != shape:
        raise located(
            RuntimeError(
                f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                f"shape {_shape_text(value.shape)} and normalized_shape = {_shape_text(shape)}"
            )
        )


def _check_trailing(input, shape: tuple, star: str = "*, ") -> None:
    if input.ndim < len(shape) or tuple(input.shape[input.ndim - len(shape) :]) != shape:
        raise located(
            RuntimeError(
                f"Given normalized_shape={_shape_text(shape)}, expected input with shape "
                f"[{star}{_shape_text(shape)[1:]}, but got input of size"
                f"{_shape_text(input.shape)}"
            )
        )


def _check_channels(values: dict, channels: int) -> None:
    """running_mean / running_var / weight / bias must each hold one value per channel."""
    for name, value in values.items():
        if value is not None and value.numel() != channels:
            raise located(
                RuntimeError(f"{name} should contain {channels} elements not {value.numel()}")
            )


def _check_batch(input, what: str = "value per channel", spatial_only: bool = False) -> None:
    """Training statistics need more than one value to average over."""
    shape = tuple(input.shape)
    count = math.prod(shape[2:]) if spatial_only else shape[0] * math.prod(shape[2:])
    if count == 1:
        raise located(
            ValueError(
                f"Expected more than 1 {what} when training, got input size {_shape_text(shape)}"
            )
        )


def _check_channel_dim(input, name: str) -> None:
    if input.ndim < 2:
        raise located(
            RuntimeError(
                f"{name}: expected an input of shape (N, C, *) with at least 2 dimensions, "
                f"but got input of size {_shape_text(input.shape)}"
            )
        )


def _per_channel(value, ndim: int):
    """A (C,) tensor shaped (C, 1, ..., 1) to broadcast against (N, C, *) input."""
    return None if value is None else value.reshape((-1,) + (1,) * (ndim - 2))


def _normalize_with(input, mean, var, weight, bias, eps):
    """(x - mean) * (weight / sqrt(var + eps)) + bias with known (C,) statistics."""
    ndim = input.ndim
    scale = elementwise.rsqrt(_per_channel(var, ndim) + eps)
    if weight is not None:
        scale = scale * _per_channel(weight, ndim)
    result = (input - _per_channel(mean, ndim)) * scale
    return result if bias is None else result + _per_channel(bias, ndim)


def _update_running(running, batch_value, momentum: float) -> None:
    """running = (1 - momentum) * running + momentum * batch_value, in place and untracked."""
    with no_grad():
        running.mul_(1 - momentum).add_(
            batch_value.reshape(running.shape).to(running.dtype) * momentum
        )


# ----- batch norm ----------------------------------------------------------------------------
def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
):
    """Normalise each channel (dim 1) over the batch and spatial dims.

    Training: with the batch's mean and biased variance, and running_mean / running_var (when
    given) move towards the batch's mean and unbiased variance by `momentum`, in place.
    Evaluation: with running_mean / running_var."""
    _check_channel_dim(input, "batch_norm")
    channels = input.shape[1]
    _check_channels(
        {"running_mean": running_mean, "running_var": running_var, "weight": weight, "bias": bias},
        channels,
    )
    if not training:
        if running_mean is None or running_var is None:
            missing = "running_mean" if running_mean is None else "running_var"
            raise located(RuntimeError(f"{missing} must be defined in evaluation mode"))
        return _normalize_with(input, running_mean, running_var, weight, bias, eps)
    _check_batch(input)
    dims = (0,) + tuple(range(2, input.ndim))
    ndim = input.ndim
    output, mean, var = NORM_AFFINE(
        input, _per_channel(weight, ndim), _per_channel(bias, ndim), dims=dims, eps=eps
    )
    count = input.numel() // max(channels, 1)
    if count == 0:  # an empty batch leaves the running statistics alone, as in torch
        return output
    if running_mean is not None:
        _update_running(running_mean, mean, momentum)
    if running_var is not None:
        _update_running(running_var, var * (count / max(count - 1, 1)), momentum)
    return output


# ----- layer norm ----------------------------------------------------------------------------
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing `normalized_shape` dims
    (biased variance)."""
    shape = _normalized_shape(normalized_shape)
    _check_affine("weight", weight, shape)
    _check_affine("bias", bias, shape)
    _check_trailing(input, shape)
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    return NORM_AFFINE(input, weight, bias, dims=dims, eps=eps)[0]


# ----- group norm ----------------------------------------------------------------------------
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Split the C channels into `num_groups` groups and normalise each group of each sample
    over its channels and spatial dims; then a per-channel weight and bias."""
    if input.ndim < 2:
        raise located(
            RuntimeError(
                f"Expected at least 2 dimensions for input tensor but received {input.ndim}"
            )
        )
    shape = tuple(input.shape)
    batch, channels = shape[0], shape[1]
    if channels % num_groups:
        raise located(
            RuntimeError(
                "Expected number of channels in input to be divisible by num_groups, but got "
                f"input of shape {_shape_text(shape)} and num_groups={num_groups}"
            )
        )
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and (value.ndim != 1 or value.numel() != channels):
            raise located(
                RuntimeError(
                    f"Expected {name} to be a vector of size equal to the number of channels in "
                    f"input, but got {name} of shape {_shape_text(value.shape)} and input of "
                    f"shape {_shape_text(shape)}"
                )
            )
    # (N, G, C/G * spatial), spelled out: -1 is ambiguous for an empty batch
    grouped = input.reshape(batch, num_groups, input.numel() // max(batch * num_groups, 1))
    output = NORM_AFFINE(grouped, None, None, dims=(2,), eps=eps)[0].reshape(shape)
    if weight is not None:
        output = output * _per_channel(weight, input.ndim)
    if bias is not None:
        output = output + _per_channel(bias, input.ndim)
    return output


# ----- instance norm -------------------------------------------------------------------------
def instance_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats=True,
    momentum=0.1,
    eps=1e-5,
):
    """Normalise each channel of each sample over its spatial dims (N, C, *).

    With `use_input_stats` the running statistics (when given) move towards the batch average
    of the per-sample means and unbiased variances; without, they normalise instead."""
    _check_channel_dim(input, "instance_norm")
    channels = input.shape[1]
    _check_channels(
        {"running_mean": running_mean, "running_var": running_var, "weight": weight, "bias": bias},
        channels,
    )
    if not use_input_stats:
        if running_mean is None or running_var is None:
            missing = "running_mean" if running_mean is None else "running_var"
            raise located(
                RuntimeError(
                    f"Expected running_mean and running_var to be defined when "
                    f"use_input_stats is false ({missing} is None)"
                )
            )
        return _normalize_with(input, running_mean, running_var, weight, bias, eps)
    _check_batch(input, "spatial element", spatial_only=True)
    ndim = input.ndim
    dims = tuple(range(2, ndim))
    output, mean, var = NORM_AFFINE(
        input, _per_channel(weight, ndim), _per_channel(bias, ndim), dims=dims, eps=eps
    )
    count = math.prod(input.shape[2:])
    if running_mean is not None:
        _update_running(running_mean, mean.mean(0), momentum)
    if running_var is not None:
        _update_running(running_var, (var * (count / max(count - 1, 1))).mean(0), momentum)
    return output


# ----- RMS norm ------------------------------------------------------------------------------
def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) * weight over the trailing `normalized_shape` dims; eps=None
    is the machine epsilon of the input's dtype."""
    shape = _normalized_shape(normalized_shape)
    _check_affine("weight", weight, shape)
    _check_trailing(input, shape, star="*")
    if eps is None:
        eps = dtypes.finfo(input.dtype).eps
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    output = input * elementwise.rsqrt((input * input).mean(dims, keepdim=True) + eps)
    return output if weight is None else output * weight


# ----- local response norm -------------------------------------------------------------------
def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x_c / (k + alpha / size * sum of x_c'^2 over the `size` channels around c)^beta, the
    window zero-padded by size // 2 before and (size - 1) // 2 after channel c."""
    if input.ndim < 3:
        raise located(
            ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
        )
    if input.numel() == 0:
        return input
    from .functional import pad  # late: functional star-imports this module

    channels = input.shape[1]
    squares = (input * input).movedim(1, -1)  # (N, *, C): pad the last dim
    padded = pad(squares, (size // 2, (size - 1) // 2))
    window = padded[..., 0:channels]
    for offset in range(1, size):  # a loop over the window's offsets, not over elements
        window = window + padded[..., offset : offset + channels]
    denominator = (window.movedim(-1, 1) * (alpha / size) + k) ** beta
    return input / denominator
