"""Discrete Fourier transforms and the window functions of spectral analysis.

qilin has no complex dtype, so a complex tensor is held as a real tensor whose last dim has
size 2 (real, imaginary): the layout of torch.view_as_real. Three primitives cover every
transform, as torch's `_fft_c2c`, `_fft_r2c` and `_fft_c2r` do:

- `fft_c2c(x, dims, inverse, norm)`: complex -> complex, forward or inverse.
- `fft_r2c(x, dims, norm)`: real -> the one-sided half (last transformed dim n -> n // 2 + 1).
- `fft_c2r(x, dims, last_size, norm)`: a one-sided half -> real of length `last_size`.

Each is linear, so its vjp is its adjoint, itself a transform: the adjoint of a transform
normalized by `norm` is the opposite-direction transform normalized by the dual of `norm`
("backward" <-> "forward"; "ortho" is unitary). r2c drops the negative frequencies, so its
adjoint zero-pads them back before the inverse; c2r counts each interior frequency twice (it
stands for its conjugate too), so its adjoint doubles those entries of the forward transform.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..errors import located
from . import creation, elementwise, movement
from .families import define
from .registry import Spec

__all__ = [
    "hann_window",
    "hamming_window",
    "bartlett_window",
    "blackman_window",
    "kaiser_window",
]

NORMS = ("backward", "forward", "ortho")
_DUAL_NORM = {"backward": "forward", "forward": "backward", "ortho": "ortho"}
_FFT_DTYPES = (dtypes.float32, dtypes.float64)


# ----- kernels ---------------------------------------------------------------------------------
def _to_complex(xp, x):
    return x[..., 0] + 1j * x[..., 1]


def _to_real(xp, c, dtype):
    return xp.stack([c.real, c.imag], axis=-1).astype(dtype, copy=False)


def _c2c_kernel(xp, x, dims, inverse, norm):
    transform = xp.fft.ifftn if inverse else xp.fft.fftn
    return _to_real(xp, transform(_to_complex(xp, x), axes=dims, norm=norm), x.dtype)


def _r2c_kernel(xp, x, dims, norm):
    return _to_real(xp, xp.fft.rfftn(x, axes=dims, norm=norm), x.dtype)


def _c2r_kernel(xp, x, dims, last_size, norm):
    c = _to_complex(xp, x)
    sizes = [c.shape[d] for d in dims[:-1]] + [last_size]
    return xp.fft.irfftn(c, s=sizes, axes=dims, norm=norm).astype(x.dtype, copy=False)


# ----- meta rules ------------------------------------------------------------------------------
def _check(x, dims, norm, name: str, complex_input: bool) -> None:
    if x.dtype not in _FFT_DTYPES:
        raise located(
            RuntimeError(f"{name}: expected a float32 or float64 tensor, got {x.dtype.name}")
        )
    if norm not in NORMS:
        raise located(RuntimeError(f'Invalid normalization mode: "{norm}"'))
    rank = x.ndim - 1 if complex_input else x.ndim
    if complex_input and (x.ndim == 0 or x.shape[-1] != 2):
        raise located(
            RuntimeError(
                f"{name}: expected a complex tensor as real pairs (last dim of size 2), got "
                f"shape {tuple(x.shape)}"
            )
        )
    if not dims or any(not 0 <= d < rank for d in dims) or len(set(dims)) != len(dims):
        raise located(
            IndexError(f"{name}: dims {dims} out of range or repeated for a {rank}-D signal")
        )
    for d in dims:
        if x.shape[d] < 1:
            raise located(RuntimeError(f"Invalid number of data points ({x.shape[d]}) specified"))


def _c2c_meta(x, dims, inverse, norm):
    _check(x, dims, norm, "fft_c2c", True)
    return Spec(x.shape, x.dtype)


def _r2c_meta(x, dims, norm):
    _check(x, dims, norm, "fft_r2c", False)
    shape = list(x.shape)
    shape[dims[-1]] = shape[dims[-1]] // 2 + 1
    return Spec((*shape, 2), x.dtype)


def _c2r_meta(x, dims, last_size, norm):
    _check(x, dims, norm, "fft_c2r", True)
    if last_size < 1 or x.shape[dims[-1]] != last_size // 2 + 1:
        raise located(
            RuntimeError(
                f"fft_c2r: output size {last_size} needs {last_size // 2 + 1} input "
                f"frequencies along dim {dims[-1]}, got {x.shape[dims[-1]]}"
            )
        )
    shape = list(x.shape[:-1])
    shape[dims[-1]] = last_size
    return Spec(tuple(shape), x.dtype)


# ----- vjps (adjoint transforms) ---------------------------------------------------------------
def _c2c_vjp(node, g):
    attrs = node.attrs
    return (
        FFT_C2C(
            g, dims=attrs["dims"], inverse=not attrs["inverse"], norm=_DUAL_NORM[attrs["norm"]]
        ),
    )


def _r2c_vjp(node, g):
    dims, norm = node.attrs["dims"], node.attrs["norm"]
    last = dims[-1]
    size = node.input_meta[0][0][last]
    missing = size - g.shape[last]  # the negative frequencies r2c left out
    if missing > 0:
        shape = list(g.shape)
        shape[last] = missing
        g = movement.cat([g, creation.zeros(shape, dtype=g.dtype, device=g.device)], last)
    full = FFT_C2C(g, dims=dims, inverse=True, norm=_DUAL_NORM[norm])
    return (movement.select(full, -1, 0),)


def _c2r_vjp(node, g):
    dims, last_size = node.attrs["dims"], node.attrs["last_size"]
    half = FFT_R2C(g, dims=dims, norm=_DUAL_NORM[node.attrs["norm"]])
    count = last_size // 2 + 1
    weights = np.full(count, 2.0)
    weights[0] = 1.0
    if last_size % 2 == 0:
        weights[-1] = 1.0  # the Nyquist frequency is its own conjugate
    shape = [1] * half.ndim
    shape[dims[-1]] = count
    weights = creation.tensor(weights.reshape(shape), dtype=g.dtype, device=g.device)
    return (elementwise.mul(half, weights),)


FFT_C2C = define(
    "fft_c2c",
    meta=_c2c_meta,
    kernel=_c2c_kernel,
    vjp=_c2c_vjp,
    family="library",
    save_inputs=False,
    eager_check=True,
    doc="Complex-to-complex DFT over `dims` of a (..., 2) real-pair tensor.",
)
FFT_R2C = define(
    "fft_r2c",
    meta=_r2c_meta,
    kernel=_r2c_kernel,
    vjp=_r2c_vjp,
    family="library",
    save_inputs=False,
    eager_check=True,
    doc="Real-to-complex one-sided DFT over `dims`; the result is a (..., 2) real-pair tensor.",
)
FFT_C2R = define(
    "fft_c2r",
    meta=_c2r_meta,
    kernel=_c2r_kernel,
    vjp=_c2r_vjp,
    family="library",
    save_inputs=False,
    eager_check=True,
    doc="Inverse of fft_r2c: a one-sided (..., 2) real-pair spectrum to a real signal.",
)


# ----- windows ---------------------------------------------------------------------------------
def _window(name, window_length, periodic, dtype, device, requires_grad, values):
    """A window from `values(n)` (n points, the symmetric window of that length, in float64).

    A periodic window of length N is the symmetric window of length N + 1 without its last
    point, as in torch."""
    if window_length < 0:
        raise located(
            RuntimeError(
                f"{name} requires non-negative window_length, got window_length={window_length}"
            )
        )
    dtype = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    if not dtype.is_floating_point:
        raise located(RuntimeError(f"{name} expects floating point dtypes, got: {dtype.name}"))
    if window_length <= 1:
        array = np.ones(window_length)
    else:
        count = window_length + 1 if periodic else window_length
        array = values(count)[:window_length]
    return creation.tensor(array, dtype=dtype, device=device, requires_grad=requires_grad)


def _cosine_sum(coefficients):
    def values(n):
        phase = 2 * math.pi * np.arange(n) / (n - 1)
        return sum((-1) ** k * a * np.cos(k * phase) for k, a in enumerate(coefficients))

    return values


def hann_window(
    window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False
):
    """0.5 - 0.5 cos(2 pi k / (N - 1))."""
    return _window(
        "hann_window",
        window_length,
        periodic,
        dtype,
        device,
        requires_grad,
        _cosine_sum((0.5, 0.5)),
    )


def hamming_window(
    window_length,
    periodic=True,
    alpha=0.54,
    beta=0.46,
    *,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
):
    """alpha - beta cos(2 pi k / (N - 1))."""
    return _window(
        "hamming_window",
        window_length,
        periodic,
        dtype,
        device,
        requires_grad,
        _cosine_sum((alpha, beta)),
    )


def blackman_window(
    window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False
):
    """0.42 - 0.5 cos(2 pi k / (N - 1)) + 0.08 cos(4 pi k / (N - 1))."""
    return _window(
        "blackman_window",
        window_length,
        periodic,
        dtype,
        device,
        requires_grad,
        _cosine_sum((0.42, 0.5, 0.08)),
    )


def _bartlett(n):
    return 1 - np.abs(2 * np.arange(n) / (n - 1) - 1)


def bartlett_window(
    window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False
):
    """1 - |2k / (N - 1) - 1|, a triangle."""
    return _window(
        "bartlett_window", window_length, periodic, dtype, device, requires_grad, _bartlett
    )


def kaiser_window(
    window_length,
    periodic=True,
    beta=12.0,
    *,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
):
    """I0(beta sqrt(1 - (2k / (N - 1) - 1)^2)) / I0(beta), I0 the modified Bessel function."""

    def values(n):
        ratio = 2 * np.arange(n) / (n - 1) - 1
        return np.i0(beta * np.sqrt(np.clip(1 - ratio**2, 0, None))) / np.i0(beta)

    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, values)
