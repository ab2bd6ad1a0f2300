"""Specs for the fused normalising primitive `norm_affine` and its first-order backward kernel.

The references are the formula in NumPy and in torch ops (mean, biased variance, affine), so
they do not share the fused kernels' code paths."""

import numpy as np

from qilin.ops.normalization import NORM_AFFINE, NORM_AFFINE_BACKWARD

from .harness import Arg, OpSpec, make_tests


def _numpy_norm(x, weight, bias, dims, eps):
    mean = x.mean(axis=dims, keepdims=True)
    var = x.var(axis=dims, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    y = y if weight is None else y * weight
    return (y if bias is None else y + bias), mean, var


def _torch_norm(lib, x, weight, bias, dims, eps):
    var, mean = lib.var_mean(x, dims, correction=0, keepdim=True)
    y = (x - mean) / lib.sqrt(var + eps)
    y = y if weight is None else y * weight
    return (y if bias is None else y + bias), mean, var


def _ours(lib, x, weight, bias, dims, eps):
    return NORM_AFFINE(x, weight, bias, dims=dims, eps=eps)


# (x, weight, bias, dims, eps): batch norm (per-channel weight), layer norm (trailing weight),
# group / instance norm (no weight), and a weight without a bias
SAMPLES = [
    (Arg((4, 3, 2, 2)), Arg((3, 1, 1)), Arg((3, 1, 1)), (0, 2, 3), 1e-5),
    (Arg((2, 3, 5)), Arg((5,)), Arg((5,)), (2,), 1e-5),
    (Arg((2, 3, 4)), Arg((3, 4)), Arg((3, 4)), (1, 2), 1e-3),
    (Arg((3, 2, 6)), None, None, (2,), 1e-5),
    (Arg((5, 3)), Arg((3,)), None, (0,), 0.1),
]


def _torch_backward(lib, g, x, weight, bias, dims, eps):
    leaves = [t.detach().requires_grad_(True) for t in (x, weight, bias) if t is not None]
    inputs = iter(leaves)
    x_, w_, b_ = (next(inputs) if t is not None else None for t in (x, weight, bias))
    y = _torch_norm(lib, x_, w_, b_, dims, eps)[0]
    grads = lib.autograd.grad(y, leaves, g)
    grads = iter(grads)
    zero = lib.zeros((), dtype=x.dtype)
    return tuple(next(grads) if t is not None else zero for t in (x, weight, bias))


def _numpy_backward(g, x, weight, bias, dims, eps):
    """Reference gradients from the textbook formula, in float64."""
    mean = x.mean(axis=dims, keepdims=True)
    rstd = 1 / np.sqrt(x.var(axis=dims, keepdims=True) + eps)
    normalized = (x - mean) * rstd
    gn = g if weight is None else g * weight
    gx = rstd * (
        gn
        - gn.mean(axis=dims, keepdims=True)
        - normalized * (gn * normalized).mean(dims, keepdims=True)
    )

    def reduce_to(array, shape):
        lead = array.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(shape) if s == 1 and array.shape[lead + i] != 1
        )
        return array.sum(axis=axes).reshape(shape)

    zero = np.zeros((), x.dtype)
    gw = zero if weight is None else reduce_to(g * normalized, weight.shape)
    gb = zero if bias is None else reduce_to(g, bias.shape)
    return gx, gw, gb


def _ours_backward(lib, g, x, weight, bias, dims, eps):
    return NORM_AFFINE_BACKWARD(g, x, weight, bias, dims=dims, eps=eps)


def _with_grad_arg(sample):
    x, weight, bias, dims, eps = sample
    return (Arg(x.shape), x, weight, bias, dims, eps)


SPECS = [
    OpSpec(
        "norm_affine",
        lambda lib, *args: _ours(lib, *args)[0],
        SAMPLES,
        ref=lambda *args: _numpy_norm(*args)[0],
        torch_call=lambda lib, *args: _torch_norm(lib, *args)[0],
        name="norm_affine_output",
    ),
    OpSpec(
        "norm_affine",
        _ours,
        SAMPLES,
        ref=_numpy_norm,
        torch_call=_torch_norm,
        grad=False,
        name="norm_affine_statistics",
    ),
    OpSpec(
        "norm_affine_backward",
        _ours_backward,
        [_with_grad_arg(sample) for sample in SAMPLES],
        ref=_numpy_backward,
        torch_call=_torch_backward,
        grad=False,
    ),
]


make_tests(SPECS, globals())
