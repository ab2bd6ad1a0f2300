"""Pooling and resampling in nn.functional: max/avg/adaptive/power pools, max_unpool, interpolate
and pixel (un)shuffle.

Max and average pooling and adaptive max pooling are primitives (qilin/ops/pooling.py); the rest
are composites. Adaptive average pooling and the linear interpolation modes are separable: along
each spatial axis the output is a small fixed matrix times the input, so they are one matmul per
axis (exact, fast, and differentiable to any order through matmul). Nearest interpolation is an
index gather per axis.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import dtypes
from ..errors import located, user_stacklevel
from ..ops import creation, elementwise, indexing, linalg, movement, reduction
from ..ops.pooling import ADAPTIVE_MAX_POOL, AVG_POOL, MAX_POOL, adaptive_bounds

__all__ = [
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_pool1d_with_indices",
    "max_pool2d_with_indices",
    "max_pool3d_with_indices",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "interpolate",
    "upsample",
    "upsample_nearest",
    "upsample_bilinear",
    "pixel_shuffle",
    "pixel_unshuffle",
]


def _tuple(value, nd: int, name: str, what: str) -> tuple:
    """An int or a sequence of 1 or nd ints, as nd ints."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return (int(value[0]),) * nd
        if len(value) != nd:
            raise located(
                RuntimeError(
                    f"{name}: {what} must either be a single int, or a tuple of {nd} ints, but "
                    f"got {tuple(value)}"
                )
            )
        return tuple(int(v) for v in value)
    return (int(value),) * nd


def _stride(stride, kernel: tuple, nd: int, name: str) -> tuple:
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        return kernel
    return _tuple(stride, nd, name, "stride")


# ----- max pooling -------------------------------------------------------------------------------
def _max_pool(nd, input, kernel_size, stride, padding, dilation, ceil_mode):
    name = f"max_pool{nd}d"
    kernel = _tuple(kernel_size, nd, name, "kernel_size")
    return MAX_POOL(
        input,
        kernel_size=kernel,
        stride=_stride(stride, kernel, nd, name),
        padding=_tuple(padding, nd, name, "padding"),
        dilation=_tuple(dilation, nd, name, "dilation"),
        ceil_mode=bool(ceil_mode),
    )


def max_pool1d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """(max over each window of (N, C, L) or (C, L), flat index of each max in its plane)."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """(max over each window of (N, C, H, W) or (C, H, W), flat index of each max)."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool3d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """(max over each window of (N, C, D, H, W) or (C, D, H, W), flat index of each max)."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool1d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """out[..., l] = max_j input[..., l*stride - padding + j*dilation] (-inf outside)."""
    values, indices = _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode)
    return (values, indices) if return_indices else values


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """Max over each (kH, kW) window; stride defaults to the kernel size."""
    values, indices = _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode)
    return (values, indices) if return_indices else values


def max_pool3d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """Max over each (kD, kH, kW) window; stride defaults to the kernel size."""
    values, indices = _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode)
    return (values, indices) if return_indices else values


# ----- average pooling ---------------------------------------------------------------------------
def _avg_pool(nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor):
    name = f"avg_pool{nd}d"
    kernel = _tuple(kernel_size, nd, name, "kernel_size")
    return AVG_POOL(
        input,
        kernel_size=kernel,
        stride=_stride(stride, kernel, nd, name),
        padding=_tuple(padding, nd, name, "padding"),
        ceil_mode=bool(ceil_mode),
        count_include_pad=bool(count_include_pad),
        divisor_override=None if divisor is None else int(divisor),
    )


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over each window of (N, C, L) or (C, L) (zero padding counts unless told not to)."""
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """Sum over each (kH, kW) window divided by its size, or by divisor_override."""
    return _avg_pool(
        2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def avg_pool3d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """Sum over each (kD, kH, kW) window divided by its size, or by divisor_override."""
    return _avg_pool(
        3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


# ----- adaptive pooling --------------------------------------------------------------------------
def _adaptive_sizes(name: str, input, output_size, nd: int) -> tuple:
    """output_size as nd ints; None keeps the input's size on that axis."""
    shape = tuple(input.shape)
    if len(shape) not in (nd + 1, nd + 2):
        raise located(
            RuntimeError(f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got {list(shape)}")
        )
    for axis in range(len(shape) - nd - 1, len(shape)):
        if shape[axis] == 0:
            raise located(
                RuntimeError(
                    f"{name}(): Expected input to have non-zero size for non-batch dimensions, "
                    f"but input has sizes {list(shape)} with dimension {axis} being empty"
                )
            )
    sizes = output_size if isinstance(output_size, (list, tuple)) else (output_size,) * nd
    if len(sizes) != nd:
        raise located(
            RuntimeError(f"{name}(): output_size must have {nd} elements, but got {output_size}")
        )
    sizes = tuple(shape[-nd + axis] if s is None else int(s) for axis, s in enumerate(sizes))
    if any(s < 0 for s in sizes):
        raise located(
            RuntimeError(
                f"{name}: elements of output_size must be greater than or equal to 0 but "
                f"received {output_size}"
            )
        )
    return sizes


def _averaging_matrix(size: int, out: int) -> np.ndarray:
    """(out, size): row i averages torch's adaptive window i."""
    start, end = adaptive_bounds(size, out)
    columns = np.arange(size)
    inside = (columns >= start[:, None]) & (columns < end[:, None])
    return inside / (end - start)[:, None]


def _along(input, matrix: np.ndarray, axis: int):
    """Apply matrix (out, size) along `axis` (negative) of input: one matmul."""
    weights = creation.tensor(matrix.T, dtype=input.dtype, device=input.device)
    if axis == -1:
        return linalg.matmul(input, weights)
    moved = movement.movedim(input, axis, -1)
    return movement.movedim(linalg.matmul(moved, weights), -1, axis)


def _adaptive_avg_pool(nd, input, output_size):
    sizes = _adaptive_sizes(f"adaptive_avg_pool{nd}d", input, output_size, nd)
    in_size = tuple(input.shape[-nd:])
    spatial = tuple(range(input.dim() - nd, input.dim()))
    if all(o == 1 for o in sizes):  # global average pooling
        return reduction.mean(input, dim=spatial, keepdim=True)
    if all(o > 0 and n % o == 0 for n, o in zip(in_size, sizes)):  # equal windows: a reshape
        split = tuple(v for n, o in zip(in_size, sizes) for v in (o, n // o))
        windows = movement.reshape(input, tuple(input.shape[:-nd]) + split)
        last = windows.dim()
        return reduction.mean(windows, dim=tuple(range(last - 2 * nd + 1, last, 2)))
    for axis, (n, o) in enumerate(zip(in_size, sizes)):
        if n != o:
            input = _along(input, _averaging_matrix(n, o), axis - nd)
    return input


def adaptive_avg_pool1d(input, output_size):
    """Mean over torch's adaptive windows: window i of L covers [floor(iL/o), ceil((i+1)L/o))."""
    return _adaptive_avg_pool(1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Mean over adaptive windows along H and W; a None in output_size keeps that size."""
    return _adaptive_avg_pool(2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    """Mean over adaptive windows along D, H and W."""
    return _adaptive_avg_pool(3, input, output_size)


def _adaptive_max_pool(nd, input, output_size):
    sizes = _adaptive_sizes(f"adaptive_max_pool{nd}d", input, output_size, nd)
    return ADAPTIVE_MAX_POOL(input, output_size=sizes)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    """(max over adaptive windows, flat index of each max in its plane)."""
    return _adaptive_max_pool(1, input, output_size)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    """(max over adaptive windows along H and W, flat index of each max)."""
    return _adaptive_max_pool(2, input, output_size)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    """(max over adaptive windows along D, H and W, flat index of each max)."""
    return _adaptive_max_pool(3, input, output_size)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over torch's adaptive windows (see adaptive_avg_pool1d)."""
    values, indices = _adaptive_max_pool(1, input, output_size)
    return (values, indices) if return_indices else values


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over adaptive windows along H and W."""
    values, indices = _adaptive_max_pool(2, input, output_size)
    return (values, indices) if return_indices else values


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max over adaptive windows along D, H and W."""
    values, indices = _adaptive_max_pool(3, input, output_size)
    return (values, indices) if return_indices else values


# ----- power-average pooling ---------------------------------------------------------------------
def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):
    """(sum over the window of x**p) ** (1/p), computed as torch does: the window mean times the
    full kernel volume (so a ceil_mode window cut by the border is scaled like a full one)."""
    kernel = _tuple(kernel_size, nd, f"lp_pool{nd}d", "kernel_size")
    mean = _avg_pool(nd, input.pow(norm_type), kernel, stride, 0, ceil_mode, True, None)
    magnitude = elementwise.sign(mean) * elementwise.relu(elementwise.abs(mean))
    return (magnitude * math.prod(kernel)).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """out = (sum over each window of x**p) ** (1/p)."""
    return _lp_pool(1, input, float(norm_type), kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """out = (sum over each (kH, kW) window of x**p) ** (1/p)."""
    return _lp_pool(2, input, float(norm_type), kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """out = (sum over each (kD, kH, kW) window of x**p) ** (1/p)."""
    return _lp_pool(3, input, float(norm_type), kernel_size, stride, ceil_mode)


# ----- max unpooling -----------------------------------------------------------------------------
def _unpool_size(nd, input, kernel, stride, padding, output_size) -> tuple:
    default = tuple(
        (n - 1) * s - 2 * p + k for n, k, s, p in zip(input.shape[-nd:], kernel, stride, padding)
    )
    if output_size is None:
        return default
    sizes = tuple(int(s) for s in output_size)
    if len(sizes) in (nd + 1, nd + 2):
        sizes = sizes[-nd:]
    if len(sizes) != nd:
        raise located(
            ValueError(
                f"output_size should be a sequence containing {nd} or {nd + 2} elements, but it "
                f"has a length of '{len(output_size)}'"
            )
        )
    for axis, (size, base, step) in enumerate(zip(sizes, default, stride)):
        if not base - step < size < base + step:
            raise located(
                ValueError(
                    f'invalid output_size "{list(sizes)}" (dim {axis} must be between '
                    f"{base - step} and {base + step})"
                )
            )
    return sizes


def _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size):
    name = f"max_unpool{nd}d"
    kernel = _tuple(kernel_size, nd, name, "kernel_size")
    stride = _stride(stride, kernel, nd, name)
    padding = _tuple(padding, nd, name, "padding")
    if tuple(indices.shape) != tuple(input.shape):
        raise located(
            RuntimeError(
                f"{name}: Expected shape of indices to be same as that of the input tensor "
                f"({list(input.shape)}) but got indices tensor with shape: {list(indices.shape)}"
            )
        )
    sizes = _unpool_size(nd, input, kernel, stride, padding, output_size)
    lead = tuple(input.shape[:-nd])
    plane, planes = math.prod(sizes), math.prod(lead)
    if input.numel():
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= plane:
            bad = low if low < 0 else high
            raise located(
                RuntimeError(
                    f"{name}: Found an invalid max index: {bad} (output volumes are of size "
                    f"{'x'.join(map(str, sizes))})"
                )
            )
    base = creation.zeros((planes, plane), dtype=input.dtype, device=input.device)
    flat = indexing.scatter(
        base, 1, movement.reshape(indices, (planes, -1)), movement.reshape(input, (planes, -1))
    )
    return movement.reshape(flat, lead + sizes)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool1d: each value written back at its index, zeros elsewhere."""
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d: each value written back at its index, zeros elsewhere."""
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool3d: each value written back at its index, zeros elsewhere."""
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)


# ----- interpolation -----------------------------------------------------------------------------
_LINEAR_MODES = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_SIMPLE_MODES = ("nearest", "nearest-exact", "area")
_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"
_CUBIC = -0.75  # torch's (Keys') cubic convolution parameter


def _per_axis(value, nd: int, input, what: str) -> list | None:
    """An int or a sequence of nd values (size or scale_factor), as a list of nd values."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        return [value] * nd
    if len(value) != nd:
        letter, shape = ("s", "shape ") if what == "scale_factor" else ("o", "")
        raise located(
            ValueError(
                f"Input and {what} must have the same number of spatial dimensions, but got input "
                f"with spatial dimensions of {list(input.shape[2:])} and {what} of {shape}{value}. "
                f"Please provide input tensor in (N, C, d1, d2, ...,dK) format and {what} in "
                f"({letter}1, {letter}2, ...,{letter}K) format."
            )
        )
    return list(value)


def _interpolation_plan(input, size, scale_factor, mode, recompute_scale_factor):
    """(output sizes, scale factors or None) by torch's rules: with a scale factor (and no
    recompute) the source coordinate uses 1/scale_factor, with a size it uses in/out."""
    nd = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise located(ValueError("only one of size or scale_factor should be defined"))
    if size is not None:
        if recompute_scale_factor:
            raise located(
                ValueError("recompute_scale_factor is not meaningful with an explicit size.")
            )
        return [int(s) for s in _per_axis(size, nd, input, "output size")], None
    if scale_factor is None:
        raise located(ValueError("either size or scale_factor should be defined"))
    scales = [float(s) for s in _per_axis(scale_factor, nd, input, "scale_factor")]
    sizes = [math.floor(float(n) * s) for n, s in zip(input.shape[2:], scales)]
    if recompute_scale_factor or mode == "area":
        scales = None
    return sizes, scales


def _opmath(dtype):
    """The precision torch computes coordinates and weights in: double for float64 only."""
    return np.float64 if dtype is dtypes.float64 else np.float32


def _nearest_index(size: int, out: int, scale, exact: bool, shortcut: bool) -> np.ndarray:
    """torch's source index, in float32 as torch computes it: floor(dst * ratio), or
    floor((dst + 0.5) * ratio) for nearest-exact; ratio = 1/scale_factor or size/out. torch's
    2-d nearest kernel copies when out == size and takes dst // 2 when out == 2 size, whatever
    the scale factor (`shortcut`)."""
    if shortcut and out in (size, 2 * size):
        return np.arange(out) // (out // size)
    ratio = np.float32(1.0 / scale) if scale else np.float32(size) / np.float32(out)
    dst = np.arange(out)
    if exact:
        source = np.floor(((dst + 0.5) * np.float64(ratio)).astype(np.float32))
    else:
        source = np.floor(dst.astype(np.float32) * ratio)
    return np.minimum(source.astype(np.int64), size - 1)


def _source_coordinates(size, out, scale, align_corners, real):
    """Where each output sample sits on the input axis (torch's area_pixel rule)."""
    dst = np.arange(out, dtype=real)
    if align_corners:
        ratio = real(size - 1) / real(out - 1) if out > 1 else real(0)
        return ratio * dst
    ratio = real(1.0 / scale) if scale else real(size) / real(out)
    return ratio * (dst + real(0.5)) - real(0.5)


def _cubic_weights(t, real) -> list:
    """Keys' cubic convolution weights of the 4 taps at -1, 0, 1, 2 for fraction t."""
    a = real(_CUBIC)

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _interpolation_matrix(size, out, scale, align_corners, cubic, real) -> np.ndarray | None:
    """(out, size) weights; None when the axis is left as it is (torch's shortcut)."""
    if not cubic and not align_corners and out == size:
        return None
    source = _source_coordinates(size, out, scale, align_corners, real)
    rows = np.arange(out)
    matrix = np.zeros((out, size))
    if cubic:
        low = np.floor(source).astype(np.int64)
        fraction = (source - low).astype(real)  # taps outside the input read its border
        for tap, weight in enumerate(_cubic_weights(fraction, real)):
            np.add.at(matrix, (rows, np.clip(low - 1 + tap, 0, size - 1)), weight)
        return matrix
    source = np.maximum(source, 0)
    low = np.minimum(source.astype(np.int64), size - 1)
    fraction = np.clip(source - low, 0, 1).astype(real)
    high = low + (low < size - 1)
    np.add.at(matrix, (rows, low), 1 - fraction)
    np.add.at(matrix, (rows, high), fraction)
    return matrix


def _gather_along(input, dim: int, index: np.ndarray):
    """input.index_select(dim, index); an integer upscale (index = arange // k) is a broadcast
    instead, whose backward is a sum rather than a scatter."""
    size, out = input.shape[dim], len(index)
    if out == size and (index == np.arange(size)).all():
        return input
    factor = out // size
    if out == factor * size and (index == np.arange(out) // factor).all():
        shape = tuple(input.shape)
        spread = movement.unsqueeze(input, dim + 1)
        spread = movement.expand(spread, shape[: dim + 1] + (factor,) + shape[dim + 1 :])
        return movement.reshape(spread, shape[:dim] + (out,) + shape[dim + 1 :])
    return indexing.index_select(input, dim, creation.tensor(index, device=input.device))


def _check_interpolation_input(input, mode: str) -> None:
    if input.dim() not in (3, 4, 5) or (mode not in _LINEAR_MODES and mode not in _SIMPLE_MODES):
        raise located(
            NotImplementedError(
                f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) "
                f"for the modes: {_MODES} (got {mode})"
            )
        )
    if mode in _LINEAR_MODES and input.dim() != _LINEAR_MODES[mode] + 2:
        raise located(
            NotImplementedError(
                f"Got {input.dim()}D input, but {mode} mode needs {_LINEAR_MODES[mode] + 2}D input"
            )
        )


def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode="nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias=False,
):
    """Resample the spatial dims of (N, C, *spatial) to `size` or by `scale_factor`.

    nearest / nearest-exact gather the source sample at floor(dst * r) / floor((dst + 0.5) * r);
    linear, bilinear, trilinear and bicubic weight the neighbouring samples of the source
    coordinate r * (dst + 0.5) - 0.5 (or dst * (in - 1) / (out - 1) with align_corners); area
    is adaptive average pooling.
    """
    if mode in _SIMPLE_MODES:
        if align_corners is not None:
            raise located(
                ValueError(
                    "align_corners option can only be set with the interpolating modes: "
                    "linear | bilinear | bicubic | trilinear"
                )
            )
    elif align_corners is None:
        align_corners = False
    sizes, scales = _interpolation_plan(input, size, scale_factor, mode, recompute_scale_factor)
    if antialias:
        raise located(NotImplementedError("interpolate(antialias=True) is not supported yet"))
    _check_interpolation_input(input, mode)
    if min(sizes) <= 0:
        raise located(
            RuntimeError(
                "Input and output sizes should be greater than 0, but got input "
                f"{tuple(input.shape[2:])} and output {tuple(sizes)}"
            )
        )
    nd = len(sizes)
    scales = scales or [None] * nd
    if mode == "area":
        return _adaptive_avg_pool(nd, input, tuple(sizes))
    for axis, (n, out, scale) in enumerate(zip(input.shape[2:], sizes, scales)):
        dim = axis + 2
        if mode in ("nearest", "nearest-exact"):
            exact = mode == "nearest-exact"
            index = _nearest_index(n, out, scale, exact, shortcut=not exact and nd == 2)
            input = _gather_along(input, dim, index)
            continue
        real = _opmath(input.dtype)
        matrix = _interpolation_matrix(n, out, scale, align_corners, mode == "bicubic", real)
        if matrix is not None:
            input = _along(input, matrix, dim - input.dim())
    return input


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate."""
    warnings.warn(
        "nn.functional.upsample is deprecated. Use nn.functional.interpolate instead.",
        stacklevel=user_stacklevel(),
    )
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: interpolate(mode="nearest")."""
    warnings.warn(
        "nn.functional.upsample_nearest is deprecated. Use nn.functional.interpolate instead.",
        stacklevel=user_stacklevel(),
    )
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: interpolate(mode="bilinear", align_corners=True)."""
    warnings.warn(
        "nn.functional.upsample_bilinear is deprecated. Use nn.functional.interpolate instead.",
        stacklevel=user_stacklevel(),
    )
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ----- pixel shuffle -----------------------------------------------------------------------------
def _check_shuffle(name: str, input, factor: int, what: str) -> None:
    if input.dim() < 3:
        raise located(
            RuntimeError(
                f"{name} expects input to have at least 3 dimensions, but got input with "
                f"{input.dim()} dimension(s)"
            )
        )
    if factor <= 0:
        raise located(RuntimeError(f"{name} expects a positive {what}, but got {factor}"))


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r); out[c, h r + i, w r + j] = in[c r^2 + i r + j, h, w]

    (r = upscale_factor)."""
    r = int(upscale_factor)
    _check_shuffle("pixel_shuffle", input, r, "upscale_factor")
    *lead, channels, height, width = input.shape
    if channels % (r * r):
        raise located(
            RuntimeError(
                "pixel_shuffle expects its input's 'channel' dimension to be divisible by the "
                f"square of upscale_factor, but input.size(-3)={channels} is not divisible by "
                f"{r * r}"
            )
        )
    n = len(lead)
    blocks = movement.reshape(input, (*lead, channels // (r * r), r, r, height, width))
    blocks = movement.permute(blocks, (*range(n), n, n + 3, n + 1, n + 4, n + 2))
    return movement.reshape(blocks, (*lead, channels // (r * r), height * r, width * r))


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W): the inverse of pixel_shuffle."""
    r = int(downscale_factor)
    _check_shuffle("pixel_unshuffle", input, r, "downscale_factor")
    *lead, channels, height, width = input.shape
    for axis, (label, size) in enumerate((("height", height), ("width", width))):
        if size % r:
            raise located(
                RuntimeError(
                    f"pixel_unshuffle expects {label} to be divisible by downscale_factor, but "
                    f"input.size({axis - 2})={size} is not divisible by {r}"
                )
            )
    n = len(lead)
    blocks = movement.reshape(input, (*lead, channels, height // r, r, width // r, r))
    blocks = movement.permute(blocks, (*range(n), n, n + 2, n + 4, n + 1, n + 3))
    return movement.reshape(blocks, (*lead, channels * r * r, height // r, width // r))
