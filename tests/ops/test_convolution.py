"""Specs for the convolution primitives (qilin/ops/convolution.py): `convolution` through
conv1d/2d/3d, conv_transpose1d/2d/3d and torch.convolution (stride, padding, 'same', dilation,
groups, depthwise, output_padding, unbatched inputs, both matmul layouts), and `im2col` /
`col2im` through F.unfold / F.fold. The NumPy references are written independently: a direct
sum over kernel offsets, and a transposed convolution as the adjoint (the transposed matrix) of
that direct convolution. Errors are plain tests at the end."""

import math

import numpy as np
import pytest

import qilin
import qilin.nn.functional as QF

from .harness import Arg, OpSpec, make_tests, torch


# ----- NumPy references ------------------------------------------------------------------------
def _as_tuple(value, dims):
    return (value,) * dims if isinstance(value, int) else tuple(value)


def np_conv(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Direct convolution: for each kernel offset, the strided slice of the padded input times
    that offset's weights, per group."""
    dims = w.ndim - 2
    stride, dilation = _as_tuple(stride, dims), _as_tuple(dilation, dims)
    padding = _as_tuple(padding, dims)
    padded = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    sizes = [
        (n - d * (k - 1) - 1) // s + 1
        for n, k, s, d in zip(padded.shape[2:], w.shape[2:], stride, dilation)
    ]
    per_group, out_per_group = x.shape[1] // groups, w.shape[0] // groups
    out = np.zeros((x.shape[0], w.shape[0], *sizes), np.result_type(x, w))
    for offset in np.ndindex(*w.shape[2:]):
        window = tuple(
            slice(k * d, k * d + (o - 1) * s + 1, s)
            for k, d, o, s in zip(offset, dilation, sizes, stride)
        )
        patch = padded[(slice(None), slice(None)) + window]
        for g in range(groups):
            inputs = patch[:, g * per_group : (g + 1) * per_group]
            weights = w[(slice(g * out_per_group, (g + 1) * out_per_group), slice(None)) + offset]
            out[:, g * out_per_group : (g + 1) * out_per_group] += np.einsum(
                "nc...,oc->no...", inputs, weights
            )
    if bias is not None:
        out += bias.reshape((-1,) + (1,) * dims)
    return out


def np_conv_transpose(x, w, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The adjoint of np_conv: apply the direct convolution (weight read as (Ci, Co / groups))
    to every basis image of the output and take the transposed matrix."""
    dims = w.ndim - 2
    args = [_as_tuple(v, dims) for v in (stride, padding, output_padding, dilation)]
    stride, padding, output_padding, dilation = args
    sizes = [
        (i - 1) * s - 2 * p + d * (k - 1) + e + 1
        for i, k, s, p, d, e in zip(
            x.shape[2:], w.shape[2:], *args[:1], padding, dilation, output_padding
        )
    ]
    out_shape = (x.shape[0], w.shape[1] * groups, *sizes)
    columns = []
    for index in range(math.prod(out_shape)):
        basis = np.zeros(math.prod(out_shape))
        basis[index] = 1
        image = np_conv(
            basis.reshape(out_shape), w.astype(np.float64), None, stride, padding, dilation, groups
        )
        # output_padding >= stride (allowed with a larger dilation) gives extra rows: crop
        image = image[(slice(None), slice(None)) + tuple(slice(0, n) for n in x.shape[2:])]
        columns.append(image.reshape(-1))
    out = (np.stack(columns) @ x.reshape(-1).astype(np.float64)).reshape(out_shape)
    if bias is not None:
        out += bias.reshape((-1,) + (1,) * dims)
    return out.astype(np.result_type(x, w))


def np_unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Block by block: column l is the flattened (C, kH, kW) block at window l."""
    kernel, dilation = _as_tuple(kernel_size, 2), _as_tuple(dilation, 2)
    padding, stride = _as_tuple(padding, 2), _as_tuple(stride, 2)
    batched = x.ndim == 4
    x = x if batched else x[None]
    padded = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    rows = [
        (n - d * (k - 1) - 1) // s + 1
        for n, k, s, d in zip(padded.shape[2:], kernel, stride, dilation)
    ]
    blocks = []
    for i in range(rows[0]):
        for j in range(rows[1]):
            block = padded[
                :,
                :,
                i * stride[0] : i * stride[0] + dilation[0] * (kernel[0] - 1) + 1 : dilation[0],
                j * stride[1] : j * stride[1] + dilation[1] * (kernel[1] - 1) + 1 : dilation[1],
            ]
            blocks.append(block.reshape(x.shape[0], -1))
    out = np.stack(blocks, axis=-1)
    return out if batched else out[0]


def np_fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of np_unfold, as its transposed matrix."""
    batched = x.ndim == 3
    x = x if batched else x[None]
    taps = math.prod(_as_tuple(kernel_size, 2))
    shape = (x.shape[0], x.shape[1] // taps, *_as_tuple(output_size, 2))
    columns = []
    for index in range(math.prod(shape)):
        basis = np.zeros(math.prod(shape))
        basis[index] = 1
        columns.append(
            np_unfold(basis.reshape(shape), kernel_size, dilation, padding, stride).reshape(-1)
        )
    out = (np.stack(columns) @ x.reshape(-1).astype(np.float64)).reshape(shape).astype(x.dtype)
    return out if batched else out[0]


def np_same(x, w, dilation=1):
    """padding='same' (stride 1): the odd one out of d * (k - 1) goes to the right."""
    dims = w.ndim - 2
    dilation = _as_tuple(dilation, dims)
    totals = [d * (k - 1) for k, d in zip(w.shape[2:], dilation)]
    padded = np.pad(x, [(0, 0), (0, 0)] + [(t // 2, t - t // 2) for t in totals])
    return np_conv(padded, w, dilation=dilation)


# ----- specs -------------------------------------------------------------------------------------
def conv_spec(name, function, x, w, bias=False, **options):
    """A spec for F.<function>(x, w[, b], **options) with np_conv(-transpose) as reference."""
    transposed = function.startswith("conv_transpose")
    reference = np_conv_transpose if transposed else np_conv
    channels = w[1] * options.get("groups", 1) if transposed else w[0]
    arrays = (Arg(x), Arg(w)) + ((Arg((channels,)),) if bias else ())

    def call(lib, *tensors):
        return getattr(lib.nn.functional, function)(*tensors, **options)

    def ref(input, weight, b=None):
        batched = input.ndim == len(w)
        out = reference(input if batched else input[None], weight, b, **options)
        return out if batched else out[0]

    return OpSpec("convolution", call, [arrays], ref=ref, name=name)


SPECS = [
    conv_spec("conv1d", "conv1d", (2, 3, 7), (4, 3, 3), bias=True),
    conv_spec(
        "conv1d-strided", "conv1d", (2, 4, 9), (6, 2, 3), stride=2, padding=2, dilation=2, groups=2
    ),
    conv_spec("conv2d", "conv2d", (2, 3, 5, 6), (4, 3, 3, 2), bias=True),
    conv_spec(
        "conv2d-groups",
        "conv2d",
        (2, 4, 7, 6),
        (6, 2, 3, 3),
        stride=(2, 1),
        padding=(1, 2),
        dilation=(1, 2),
        groups=2,
    ),
    conv_spec("conv2d-depthwise", "conv2d", (2, 3, 5, 5), (6, 1, 3, 3), padding=1, groups=3),
    conv_spec("conv2d-stride-leaves-rows", "conv2d", (1, 2, 9, 8), (2, 2, 2, 2), stride=3),
    conv_spec("conv2d-1x1", "conv2d", (2, 3, 4, 3), (2, 3, 1, 1), bias=True),
    # 256 windows per image: one matmul per sample instead of one over the batch
    conv_spec("conv2d-per-sample", "conv2d", (2, 2, 17, 16), (3, 2, 2, 1), bias=True),
    conv_spec("conv2d-unbatched", "conv2d", (3, 5, 5), (2, 3, 3, 3), bias=True, padding=1),
    conv_spec(
        "conv3d",
        "conv3d",
        (2, 2, 4, 5, 4),
        (4, 1, 2, 3, 2),
        bias=True,
        stride=(1, 2, 1),
        padding=1,
        groups=2,
    ),
    OpSpec(
        "convolution",
        lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding="same", dilation=(1, 2)),
        [(Arg((1, 2, 5, 6)), Arg((3, 2, 4, 3)))],
        ref=lambda x, w: np_same(x, w, dilation=(1, 2)),
        name="conv2d-same-even-kernel",
    ),
    OpSpec(
        "convolution",
        lambda lib, x, w: lib.nn.functional.conv1d(x, w, padding="valid"),
        [(Arg((2, 2, 6)), Arg((3, 2, 4)))],
        ref=np_conv,
        name="conv1d-valid",
    ),
    conv_spec(
        "conv_transpose1d",
        "conv_transpose1d",
        (2, 4, 5),
        (4, 3, 3),
        bias=True,
        stride=2,
        padding=1,
        output_padding=1,
    ),
    conv_spec(
        "conv_transpose2d-groups",
        "conv_transpose2d",
        (2, 4, 3, 4),
        (4, 2, 2, 3),
        bias=True,
        stride=(2, 1),
        padding=(0, 1),
        output_padding=(1, 0),
        groups=2,
        dilation=(1, 2),
    ),
    # output_padding >= stride is allowed when below the dilation
    conv_spec(
        "conv_transpose2d-output-padding-dilation",
        "conv_transpose2d",
        (1, 2, 3, 3),
        (2, 2, 2, 2),
        output_padding=1,
        dilation=2,
    ),
    # without stride and with Ci <= Co: a convolution with the flipped kernel (padding that
    # exceeds d * (k - 1) crops)
    conv_spec(
        "conv_transpose2d-flipped",
        "conv_transpose2d",
        (2, 4, 3, 3),
        (4, 3, 2, 2),
        padding=1,
        output_padding=1,
        groups=2,
        dilation=2,
    ),
    conv_spec("conv2d-wide-padding", "conv2d", (2, 4, 4, 3), (2, 4, 2, 2), padding=2),
    conv_spec(
        "conv_transpose2d-per-sample", "conv_transpose2d", (2, 2, 16, 16), (2, 1, 2, 2), stride=2
    ),
    conv_spec("conv_transpose2d-unbatched", "conv_transpose2d", (2, 3, 3), (2, 3, 3, 2), padding=1),
    conv_spec("conv_transpose3d", "conv_transpose3d", (1, 2, 2, 3, 2), (2, 2, 2, 2, 2), stride=2),
    OpSpec(
        "convolution",
        lambda lib, x, w, b: lib.convolution(x, w, b, [2, 1], [1, 0], [1, 1], True, [1, 0], 1),
        [(Arg((2, 3, 3, 4)), Arg((3, 2, 3, 2)), Arg((2,)))],
        ref=lambda x, w, b: np_conv_transpose(x, w, b, (2, 1), (1, 0), (1, 0)),
        name="torch.convolution-transposed",
    ),
    OpSpec(
        "convolution",
        lambda lib, x, w: lib.conv2d(x, w, None, 1, 1),
        [(Arg((2, 3, 4, 4), "int"), Arg((2, 3, 3, 3), "int"))],
        ref=lambda x, w: np_conv(x, w, padding=1),
        name="conv2d-integer",
        grad=False,
        dtypes=("float32",),
    ),
    OpSpec(
        "im2col",
        lambda lib, x: lib.nn.functional.unfold(
            x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)
        ),
        [(Arg((2, 3, 5, 6)),), (Arg((2, 4, 4)),)],
        ref=lambda x: np_unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
        name="unfold",
    ),
    OpSpec(
        "col2im",
        lambda lib, x: lib.nn.functional.fold(x, (5, 6), 2, dilation=(1, 2), padding=1, stride=2),
        # blocks: rows (5 + 2 - 1 - 1) // 2 + 1 = 3, columns (6 + 2 - 2 - 1) // 2 + 1 = 3
        [(Arg((2, 12, 9)),), (Arg((8, 9)),)],
        ref=lambda x: np_fold(x, (5, 6), 2, dilation=(1, 2), padding=1, stride=2),
        name="fold",
    ),
]

make_tests(SPECS, globals())


# ----- errors: torch's messages ----------------------------------------------------------------
def _raises(message, function, *args, error=RuntimeError, **kwargs):
    with pytest.raises(error, match=message):
        function(*args, **kwargs)


X = qilin.zeros(2, 4, 5, 5)


@pytest.mark.parametrize(
    "message,weight,options",
    [
        (
            r"Given groups=1, weight of size \[8, 3, 3, 3\], expected input\[2, 4, 5, 5\] to have "
            r"3 channels, but got 4 channels instead",
            (8, 3, 3, 3),
            {},
        ),
        (
            r"Given groups=2, expected weight to be divisible by 2 at dimension 0, but got weight "
            r"of size \[3, 2, 3, 3\] instead",
            (3, 2, 3, 3),
            {"groups": 2},
        ),
        ("non-positive groups is not supported", (8, 4, 3, 3), {"groups": 0}),
        ("non-positive stride is not supported", (8, 4, 3, 3), {"stride": 0}),
        ("negative padding is not supported", (8, 4, 3, 3), {"padding": -1}),
        ("non-positive dilation is not supported", (8, 4, 3, 3), {"dilation": (1, 0)}),
        (
            r"Calculated padded input size per channel: \(5 x 5\). Kernel size: \(7 x 7\). "
            "Kernel size can't be greater than actual input size",
            (8, 4, 7, 7),
            {},
        ),
        (
            r"Calculated padded input size per channel: \(5 x 7\). Kernel size: \(5 x 9\)",
            (8, 4, 3, 5),
            {"padding": (0, 1), "dilation": (2, 2)},
        ),
        (
            "padding='same' is not supported for strided convolutions",
            (8, 4, 3, 3),
            {"stride": 2, "padding": "same"},
        ),
        ("Invalid padding string: 'full'", (8, 4, 3, 3), {"padding": "full"}),
        (
            r"expected stride to be a single integer value or a list of 2 values to match the "
            r"convolution dimensions, but got stride=\[1, 2, 3\]",
            (8, 4, 3, 3),
            {"stride": (1, 2, 3)},
        ),
    ],
)
def test_conv2d_errors(message, weight, options):
    _raises(message, QF.conv2d, X, qilin.zeros(weight), **options)


def test_conv_rank_and_type_errors():
    _raises(
        r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: "
        r"\[4, 5\]",
        QF.conv2d,
        qilin.zeros(4, 5),
        qilin.zeros(8, 4, 3, 3),
    )
    _raises(
        r"Expected 2D \(unbatched\) or 3D \(batched\) input to conv1d, but got input of size: "
        r"\[2, 4, 5, 5\]",
        QF.conv1d,
        X,
        qilin.zeros(8, 4, 3),
    )
    _raises(
        r"conv2d: expected a 4-D weight .* got weight of size \[8, 4, 3\]",
        QF.conv2d,
        X,
        qilin.zeros(8, 4, 3),
    )
    _raises(
        r"Input type \(float32\) and weight type \(float64\) should be the same",
        QF.conv2d,
        X,
        qilin.zeros(8, 4, 3, 3, dtype=qilin.float64),
    )
    _raises(
        r"Given weight of size \[8, 4, 3, 3\], expected bias to be 1-dimensional with 8 "
        r"elements, but got bias of size \[7\] instead",
        QF.conv2d,
        X,
        qilin.zeros(8, 4, 3, 3),
        qilin.zeros(7),
    )


def test_conv_transpose_errors():
    _raises(
        r"Given transposed=1, weight of size \[5, 3, 3, 3\], expected input\[2, 4, 5, 5\] to "
        r"have 5 channels, but got 4 channels instead",
        QF.conv_transpose2d,
        X,
        qilin.zeros(5, 3, 3, 3),
    )
    _raises(
        "output padding must be smaller than either stride or dilation",
        QF.conv_transpose2d,
        X,
        qilin.zeros(4, 3, 3, 3),
        output_padding=1,
    )
    _raises(
        r"Given input size per channel: \(5 x 5\). Calculated output size per channel: "
        r"\(-1 x -1\). Output size is too small",
        QF.conv_transpose2d,
        X,
        qilin.zeros(4, 3, 3, 3),
        padding=4,
    )
    _raises(
        "Given groups=3, expected weight to be divisible by 3 at dimension 0",
        QF.conv_transpose2d,
        X,
        qilin.zeros(4, 3, 3, 3),
        groups=3,
    )


def test_unfold_fold_errors():
    _raises(
        r"Given input with spatial size \(5, 5\), kernel_size=\(6, 6\), dilation=\(1, 1\), "
        r"padding=\(0, 0\), calculated shape of the array of sliding blocks as \(0, 0\), but its "
        "components must be at least one",
        QF.unfold,
        X,
        6,
    )
    _raises("Only 3D or 4D input", QF.unfold, qilin.zeros(3, 4), 2, error=NotImplementedError)
    _raises(
        r"expected size of input's dimension 2 to match the calculated number of sliding blocks "
        r"3 \* 3 = 9, but got input.size\(2\)=8",
        QF.fold,
        qilin.zeros(2, 12, 8),
        (4, 4),
        2,
    )
    _raises(
        r"Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
        r"but got input.size\(1\)=13 and kernel_size=\(2, 2\)",
        QF.fold,
        qilin.zeros(2, 13, 9),
        (4, 4),
        2,
    )


def test_top_level_names_are_torchs():
    for name in ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d"):
        assert getattr(qilin, name) is getattr(QF, name)
        assert hasattr(torch, name)
    assert not hasattr(qilin.Tensor, "conv2d")


def test_gradient_shapes_when_stride_leaves_rows_unused():
    """The input gradient of a strided convolution is a transposed one with output_padding
    restoring the rows no window reached (they get zero gradient)."""
    x = qilin.randn(1, 1, 7, 7, requires_grad=True)
    w = qilin.randn(1, 1, 2, 2, requires_grad=True)
    QF.conv2d(x, w, stride=3).sum().backward()
    assert x.grad.shape == x.shape
    np.testing.assert_array_equal(x.grad.numpy()[0, 0, 6], 0)
    np.testing.assert_array_equal(x.grad.numpy()[0, 0, :, 6], 0)
