"""Specs for the pooling primitives (qilin/ops/pooling.py), called through nn.functional.

The NumPy references visit every output position and kernel offset one by one (slow, plain
loops written from torch's documented rules), independent of the vectorised kernels. Samples
are continuous random values, so windows have no ties (torch and qilin pick the first maximum
on ties; finite differences need a unique one).
"""

import itertools
import math

import numpy as np
import pytest

import qilin
from qilin.ops.pooling import AVG_POOL_BACKWARD, MAX_POOL_BACKWARD

from .harness import Arg, OpSpec, make_tests, torch


# ----- loop references ---------------------------------------------------------------------------
def _count(size, kernel, stride, pad, dilation, ceil_mode) -> int:
    """Output length from torch's documented formula."""
    numerator = size + 2 * pad - dilation * (kernel - 1) - 1
    count = (math.ceil if ceil_mode else math.floor)(numerator / stride) + 1
    if ceil_mode and (count - 1) * stride >= size + pad:
        count -= 1
    return count


def _setting(kw, nd):
    def as_tuple(value):
        return tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd

    kernel = as_tuple(kw["kernel_size"])
    stride = as_tuple(kw.get("stride") or kernel)
    return (
        kernel,
        stride,
        as_tuple(kw.get("padding", 0)),
        as_tuple(kw.get("dilation", 1)),
        kw.get("ceil_mode", False),
    )


def _windows(in_size, kernel, stride, padding, dilation, ceil_mode):
    """(output position, [(in-plane coordinate or None when in the padding) per offset])."""
    out = [_count(*args, ceil_mode) for args in zip(in_size, kernel, stride, padding, dilation)]
    for position in itertools.product(*map(range, out)):
        cells = []
        for offset in itertools.product(*map(range, kernel)):
            coordinate = tuple(
                o * s - p + j * d
                for o, s, p, j, d in zip(position, stride, padding, offset, dilation)
            )
            inside = all(0 <= c < n for c, n in zip(coordinate, in_size))
            cells.append(coordinate if inside else None)
        yield position, out, cells


def _max_pool_ref(nd):
    def reference(x, kw):
        in_size = x.shape[-nd:]
        planes = x.reshape(-1, *in_size)
        values = indices = None
        for position, out, cells in _windows(in_size, *_setting(kw, nd)):
            if values is None:
                values = np.empty((len(planes), *out), x.dtype)
                indices = np.empty((len(planes), *out), np.int64)
            real = [c for c in cells if c is not None]
            window = np.stack([planes[(slice(None), *c)] for c in real], axis=1)
            best = window.argmax(axis=1)  # the first maximum, as torch
            values[(slice(None), *position)] = window.max(axis=1)
            flat = [np.ravel_multi_index(c, in_size) for c in real]
            indices[(slice(None), *position)] = np.take(flat, best)
        shape = x.shape[:-nd] + values.shape[1:]
        return values.reshape(shape), indices.reshape(shape)

    return reference


def _avg_pool_ref(nd):
    def reference(x, kw):
        kernel, stride, padding, _, ceil_mode = _setting(kw, nd)
        in_size = x.shape[-nd:]
        planes = x.reshape(-1, *in_size)
        out = None
        for position, size, cells in _windows(
            in_size, kernel, stride, padding, (1,) * nd, ceil_mode
        ):
            if out is None:
                out = np.empty((len(planes), *size), x.dtype)
            real = [c for c in cells if c is not None]
            total = sum(planes[(slice(None), *c)] for c in real)
            if kw.get("divisor_override"):
                divisor = kw["divisor_override"]
            elif kw.get("count_include_pad", True):
                # offsets inside the input or its padding (not past the padding, in ceil_mode)
                divisor = 1
                for o, s, p, k, n in zip(position, stride, padding, kernel, in_size):
                    start = o * s - p
                    divisor *= min(start + k, n + p) - start
            else:
                divisor = len(real)
            out[(slice(None), *position)] = total / divisor
        return out.reshape(x.shape[:-nd] + out.shape[1:])

    return reference


def _adaptive_max_ref(nd):
    def reference(x, output_size):
        in_size = x.shape[-nd:]
        planes = x.reshape(-1, *in_size)
        values = np.empty((len(planes), *output_size), x.dtype)
        indices = np.empty((len(planes), *output_size), np.int64)
        for position in itertools.product(*map(range, output_size)):
            ranges = [
                range(math.floor(i * n / o), math.ceil((i + 1) * n / o))
                for i, n, o in zip(position, in_size, output_size)
            ]
            cells = list(itertools.product(*ranges))
            window = np.stack([planes[(slice(None), *c)] for c in cells], axis=1)
            values[(slice(None), *position)] = window.max(axis=1)
            flat = [np.ravel_multi_index(c, in_size) for c in cells]
            indices[(slice(None), *position)] = np.take(flat, window.argmax(axis=1))
        shape = x.shape[:-nd] + tuple(output_size)
        return values.reshape(shape), indices.reshape(shape)

    return reference


# ----- calls -------------------------------------------------------------------------------------
def _max_pool(nd):
    def call(lib, x, kw):
        return getattr(lib.nn.functional, f"max_pool{nd}d")(x, return_indices=True, **kw)

    return call


def _avg_pool(nd):
    def call(lib, x, kw):
        return getattr(lib.nn.functional, f"avg_pool{nd}d")(x, **kw)

    return call


def _adaptive_max(nd):
    def call(lib, x, output_size):
        function = getattr(lib.nn.functional, f"adaptive_max_pool{nd}d")
        return function(x, output_size, return_indices=True)

    return call


def _avg_backward(nd):
    """avg_pool's transpose on its own: qilin's primitive, torch's aten backward op."""

    def call(lib, g, x, kw):
        kernel, stride, padding, _, ceil_mode = _setting(kw, nd)
        include, divisor = kw.get("count_include_pad", True), kw.get("divisor_override")
        if lib is qilin:
            return AVG_POOL_BACKWARD(
                g,
                input_size=tuple(x.shape[-nd:]),
                kernel_size=kernel,
                stride=stride,
                padding=padding,
                ceil_mode=ceil_mode,
                count_include_pad=include,
                divisor_override=divisor,
            )
        if nd == 1:  # aten has no avg_pool1d_backward: run the 2-d one on (..., 1, L)
            kernel, stride, padding = (1, *kernel), (1, *stride), (0, *padding)
            grad = torch.ops.aten.avg_pool2d_backward(
                g.unsqueeze(-2), x.unsqueeze(-2), kernel, stride, padding, ceil_mode, include, None
            )
            return grad.squeeze(-2)
        backward = getattr(torch.ops.aten, f"avg_pool{nd}d_backward")
        return backward(g, x, kernel, stride, padding, ceil_mode, include, divisor)

    return call


def _avg_backward_ref(nd):
    """The transpose by its definition: column j of the (finite) pooling matrix, dotted."""

    def reference(g, x, kw):
        pool = _avg_pool_ref(nd)
        size = x[(0,) * (x.ndim - nd)].size
        grad = np.zeros(x.shape)
        lead = x.shape[:-nd]
        for j in range(size):
            unit = np.zeros((1,) + x.shape[-nd:])
            unit.reshape(-1)[j] = 1.0
            column = pool(unit, kw)[0]  # output response to input cell j
            total = (g * column).reshape(*lead, -1).sum(-1)
            grad.reshape(*lead, -1)[..., j] = total
        return grad.astype(g.dtype)

    return reference


def _max_backward(nd):
    """max pooling's vjp on its own, fed the indices of a real max pool of x."""

    def call(lib, g, x, kw):
        indices = _max_pool(nd)(lib, x, kw)[1]
        if lib is qilin:
            return MAX_POOL_BACKWARD(g, indices, input_size=tuple(x.shape[-nd:]))
        kernel, stride, padding, dilation, ceil_mode = _setting(kw, nd)
        backward = getattr(torch.ops.aten, f"max_pool{nd}d_with_indices_backward")
        return backward(g, x, kernel, stride, padding, dilation, ceil_mode, indices)

    return call


def _max_backward_ref(nd):
    def reference(g, x, kw):
        _, indices = _max_pool_ref(nd)(x, kw)
        lead = x.shape[:-nd]
        grad = np.zeros(x.shape, g.dtype).reshape(-1, int(np.prod(x.shape[-nd:])))
        for plane, (values, where) in enumerate(
            zip(g.reshape(len(grad), -1), indices.reshape(len(grad), -1))
        ):
            for value, index in zip(values, where):
                grad[plane, index] += value
        return grad.reshape(*lead, *x.shape[-nd:])

    return reference


def _samples(shape, settings):
    return [(Arg(shape), kw) for kw in settings]


MAX_2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(2, 1), ceil_mode=True),
    dict(kernel_size=2, stride=1, dilation=2),
]
AVG_2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), divisor_override=4),
]
AVG_1D = [
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=4, stride=3, padding=2, ceil_mode=True, count_include_pad=False),
]

SPECS = [
    OpSpec(
        "max_pool",
        _max_pool(2),
        _samples((2, 2, 6, 7), MAX_2D) + _samples((2, 5, 5), MAX_2D[1:3]),
        ref=_max_pool_ref(2),
        name="max_pool2d",
    ),
    OpSpec(
        "max_pool",
        _max_pool(1),
        _samples((2, 2, 9), [dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)])
        + _samples((3, 8), [dict(kernel_size=2, dilation=3, stride=1)]),
        ref=_max_pool_ref(1),
        name="max_pool1d",
    ),
    OpSpec(
        "max_pool",
        _max_pool(3),
        _samples((1, 2, 4, 5, 4), [dict(kernel_size=2, stride=1, padding=1)])
        + _samples((2, 5, 3, 4), [dict(kernel_size=(2, 3, 2), stride=2, ceil_mode=True)]),
        ref=_max_pool_ref(3),
        name="max_pool3d",
    ),
    OpSpec(
        "avg_pool",
        _avg_pool(2),
        _samples((2, 2, 6, 7), AVG_2D) + _samples((2, 5, 5), AVG_2D[3:]),
        ref=_avg_pool_ref(2),
        name="avg_pool2d",
    ),
    OpSpec(
        "avg_pool",
        _avg_pool(1),
        _samples((2, 2, 9), AVG_1D),
        ref=_avg_pool_ref(1),
        name="avg_pool1d",
    ),
    OpSpec(
        "avg_pool",
        _avg_pool(3),
        _samples(
            (1, 2, 4, 5, 4),
            [
                dict(
                    kernel_size=(2, 3, 2),
                    stride=(1, 2, 2),
                    padding=1,
                    ceil_mode=True,
                    count_include_pad=False,
                )
            ],
        ),
        ref=_avg_pool_ref(3),
        name="avg_pool3d",
    ),
    OpSpec(
        "avg_pool_backward",
        _avg_backward(2),
        [
            (Arg((2, 2, 4, 4)), Arg((2, 2, 6, 7), grad=False), AVG_2D[2]),
            (Arg((2, 2, 4, 4)), Arg((2, 2, 6, 7), grad=False), AVG_2D[3]),
            (Arg((2, 7, 4)), Arg((2, 6, 7), grad=False), AVG_2D[4]),
        ],
        ref=_avg_backward_ref(2),
    ),
    OpSpec(
        "avg_pool_backward",
        _avg_backward(1),
        [(Arg((2, 2, 5)), Arg((2, 2, 9), grad=False), AVG_1D[0])],
        ref=_avg_backward_ref(1),
        name="avg_pool_backward_1d",
    ),
    OpSpec(
        "max_pool_backward",
        _max_backward(2),
        [
            (Arg((2, 2, 4, 4)), Arg((2, 2, 6, 7), grad=False), MAX_2D[2]),
            (Arg((2, 4, 5)), Arg((2, 6, 7), grad=False), MAX_2D[4]),
        ],
        ref=_max_backward_ref(2),
    ),
    OpSpec(
        "adaptive_max_pool",
        _adaptive_max(2),
        [(Arg((2, 2, 7, 9)), (3, 4)), (Arg((2, 5, 6)), (5, 2)), (Arg((1, 2, 4, 4)), (4, 4))],
        ref=_adaptive_max_ref(2),
        name="adaptive_max_pool2d",
    ),
    OpSpec(
        "adaptive_max_pool",
        _adaptive_max(1),
        [(Arg((2, 3, 7)), (4,)), (Arg((3, 5)), (3,))],
        ref=_adaptive_max_ref(1),
        name="adaptive_max_pool1d",
    ),
    OpSpec(
        "adaptive_max_pool",
        _adaptive_max(3),
        [(Arg((1, 2, 5, 4, 6)), (2, 3, 4))],
        ref=_adaptive_max_ref(3),
        name="adaptive_max_pool3d",
    ),
]

make_tests(SPECS, globals())


def test_max_pool_of_all_minus_infinity_points_into_the_input():
    """A window that is padding and -inf inputs: the index is the first real cell, as torch."""
    x = np.full((1, 1, 4, 4), -np.inf)
    values, indices = qilin.nn.functional.max_pool2d(qilin.tensor(x), 3, 2, 1, return_indices=True)
    expected = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(values.numpy(), expected[0].numpy())
    np.testing.assert_array_equal(indices.numpy(), expected[1].numpy())


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "float16"])
def test_pooling_other_dtypes_match_torch(dtype):
    rng = np.random.default_rng(0)
    x = rng.integers(0 if dtype == "uint8" else -50, 50, (2, 3, 7, 6)).astype(dtype)
    cases = [("max_pool2d", dict(kernel_size=3, stride=2, padding=1, return_indices=True))]
    if dtype in ("int64", "float16"):  # torch's avg_pool takes no other integer type
        cases += [
            ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
            ("avg_pool2d", dict(kernel_size=2, ceil_mode=True)),
        ]
    else:
        with pytest.raises(NotImplementedError, match="avg_pool2d"):
            qilin.nn.functional.avg_pool2d(qilin.tensor(x), 2)
    for name, kw in cases:
        ours = getattr(qilin.nn.functional, name)(qilin.tensor(x), **kw)
        theirs = getattr(torch.nn.functional, name)(torch.tensor(x), **kw)
        ours, theirs = (ours, theirs) if isinstance(ours, tuple) else ((ours,), (theirs,))
        for mine, reference in zip(ours, theirs):
            assert str(mine.dtype).split(".")[-1] == str(reference.dtype).split(".")[-1]
            np.testing.assert_allclose(mine.numpy(), reference.numpy(), rtol=1e-3)


def test_max_pool_nan_propagates_as_torch():
    x = np.arange(32, dtype=np.float64).reshape(1, 2, 4, 4)
    x[0, 0, 1, 2] = x[0, 1, 0, 0] = x[0, 1, 1, 1] = np.nan
    ours = qilin.nn.functional.max_pool2d(qilin.tensor(x), 2, return_indices=True)
    theirs = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
    np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
