"""Convolution primitives (N-d, stride, padding, dilation, groups, transposed) and im2col.

Three primitives share two array helpers:

- `sliding_windows` views the windows of an array as extra axes (no copy; pooling uses it too),
- `scatter_windows` adds per-window values back onto the positions they came from (col2im).

`convolution` (aten's convolution without bias) is im2col + one matmul per group; its transposed
form is one matmul + col2im. Its vjp is written with itself: the input gradient of a convolution
is a transposed convolution of the gradient and vice versa, and the weight gradient is a
convolution in which the input and the gradient swap roles (batch and channels swapped, stride
and dilation swapped). `im2col` / `col2im` are F.unfold / F.fold, each the other's vjp.

The torch functions at the top level (torch.conv2d is F.conv2d) are here too: they parse
stride / padding ('same', 'valid'), add the batch dim of unbatched inputs and add the bias.
"""

from __future__ import annotations

import itertools
import math

from ..errors import located
from .creation import zeros
from .families import define
from .movement import cat
from .registry import Spec

__all__ = [
    "convolution",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
]


# ----- array helpers (NumPy or CuPy through xp) ------------------------------------------------
def window_counts(sizes, kernel_size, stride, dilation) -> tuple:
    """Windows along each dim of (already padded) `sizes`: the output size of a convolution."""
    return tuple(
        (size - d * (k - 1) - 1) // s + 1
        for size, k, s, d in zip(sizes, kernel_size, stride, dilation)
    )


def zero_pad(xp, x, padding):
    """x with `padding` zeros on both sides of each of its last len(padding) dims."""
    return pad_ends(xp, x, padding, padding)


def pad_ends(xp, x, before, after):
    """x with before[i] / after[i] zeros at the start / end of its i-th trailing dim (of the
    last len(before)); negative amounts crop instead."""
    dims = len(before)
    if not any(before) and not any(after):
        return x
    if min(before) < 0 or min(after) < 0:
        spatial = x.shape[-dims:]
        x = x[
            (Ellipsis,)
            + tuple(slice(max(-b, 0), n - max(-a, 0)) for n, b, a in zip(spatial, before, after))
        ]
        before = tuple(max(b, 0) for b in before)
        after = tuple(max(a, 0) for a in after)
    spatial = x.shape[-dims:]
    sizes = tuple(n + b + a for n, b, a in zip(spatial, before, after))
    out = xp.zeros(x.shape[:-dims] + sizes, x.dtype)
    out[(Ellipsis,) + tuple(slice(b, b + n) for n, b in zip(spatial, before))] = x
    return out


def sliding_windows(xp, x, kernel_size, stride, dilation):
    """A view (..., *windows, *kernel) of the windows over the last len(kernel_size) dims of x:
    element [..., i, k] is x[..., i * stride + k * dilation]. No copy is made."""
    dims = len(kernel_size)
    counts = window_counts(x.shape[-dims:], kernel_size, stride, dilation)
    steps = x.strides[-dims:]
    shape = x.shape[:-dims] + counts + tuple(kernel_size)
    strides = (
        x.strides[:-dims]
        + tuple(step * s for step, s in zip(steps, stride))
        + tuple(step * d for step, d in zip(steps, dilation))
    )
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def scatter_windows(xp, cols, out_sizes, stride, dilation, padding):
    """The adjoint of `sliding_windows` over a zero-padded input: cols (..., *kernel, *windows)
    summed into a new (..., *out_sizes) array at position window * stride + k * dilation -
    padding (positions that fall in the padding are dropped). One add per kernel offset."""
    dims = len(out_sizes)
    kernel = cols.shape[-2 * dims : -dims]
    windows = cols.shape[-dims:]
    out = xp.zeros(cols.shape[: -2 * dims] + tuple(out_sizes), cols.dtype)
    for offset in itertools.product(*(range(k) for k in kernel)):
        target, source = [], []
        for k, count, size, s, d, p in zip(offset, windows, out_sizes, stride, dilation, padding):
            first = k * d - p  # where window 0 lands
            start = 0 if first >= 0 else (-first + s - 1) // s
            stop = min(count, (size - first + s - 1) // s)
            if stop <= start:
                break
            target.append(slice(first + start * s, first + (stop - 1) * s + 1, s))
            source.append(slice(start, stop))
        else:
            out[(Ellipsis,) + tuple(target)] += cols[(Ellipsis,) + offset + tuple(source)]
    return out


def _gemm(xp, a, b):
    """Stacked (G, m, k) @ (G, k, n); one BLAS call when G is 1 (NumPy's stacked matmul can
    take a slow loop for some layouts; dot always calls gemm)."""
    if a.shape[0] == 1:
        return xp.dot(a[0], b[0])[None]
    return xp.matmul(a, b)


def _convolve(xp, x, w, stride, padding, dilation, groups):
    """x (N, C, *S), w (Co, C / groups, *K) -> (N, Co, *O): im2col and one matmul per group."""
    n, channels = x.shape[:2]
    out_channels, kernel = w.shape[0], w.shape[2:]
    dims = len(kernel)
    windows = sliding_windows(xp, zero_pad(xp, x, padding), kernel, stride, dilation)
    counts = windows.shape[2 : 2 + dims]
    length, taps = math.prod(counts), math.prod(kernel)
    per_group, out_per_group = channels // groups, out_channels // groups
    # (N, G, Cg, *O, *K): splitting the channel axis keeps the view
    windows = windows.reshape((n, groups, per_group) + counts + tuple(kernel))
    spatial = tuple(range(3, 3 + dims))
    taps_axes = tuple(range(3 + dims, 3 + 2 * dims))
    weights = w.reshape(groups, out_per_group, per_group * taps)
    if counts[-1] < kernel[-1]:
        # Long kernel rows (the weight gradient's convolution, whose kernel is an image): the
        # im2col copy reads along its last axis, so make that the kernel's.
        cols = windows.transpose((1, 0) + spatial + (2,) + taps_axes)
        cols = cols.reshape(groups, n * length, per_group * taps)
        out = _gemm(xp, cols, weights.transpose(0, 2, 1)).reshape(groups, n, length, out_per_group)
        out = xp.ascontiguousarray(out.transpose(1, 0, 3, 2))
    elif length >= _PER_SAMPLE_LENGTH or n == 1:
        # (N, G, Cg * K, L): one matmul per sample gives (N, G, Cog, L), already in place
        cols = windows.transpose((0, 1, 2) + taps_axes + spatial)
        cols = cols.reshape(n, groups, per_group * taps, length)
        out = xp.matmul(weights, cols)
    else:  # small images: one matmul over the whole batch, then the result's axes reordered
        cols = windows.transpose((1, 2) + taps_axes + (0,) + spatial)
        cols = cols.reshape(groups, per_group * taps, n * length)
        out = _gemm(xp, weights, cols).reshape(groups, out_per_group, n, length)
        out = xp.ascontiguousarray(out.transpose(2, 0, 1, 3))
    return out.reshape((n, out_channels) + counts)


# Windows per image from which one matmul per sample beats one over the batch followed by a
# transpose of the result (measured on the LeNet and ResNet shapes).
_PER_SAMPLE_LENGTH = 256


def transposed_sizes(sizes, kernel_size, stride, padding, dilation, output_padding) -> tuple:
    return tuple(
        (i - 1) * s - 2 * p + d * (k - 1) + extra + 1
        for i, k, s, p, d, extra in zip(
            sizes, kernel_size, stride, padding, dilation, output_padding
        )
    )


def _convolve_transposed(xp, x, w, stride, padding, dilation, groups, output_padding):
    """x (N, Ci, *I), w (Ci, Co / groups, *K) -> (N, Co, *O): one matmul, then col2im (or,
    without stride, a convolution with the flipped kernel)."""
    n, in_channels = x.shape[:2]
    spatial, kernel = x.shape[2:], w.shape[2:]
    dims = len(kernel)
    in_per_group, out_per_group = in_channels // groups, w.shape[1]
    length, taps = math.prod(spatial), math.prod(kernel)
    if all(s == 1 for s in stride) and in_channels <= groups * out_per_group:
        # Without stride it is a convolution with the flipped kernel over the input padded by
        # d * (k - 1) - p (output_padding more at the end). Its im2col copies Ci * K values per
        # input position where col2im writes Co * K and then adds them in one pass per kernel
        # offset: the cheaper when the output has at least as many channels.
        flipped = w[(Ellipsis,) + (slice(None, None, -1),) * dims]
        flipped = flipped.reshape((groups, in_per_group, out_per_group) + kernel).swapaxes(1, 2)
        flipped = flipped.reshape((groups * out_per_group, in_per_group) + kernel)
        before = tuple(d * (k - 1) - p for k, d, p in zip(kernel, dilation, padding))
        after = tuple(b + extra for b, extra in zip(before, output_padding))
        x = pad_ends(xp, x, before, after)
        return _convolve(xp, x, flipped, stride, (0,) * dims, dilation, groups)
    weights = w.reshape(groups, in_per_group, out_per_group * taps).transpose(0, 2, 1)
    if length >= _PER_SAMPLE_LENGTH or n == 1:  # (N, G, Cog * K, L): already (N, G, Cog, K, I)
        cols = xp.matmul(weights, x.reshape(n, groups, in_per_group, length))
        cols = cols.reshape((n, groups, out_per_group) + kernel + spatial)
    else:
        rows = x.reshape(n, groups, in_per_group, length).transpose(1, 2, 0, 3)
        rows = rows.reshape(groups, in_per_group, n * length)
        cols = _gemm(xp, weights, rows).reshape((groups, out_per_group) + kernel + (n,) + spatial)
        # (N, G, Cog, *K, *I) for the scatter
        order = (2 + dims, 0, 1) + tuple(range(2, 2 + dims)) + tuple(range(3 + dims, 3 + 2 * dims))
        cols = cols.transpose(order)
    sizes = transposed_sizes(spatial, kernel, stride, padding, dilation, output_padding)
    out = scatter_windows(xp, cols, sizes, stride, dilation, padding)
    return out.reshape((n, groups * out_per_group) + sizes)


# ----- the convolution primitive ------------------------------------------------------------
def _sizes(values) -> str:
    return "(" + " x ".join(str(v) for v in values) + ")"


def _check_hyperparameters(stride, padding, dilation, groups, output_padding=None) -> None:
    if groups <= 0:
        raise RuntimeError(f"non-positive groups is not supported (got groups={groups})")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"non-positive stride is not supported (got stride={stride})")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"negative padding is not supported (got padding={padding})")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"non-positive dilation is not supported (got dilation={dilation})")
    if output_padding is not None and any(p < 0 for p in output_padding):
        raise RuntimeError(
            f"negative output_padding is not supported (got output_padding={output_padding})"
        )


def _check_channels(x, w, groups, transposed) -> None:
    weight, given = list(w.shape), list(x.shape)
    if transposed:
        if x.shape[1] != w.shape[0]:
            raise RuntimeError(
                f"Given transposed=1, weight of size {weight}, expected input{given} to have "
                f"{w.shape[0]} channels, but got {x.shape[1]} channels instead"
            )
        if w.shape[0] % groups:
            raise RuntimeError(
                f"Given groups={groups}, expected weight to be divisible by {groups} at "
                f"dimension 0, but got weight of size {weight} instead"
            )
        return
    if w.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size {weight} instead"
        )
    if x.shape[1] != w.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {weight}, expected input{given} to have "
            f"{w.shape[1] * groups} channels, but got {x.shape[1]} channels instead"
        )


def _convolution_meta(
    x, w, *, stride, padding, dilation, groups, transposed=False, output_padding=None
):
    dims = len(stride)
    output_padding = output_padding or (0,) * dims
    for name, value in (("input", x), ("weight", w)):
        if len(value.shape) != dims + 2:
            raise RuntimeError(
                f"convolution: expected a {dims + 2}-D {name} (with {dims} spatial dims), but got "
                f"{name} of size {list(value.shape)}"
            )
    if x.dtype is not w.dtype:
        raise RuntimeError(
            f"Input type ({x.dtype.name}) and weight type ({w.dtype.name}) should be the same"
        )
    if x.dtype.name == "bool":
        raise RuntimeError('convolution: "bool" tensors are not supported; convert to float')
    _check_hyperparameters(stride, padding, dilation, groups, output_padding)
    _check_channels(x, w, groups, transposed)
    spatial, kernel = x.shape[2:], w.shape[2:]
    if transposed:
        if not all(e < s or e < d for e, s, d in zip(output_padding, stride, dilation)):
            raise RuntimeError(
                f"output padding must be smaller than either stride or dilation, but got "
                f"output_padding={tuple(output_padding)}, stride={tuple(stride)}, "
                f"dilation={tuple(dilation)}"
            )
        sizes = transposed_sizes(spatial, kernel, stride, padding, dilation, output_padding)
        if any(size <= 0 for size in sizes):
            raise RuntimeError(
                f"Given input size per channel: {_sizes(spatial)}. Calculated output size per "
                f"channel: {_sizes(sizes)}. Output size is too small"
            )
        return Spec((x.shape[0], w.shape[1] * groups) + sizes, x.dtype)
    padded = tuple(n + 2 * p for n, p in zip(spatial, padding))
    dilated = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(k > n for k, n in zip(dilated, padded)):
        raise RuntimeError(
            f"Calculated padded input size per channel: {_sizes(padded)}. Kernel size: "
            f"{_sizes(dilated)}. Kernel size can't be greater than actual input size"
        )
    sizes = window_counts(padded, kernel, stride, dilation)
    return Spec((x.shape[0], w.shape[0]) + sizes, x.dtype)


def _convolution_kernel(
    xp, x, w, *, stride, padding, dilation, groups, transposed=False, output_padding=None
):
    if transposed:
        extra = output_padding or (0,) * len(stride)
        return _convolve_transposed(xp, x, w, stride, padding, dilation, groups, extra)
    return _convolve(xp, x, w, stride, padding, dilation, groups)


def _crop(t, sizes):
    """The leading `sizes` of t's spatial dims (dims 2, 3, ...)."""
    for axis, size in enumerate(sizes, start=2):
        if t.shape[axis] != size:
            t = t.narrow(axis, 0, size)
    return t


def _swap_batch_and_channels(t, groups):
    """(N, G * Cg, *S) -> (Cg, G * N, *S): channel c of group g becomes batch entry c, channel
    g * N + n, so a grouped convolution sums over the batch within each group."""
    n, channels = t.shape[:2]
    if groups == 1:
        return t.transpose(0, 1)
    spatial = tuple(t.shape[2:])
    t = t.reshape((n, groups, channels // groups) + spatial)
    t = t.permute((2, 1, 0) + tuple(range(3, 3 + len(spatial))))
    return t.reshape((channels // groups, groups * n) + spatial)


def _convolution_vjp(node, g):
    x, w = node.inputs
    attrs = node.attrs
    stride, padding, dilation = attrs["stride"], attrs["padding"], attrs["dilation"]
    groups = attrs["groups"]
    dims = len(stride)
    none = (0,) * dims
    kernel = tuple(w.shape[2:])
    need_input, need_weight = node.needs_grad
    grad_input = grad_weight = None
    if attrs.get("transposed"):
        if need_input:  # a convolution of the gradient; output_padding >= stride crops
            grad_input = CONVOLUTION(
                g, w, stride=stride, padding=padding, dilation=dilation, groups=groups
            )
            grad_input = _crop(grad_input, tuple(x.shape[2:]))
        if need_weight:  # (Cog, Ci, *K'): the gradient is the input, the input is the kernel
            grad_weight = CONVOLUTION(
                _swap_batch_and_channels(g, groups),
                x.transpose(0, 1),
                stride=dilation,
                padding=padding,
                dilation=stride,
                groups=groups,
            )
            grad_weight = _crop(grad_weight, kernel).transpose(0, 1)
        return grad_input, grad_weight
    if need_input:
        # output_padding restores the rows a strided convolution left unused at the end
        extra = tuple(
            n + 2 * p - ((o - 1) * s + d * (k - 1) + 1)
            for n, o, k, s, p, d in zip(x.shape[2:], g.shape[2:], kernel, stride, padding, dilation)
        )
        grad_input = CONVOLUTION(
            g,
            w,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            transposed=True,
            output_padding=extra if any(extra) else none,
        )
    if need_weight:  # (Cg, Co, *K'): the input is the input, the gradient is the kernel
        grad_weight = CONVOLUTION(
            _swap_batch_and_channels(x, groups),
            g.transpose(0, 1),
            stride=dilation,
            padding=padding,
            dilation=stride,
            groups=groups,
        )
        grad_weight = _crop(grad_weight, kernel).transpose(0, 1)
    return grad_input, grad_weight


CONVOLUTION = define(
    "convolution",
    meta=_convolution_meta,
    kernel=_convolution_kernel,
    vjp=_convolution_vjp,
    family="library",
    lowering={"library": "convolution"},
    eager_check=True,  # NumPy's strided views would accept mismatched channels silently
    doc="N-d convolution (or its transpose) without bias: im2col + matmul per group.",
)


# ----- im2col / col2im (F.unfold / F.fold) ---------------------------------------------------
def _blocks_meta(spatial, kernel_size, dilation, padding, stride) -> tuple:
    _check_hyperparameters(stride, padding, dilation, 1)
    if any(k <= 0 for k in kernel_size):
        raise RuntimeError(f"kernel size should be greater than zero, but got {kernel_size}")
    padded = tuple(n + 2 * p for n, p in zip(spatial, padding))
    counts = window_counts(padded, kernel_size, stride, dilation)
    if any(c < 1 for c in counts):
        raise RuntimeError(
            f"Given input with spatial size {tuple(spatial)}, kernel_size={tuple(kernel_size)}, "
            f"dilation={tuple(dilation)}, padding={tuple(padding)}, calculated shape of the array "
            f"of sliding blocks as {counts}, but its components must be at least one."
        )
    return counts


def _im2col_meta(x, *, kernel_size, dilation, padding, stride):
    dims = len(kernel_size)
    if len(x.shape) != dims + 2:
        raise RuntimeError(
            f"im2col: expected a {dims + 2}-D input (batch, channels, {dims} spatial dims), but "
            f"got input of size {list(x.shape)}"
        )
    counts = _blocks_meta(x.shape[2:], kernel_size, dilation, padding, stride)
    return Spec((x.shape[0], x.shape[1] * math.prod(kernel_size), math.prod(counts)), x.dtype)


def _im2col_kernel(xp, x, *, kernel_size, dilation, padding, stride):
    n, channels = x.shape[:2]
    dims = len(kernel_size)
    windows = sliding_windows(xp, zero_pad(xp, x, padding), kernel_size, stride, dilation)
    order = (0, 1) + tuple(range(2 + dims, 2 + 2 * dims)) + tuple(range(2, 2 + dims))
    return windows.transpose(order).reshape(n, channels * math.prod(kernel_size), -1)


def _im2col_vjp(node, g):
    return (COL2IM(g, output_size=tuple(node.input_meta[0][0][2:]), **node.attrs),)


IM2COL = define(
    "im2col",
    meta=_im2col_meta,
    kernel=_im2col_kernel,
    vjp=_im2col_vjp,
    family="library",
    save_inputs=False,
    eager_check=True,
    doc="F.unfold: (N, C, *S) -> (N, C * prod(kernel), windows), each column one window.",
)


def _col2im_meta(x, *, output_size, kernel_size, dilation, padding, stride):
    if len(x.shape) != 3:
        raise RuntimeError(
            f"col2im: expected a 3-D input (batch, channels * kernel, blocks), but got input of "
            f"size {list(x.shape)}"
        )
    taps = math.prod(kernel_size)
    if taps <= 0 or x.shape[1] % taps:
        raise RuntimeError(
            f"Expected size of input's dimension 1 to be divisible by the product of "
            f"kernel_size, but got input.size(1)={x.shape[1]} and "
            f"kernel_size={tuple(kernel_size)}."
        )
    counts = _blocks_meta(output_size, kernel_size, dilation, padding, stride)
    if math.prod(counts) != x.shape[2]:
        raise RuntimeError(
            f"Given output_size={tuple(output_size)}, kernel_size={tuple(kernel_size)}, "
            f"dilation={tuple(dilation)}, padding={tuple(padding)}, stride={tuple(stride)}, "
            f"expected size of input's dimension 2 to match the calculated number of sliding "
            f"blocks {' * '.join(map(str, counts))} = {math.prod(counts)}, but got "
            f"input.size(2)={x.shape[2]}."
        )
    return Spec((x.shape[0], x.shape[1] // taps) + tuple(output_size), x.dtype)


def _col2im_kernel(xp, x, *, output_size, kernel_size, dilation, padding, stride):
    padded = tuple(n + 2 * p for n, p in zip(output_size, padding))
    counts = window_counts(padded, kernel_size, stride, dilation)
    cols = x.reshape((x.shape[0], -1) + tuple(kernel_size) + counts)
    return scatter_windows(xp, cols, tuple(output_size), stride, dilation, padding)


def _col2im_vjp(node, g):
    attrs = {k: v for k, v in node.attrs.items() if k != "output_size"}
    return (IM2COL(g, **attrs),)


COL2IM = define(
    "col2im",
    meta=_col2im_meta,
    kernel=_col2im_kernel,
    vjp=_col2im_vjp,
    family="library",
    save_inputs=False,
    eager_check=True,
    doc="F.fold: (N, C * prod(kernel), windows) summed into (N, C, *output_size).",
)


# ----- torch.convolution, torch.conv1d / 2d / 3d, torch.conv_transpose1d / 2d / 3d ----------
def expand_param(value, dims: int, name: str) -> tuple:
    """An int, or a sequence of one or `dims` ints, as a tuple of `dims` ints."""
    if isinstance(value, int):
        return (value,) * dims
    values = tuple(int(v) for v in value)
    if len(values) == 1:
        return values * dims
    if len(values) != dims:
        raise located(
            RuntimeError(
                f"expected {name} to be a single integer value or a list of {dims} values to "
                f"match the convolution dimensions, but got {name}={list(values)}"
            )
        )
    return values


def _batched(name: str, dims: int, input):
    """The input with a batch dim (added for an unbatched input), and whether it had one."""
    if input.ndim == dims + 2:
        return input, True
    if input.ndim == dims + 1:
        return input.unsqueeze(0), False
    raise located(
        RuntimeError(
            f"Expected {dims + 1}D (unbatched) or {dims + 2}D (batched) input to {name}, but got "
            f"input of size: {list(input.shape)}"
        )
    )


def _check_weight(name: str, dims: int, weight, transposed: bool) -> None:
    if weight.ndim != dims + 2:
        layout = (
            "in_channels, out_channels / groups"
            if transposed
            else "out_channels, in_channels / groups"
        )
        raise located(
            RuntimeError(
                f"{name}: expected a {dims + 2}-D weight ({layout}, {dims} kernel sizes), but got "
                f"weight of size {list(weight.shape)}"
            )
        )


def _same_padding(input, weight, stride, dilation):
    """torch's padding='same': total d * (k - 1) split evenly, the odd one out on the right
    (added to the input here, since the primitive pads symmetrically)."""
    if any(s != 1 for s in stride):
        raise located(RuntimeError("padding='same' is not supported for strided convolutions"))
    totals = [d * (k - 1) for k, d in zip(weight.shape[2:], dilation)]
    for axis, total in enumerate(totals, start=2):
        if total % 2:
            shape = list(input.shape)
            shape[axis] = 1
            extra = zeros(shape, dtype=input.dtype, device=input.device)
            input = cat([input, extra], axis)
    return input, tuple(total // 2 for total in totals)


def _add_bias(output, bias, weight, channels: int):
    if bias is None:
        return output
    if bias.ndim != 1 or bias.shape[0] != channels:
        raise located(
            RuntimeError(
                f"Given weight of size {list(weight.shape)}, expected bias to be 1-dimensional "
                f"with {channels} elements, but got bias of size {list(bias.shape)} instead"
            )
        )
    if bias.dtype is not output.dtype:
        raise located(
            RuntimeError(
                f"Input type ({output.dtype.name}) and bias type ({bias.dtype.name}) should be "
                "the same"
            )
        )
    return output + bias.reshape((channels,) + (1,) * (output.ndim - 2))


def _conv(name, dims, input, weight, bias, stride, padding, dilation, groups):
    input, batched = _batched(name, dims, input)
    _check_weight(name, dims, weight, False)
    stride = expand_param(stride, dims, "stride")
    dilation = expand_param(dilation, dims, "dilation")
    if isinstance(padding, str):
        if padding == "same":
            input, padding = _same_padding(input, weight, stride, dilation)
        elif padding == "valid":
            padding = (0,) * dims
        else:
            raise located(
                RuntimeError(f"Invalid padding string: '{padding}' (expected 'same' or 'valid')")
            )
    else:
        padding = expand_param(padding, dims, "padding")
    output = CONVOLUTION(
        input, weight, stride=stride, padding=padding, dilation=dilation, groups=int(groups)
    )
    output = _add_bias(output, bias, weight, weight.shape[0])
    return output if batched else output.squeeze(0)


def _conv_transpose(
    name, dims, input, weight, bias, stride, padding, output_padding, groups, dilation
):
    input, batched = _batched(name, dims, input)
    _check_weight(name, dims, weight, True)
    output = CONVOLUTION(
        input,
        weight,
        stride=expand_param(stride, dims, "stride"),
        padding=expand_param(padding, dims, "padding"),
        dilation=expand_param(dilation, dims, "dilation"),
        groups=int(groups),
        transposed=True,
        output_padding=expand_param(output_padding, dims, "output_padding"),
    )
    output = _add_bias(output, bias, weight, weight.shape[1] * int(groups))
    return output if batched else output.squeeze(0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution: (N, C, L) x (Co, C / groups, K) -> (N, Co, L_out); padding may be an
    int, a tuple, 'valid' or 'same'."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution: (N, C, H, W) x (Co, C / groups, kH, kW) -> (N, Co, H_out, W_out),
    H_out = (H + 2 * padding - dilation * (kH - 1) - 1) // stride + 1."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution: (N, C, D, H, W) x (Co, C / groups, kD, kH, kW)."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    """The gradient of conv1d with respect to its input, as a layer: (N, Ci, L) x
    (Ci, Co / groups, K) -> (N, Co, (L - 1) * stride - 2 * padding + dilation * (K - 1) +
    output_padding + 1)."""
    return _conv_transpose(
        "conv_transpose1d",
        1,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    """2-D transposed convolution: (N, Ci, H, W) x (Ci, Co / groups, kH, kW)."""
    return _conv_transpose(
        "conv_transpose2d",
        2,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


def conv_transpose3d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    """3-D transposed convolution: (N, Ci, D, H, W) x (Ci, Co / groups, kD, kH, kW)."""
    return _conv_transpose(
        "conv_transpose3d",
        3,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """torch.convolution: every convolution in one call (batched input, explicit arguments)."""
    dims = weight.ndim - 2
    if input.ndim != dims + 2:
        raise located(
            RuntimeError(
                f"convolution: expected a {dims + 2}-D input for a {dims + 2}-D weight, but got "
                f"input of size {list(input.shape)}"
            )
        )
    output = CONVOLUTION(
        input,
        weight,
        stride=expand_param(stride, dims, "stride"),
        padding=expand_param(padding, dims, "padding"),
        dilation=expand_param(dilation, dims, "dilation"),
        groups=int(groups),
        transposed=bool(transposed),
        output_padding=expand_param(output_padding, dims, "output_padding"),
    )
    channels = weight.shape[1] * int(groups) if transposed else weight.shape[0]
    return _add_bias(output, bias, weight, channels)
