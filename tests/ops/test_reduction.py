"""Specs for the reductions and scans (qilin/ops/reduction.py), plus the cases a spec cannot
state: errors, ties whose gradient finite differences cannot see, and infinities."""

import math

import numpy as np
import pytest

import qilin

from .harness import Arg, OpSpec, make_tests, torch

A = (3, 4)
B = (2, 3, 4)
INTS = ("float32",)  # integer and bool inputs do not depend on the float dtype


def axis(dim):
    """torch's dim argument as NumPy's axis (a list becomes a tuple)."""
    return tuple(dim) if isinstance(dim, list) else dim


def over(function):
    """A NumPy reference for (x, dim, keepdim); a 0-d input's only dim is 0 (None to NumPy)."""
    return lambda x, d, k: function(x, axis=None if x.ndim == 0 else axis(d), keepdims=k)


def with_zeros(shape):
    """Exact zeros (uniform over [0, 0]) that still carry gradients."""
    return Arg(shape, low=0.0, high=0.0)


def constant(shape, value):
    """Equal values: ties for amax/amin (two-way ties: finite differences see half each)."""
    return Arg(shape, low=value, high=value)


def np_norm(x, p, dim, keepdim):
    magnitude = np.abs(x)
    dim = axis(dim)
    if p == math.inf:
        return magnitude.max(axis=dim, keepdims=keepdim)
    if p == -math.inf:
        return magnitude.min(axis=dim, keepdims=keepdim)
    if p == 0:
        return (x != 0).sum(axis=dim, keepdims=keepdim).astype(x.dtype)
    p = 2 if p == "fro" else p
    return (magnitude**p).sum(axis=dim, keepdims=keepdim) ** (1.0 / p)


# Samples shared by reductions over dims: (input, dim, keepdim).
DIMS = [
    (Arg(B), 1, False),
    (Arg(B), (0, 2), True),
    (Arg(B), -1, True),
    (Arg(B), [-1, 0], False),
    (Arg(B), None, True),
    (Arg(()), 0, False),
    (Arg(()), None, True),
]
EMPTY = [(Arg((0, 3)), 0, False), (Arg((2, 0, 3)), (1,), True), (Arg((0, 3)), None, False)]
NONEMPTY_DIM = [(Arg((0, 3)), 1, False), (Arg((2, 0, 3)), (0, 2), True)]

SPECS = [
    # ----- sum / mean / prod ------------------------------------------------------------------
    OpSpec("sum", lambda lib, x: lib.sum(x), [(Arg(A),), (Arg(()),)], ref=np.sum),
    OpSpec(
        "sum",
        lambda lib, x, d, k: lib.sum(x, d, keepdim=k),
        DIMS + EMPTY,
        name="sum_dims",
        ref=over(np.sum),
    ),
    OpSpec(
        "sum",
        lambda lib, x: x.sum(1),
        [(Arg(A, "int"),), (Arg(A, "bool"),)],
        name="sum_int_bool",
        ref=lambda x: np.sum(x, 1).astype(np.int64),
        dtypes=INTS,
    ),
    OpSpec(
        "sum",
        lambda lib, x: lib.sum(x, 0, dtype=lib.float64),
        [(Arg(A),), (Arg(A, "int"),)],
        name="sum_dtype",
        ref=lambda x: np.sum(x.astype(np.float64), 0),
    ),
    OpSpec(
        "mean",
        lambda lib, x, d, k: lib.mean(x, d, keepdim=k),
        DIMS + EMPTY,
        name="mean_dims",
        ref=over(np.mean),
    ),
    OpSpec(
        "mean",
        lambda lib, x: x.mean(dtype=lib.float64),
        [(Arg(A, "int"),)],
        name="mean_dtype",
        ref=lambda x: np.mean(x.astype(np.float64)),
        dtypes=INTS,
    ),
    OpSpec(
        "prod",
        lambda lib, x, d, k: lib.prod(x, d, keepdim=k),
        [
            (Arg(A), 1, False),
            (Arg(B), -1, True),
            (Arg(B), 0, False),
            (Arg(()), 0, False),
            (Arg((0, 3)), 0, False),
            (Arg((0, 3)), 1, True),
        ],
        name="prod_dims",
        ref=over(np.prod),
    ),
    OpSpec("prod", lambda lib, x: lib.prod(x), [(Arg(A),), (Arg(()),)], ref=np.prod),
    OpSpec(
        "prod",
        lambda lib, x: x.prod(0),
        [(Arg(A, "int"),), (Arg(A, "bool"),)],
        name="prod_int",
        ref=lambda x: np.prod(x, 0).astype(np.int64),
        dtypes=INTS,
    ),
    # One zero per row: its gradient is the product of the others (prod / x would be nan);
    # two zeros: every gradient is 0.
    OpSpec(
        "prod",
        lambda lib, x, z: lib.prod(lib.cat([x, z, x], 1), 1),
        [(Arg((3, 2)), with_zeros((3, 1))), (Arg((3, 2)), with_zeros((3, 2)))],
        name="prod_zeros",
        ref=lambda x, z: np.prod(np.concatenate([x, z, x], 1), 1),
    ),
    OpSpec(
        "prod",
        lambda lib, x, z: lib.prod(lib.cat([x, z])),
        [(Arg((5,)), with_zeros((1,)))],
        name="prod_zeros_all",
        ref=lambda x, z: np.prod(np.concatenate([x, z])),
    ),
    OpSpec(
        "prod",
        lambda lib, x, z: lib.prod(lib.cat([x, z], 0), 0, keepdim=True),
        [(Arg((2, 3)), with_zeros((1, 3)))],
        name="prod_zeros_keepdim",
        ref=lambda x, z: np.prod(np.concatenate([x, z], 0), 0, keepdims=True),
    ),
    # ----- amax / amin / max / min ------------------------------------------------------------
    OpSpec(
        "amax",
        lambda lib, x, d, k: lib.amax(x, d if d is not None else (), keepdim=k),
        DIMS + NONEMPTY_DIM,
        name="amax_dims",
        ref=over(np.amax),
    ),
    OpSpec(
        "amin",
        lambda lib, x, d, k: lib.amin(x, d if d is not None else (), keepdim=k),
        DIMS + NONEMPTY_DIM,
        name="amin_dims",
        ref=over(np.amin),
    ),
    OpSpec(
        "amax", lambda lib, x: lib.amax(x), [(Arg(A),), (Arg(A, "int"),)], ref=lambda x: np.amax(x)
    ),
    # Two equal maxima per row (the constant 3 beats every x): each gets half the gradient.
    OpSpec(
        "amax",
        lambda lib, x, c: lib.amax(lib.cat([x, c], 1), 1),
        [(Arg(A), constant((3, 2), 3.0))],
        name="amax_ties",
        ref=lambda x, c: np.amax(np.concatenate([x, c], 1), 1),
    ),
    OpSpec(
        "amin",
        lambda lib, x, c: lib.amin(lib.cat([c, x], 0), (0, 1)),
        [(Arg((3, 2)), constant((1, 2), -3.0))],
        name="amin_ties_all",
        ref=lambda x, c: np.amin(np.concatenate([c, x], 0)),
    ),
    OpSpec(
        ("amax", "argmax"),
        lambda lib, x: lib.max(x),
        [(Arg(A),), (Arg(()),)],
        name="max",
        ref=np.max,
    ),
    OpSpec(
        ("amax", "argmax"),
        lambda lib, x, d, k: lib.max(x, d, keepdim=k),
        [(Arg(B), 1, False), (Arg(B), -1, True), (Arg(()), 0, False), (Arg((0, 3)), 1, False)],
        name="max_dim",
        ref=lambda x, d, k: (over(np.max)(x, d, k), over(np.argmax)(x, d, k)),
    ),
    OpSpec(
        ("amax", "argmax"),
        lambda lib, x: lib.max(x, 1),
        [(Arg(A, "bool"),)],
        name="max_dim_bool",
        dtypes=INTS,
        ref=lambda x: (np.max(x, 1), np.argmax(x, 1)),
    ),
    OpSpec(
        ("amin", "argmin"),
        lambda lib, x, d, k: x.min(dim=d, keepdim=k),
        [(Arg(B), 0, True), (Arg(A), -2, False)],
        name="min_dim",
        ref=lambda x, d, k: (np.min(x, axis=d, keepdims=k), np.argmin(x, axis=d, keepdims=k)),
    ),
    OpSpec("amin", lambda lib, x: lib.min(x), [(Arg(A),)], name="min", ref=np.min),
    OpSpec(
        "amax",
        lambda lib, x, y: lib.max(x, y),
        [(Arg(A), Arg((4,)))],
        name="max_binary",
        ref=np.maximum,
    ),
    OpSpec(
        "amin",
        lambda lib, x, y: lib.min(x, y),
        [(Arg(A), Arg(A))],
        name="min_binary",
        ref=np.minimum,
    ),
    OpSpec(
        ("amin", "amax"),
        lambda lib, x, d, k: lib.aminmax(x, dim=d, keepdim=k),
        [(Arg(B), 1, False), (Arg(B), -1, True), (Arg(A), None, False), (Arg(()), None, False)],
        name="aminmax",
        ref=lambda x, d, k: (over(np.amin)(x, d, k), over(np.amax)(x, d, k)),
    ),
    OpSpec(
        "argmax",
        lambda lib, x, d, k: lib.argmax(x, d, keepdim=k),
        [
            (Arg(B), None, False),
            (Arg(B), 1, False),
            (Arg(B), -1, True),
            (Arg(A, "int"), 0, False),
            (Arg(()), 0, False),
            (Arg((0, 3)), 1, False),
        ],
        ref=over(np.argmax),
    ),
    OpSpec(
        "argmin",
        lambda lib, x, d, k: x.argmin(d, keepdim=k),
        [(Arg(B), None, False), (Arg(B), 2, True), (Arg(A), -2, False)],
        ref=lambda x, d, k: np.argmin(x, axis=d, keepdims=k),
    ),
    # ----- logical and counting ---------------------------------------------------------------
    OpSpec(
        "all",
        lambda lib, x, d, k: lib.all(x, d, keepdim=k) if d is not None else lib.all(x),
        [
            (Arg(A, "bool"), 1, False),
            (Arg(B, "bool"), 0, True),
            (Arg(A, "bool"), None, False),
            (Arg(A), -1, False),
            (Arg(A, "int"), 0, False),
            (Arg((0, 3), "bool"), 0, False),
        ],
        ref=lambda x, d, k: np.all(x, axis=d, keepdims=k),
        dtypes=INTS,
    ),
    OpSpec(
        "any",
        lambda lib, x, d, k: x.any(d, keepdim=k) if d is not None else x.any(),
        [
            (Arg(A, "bool"), 1, False),
            (Arg(B, "bool"), -1, True),
            (Arg(A, "bool"), None, False),
            (Arg(A, "int"), 0, False),
            (Arg((0, 3), "bool"), 0, False),
        ],
        ref=lambda x, d, k: np.any(x, axis=d, keepdims=k),
        dtypes=INTS,
    ),
    OpSpec(
        "all",
        lambda lib, x: (lib.all(x.to(lib.uint8), 1), lib.any(x.to(lib.uint8))),
        [(Arg(A, "bool"),)],
        name="all_any_uint8",
        dtypes=INTS,
        ref=lambda x: (np.all(x, 1).astype(np.uint8), np.any(x).astype(np.uint8)),
    ),
    OpSpec(
        "count_nonzero",
        lambda lib, x, d: lib.count_nonzero(x, d),
        [
            (Arg(A, "int"), None),
            (Arg(B, "int"), 1),
            (Arg(B, "int"), (0, 2)),
            (Arg(A, "bool"), -1),
            (Arg(A), 0),
        ],
        ref=lambda x, d: np.asarray(np.count_nonzero(x, axis=d), dtype=np.int64),
        dtypes=INTS,
    ),
    # ----- var / std --------------------------------------------------------------------------
    OpSpec(
        "var",
        lambda lib, x, d, k, c: lib.var(x, d, keepdim=k, correction=c),
        [
            (Arg(B), 1, False, 1),
            (Arg(B), (0, 2), True, 0),
            (Arg(B), None, False, 2),
            (Arg(B), -1, True, 1),
            (Arg(A), [0, 1], False, 1),
        ],
        ref=lambda x, d, k, c: np.var(x, axis=axis(d), ddof=c, keepdims=k),
    ),
    OpSpec(
        "var",
        lambda lib, x, u: lib.var(x, 1, u),
        [(Arg(A), True), (Arg(A), False)],
        name="var_unbiased",
        ref=lambda x, u: np.var(x, axis=1, ddof=int(u)),
    ),
    OpSpec(
        "var",
        lambda lib, x: (lib.var(x, False), x.var()),
        [(Arg(A),)],
        name="var_positional_unbiased",
        ref=lambda x: (np.var(x), np.var(x, ddof=1)),
    ),
    OpSpec(
        "var",
        lambda lib, x, d, k, u: lib.std(x, d, u, k),
        [(Arg(B), 1, False, True), (Arg(B), (0, 2), True, False), (Arg(A), None, False, True)],
        name="std",
        ref=lambda x, d, k, u: np.std(x, axis=d, ddof=int(u), keepdims=k),
    ),
    OpSpec(
        "var",
        lambda lib, x: lib.std(x, 0, correction=2),
        [(Arg(A),)],
        name="std_correction",
        ref=lambda x: np.std(x, axis=0, ddof=2),
    ),
    OpSpec(
        ("var", "mean"),
        lambda lib, x, d, k: lib.var_mean(x, d, keepdim=k),
        [(Arg(B), 1, False), (Arg(A), None, True)],
        name="var_mean",
        ref=lambda x, d, k: (np.var(x, axis=d, ddof=1, keepdims=k), np.mean(x, axis=d, keepdims=k)),
    ),
    OpSpec(
        ("var", "mean"),
        lambda lib, x, d, u: lib.std_mean(x, d, u),
        [(Arg(B), 2, False), (Arg(A), (0, 1), True)],
        name="std_mean",
        ref=lambda x, d, u: (np.std(x, axis=d, ddof=int(u)), np.mean(x, axis=d)),
    ),
    OpSpec(
        ("var", "mean"),
        lambda lib, x: lib.std_mean(x, 1, correction=0, keepdim=True),
        [(Arg(A),)],
        name="std_mean_correction",
        ref=lambda x: (np.std(x, axis=1, keepdims=True), np.mean(x, axis=1, keepdims=True)),
    ),
    # ----- composites -------------------------------------------------------------------------
    OpSpec(
        ("amax", "sum"),
        lambda lib, x, d, k: lib.logsumexp(x, d, keepdim=k),
        [
            (Arg(B), 1, False),
            (Arg(B), (0, 2), True),
            (Arg(B), -1, True),
            (Arg(()), 0, False),
            (Arg(A, high=60.0), 1, False),
        ],
        name="logsumexp",
        ref=lambda x, d, k: np.log(over(np.sum)(np.exp(x.astype(np.float64)), d, k)),
    ),
    OpSpec(
        ("amax", "sum"),
        lambda lib, x: lib.logsumexp(x, 1),
        [(Arg(A, "int"),)],
        name="logsumexp_int",
        dtypes=INTS,
        ref=lambda x: np.log(np.sum(np.exp(x), axis=1)).astype(np.float32),
    ),
    OpSpec(
        "sum",
        lambda lib, x, p, d, k: lib.norm(x, p, d, keepdim=k),
        [
            (Arg(A), 2, None, False),
            (Arg(A), "fro", None, False),
            (Arg(B), 1, 1, False),
            (Arg(B), 2, (1, 2), True),
            (Arg(B), 3, -1, False),
            (Arg(B), "fro", (0, 1), False),
            (Arg(A), 0, 1, False),
            (Arg(A), 1.5, None, True),
        ],
        name="norm",
        ref=np_norm,
    ),
    OpSpec(
        ("amax", "amin"),
        lambda lib, x, p, d: lib.norm(x, p, d),
        [
            (Arg(A), math.inf, None),
            (Arg(B), math.inf, 1),
            (Arg(A), -math.inf, None),
            (Arg(B), -math.inf, (0, 2)),
        ],
        name="norm_inf",
        ref=lambda x, p, d: np_norm(x, p, d, False),
    ),
    # An all-zero slice: torch's gradient is 0 there (a plain sqrt would give nan).
    OpSpec(
        "sum",
        lambda lib, x, z, p: lib.norm(lib.cat([x, z], 0), p, 1),
        [(Arg((2, 4)), with_zeros((1, 4)), 2), (Arg((2, 4)), with_zeros((1, 4)), 3)],
        name="norm_zero_slice",
        double=False,
        ref=lambda x, z, p: np_norm(np.concatenate([x, z], 0), p, 1, False),
    ),
    OpSpec(
        "sum",
        lambda lib, x, m, d: lib.nansum(lib.where(m, x, float("nan")), d),
        [(Arg(A), Arg(A, "bool"), None), (Arg(B), Arg(B, "bool"), 1)],
        name="nansum",
        ref=lambda x, m, d: np.nansum(np.where(m, x, np.nan), axis=d),
    ),
    OpSpec(
        "sum",
        lambda lib, x: lib.nansum(x, 0),
        [(Arg(A, "int"),)],
        name="nansum_int",
        ref=lambda x: np.sum(x, 0),
        dtypes=INTS,
    ),
    OpSpec(
        "mean",
        lambda lib, x, m, d, k: lib.nanmean(lib.where(m, x, float("nan")), d, keepdim=k),
        [(Arg(A), Arg(A, "bool"), None, False), (Arg(B), Arg(B, "bool"), -1, True)],
        name="nanmean",
        ref=lambda x, m, d, k: np.nanmean(np.where(m, x, np.nan), axis=d, keepdims=k),
    ),
    # ----- scans ------------------------------------------------------------------------------
    OpSpec(
        "cumsum",
        lambda lib, x, d: lib.cumsum(x, d),
        [(Arg(B), 0), (Arg(B), -1), (Arg(A), 1), (Arg((0, 3)), 0)],
        ref=lambda x, d: np.cumsum(x, axis=d),
    ),
    OpSpec(
        "cumsum",
        lambda lib, x: lib.cumsum(x, 0),
        [(Arg(()),)],
        name="cumsum_scalar",
        ref=lambda x: x,
    ),
    OpSpec(
        "cumsum",
        lambda lib, x: x.cumsum(1),
        [(Arg(A, "int"),), (Arg(A, "bool"),)],
        name="cumsum_int",
        ref=lambda x: np.cumsum(x, 1, dtype=np.int64),
        dtypes=INTS,
    ),
    OpSpec(
        "cumsum",
        lambda lib, x: lib.cumsum(x, 0, dtype=lib.float64),
        [(Arg(A),), (Arg(A, "int"),)],
        name="cumsum_dtype",
        ref=lambda x: np.cumsum(x.astype(np.float64), 0),
    ),
    OpSpec(
        "cumprod",
        lambda lib, x, d: lib.cumprod(x, d),
        [(Arg(B), 0), (Arg(B), -1), (Arg(A), 1), (Arg(()), 0)],
        ref=lambda x, d: np.cumprod(x, axis=d) if x.ndim else x,
    ),
    OpSpec(
        "cumprod",
        lambda lib, x: x.cumprod(0),
        [(Arg(A, "int"),)],
        name="cumprod_int",
        ref=lambda x: np.cumprod(x, 0, dtype=np.int64),
        dtypes=INTS,
    ),
    OpSpec(
        "cumprod",
        lambda lib, x: lib.cumprod(x, 1, dtype=lib.float64),
        [(Arg(A),)],
        name="cumprod_dtype",
        ref=lambda x: np.cumprod(x.astype(np.float64), 1),
    ),
    # Zeros inside the scan: the gradient at the first zero skips it, after it everything is 0.
    OpSpec(
        "cumprod",
        lambda lib, x, z, y: lib.cumprod(lib.cat([x, z, y], 1), 1),
        [
            (Arg((3, 2)), with_zeros((3, 1)), Arg((3, 3))),
            (Arg((3, 1)), with_zeros((3, 2)), Arg((3, 2))),
            (Arg((2, 0)), with_zeros((2, 1)), Arg((2, 3))),
        ],
        name="cumprod_zeros",
        ref=lambda x, z, y: np.cumprod(np.concatenate([x, z, y], 1), 1),
    ),
]

make_tests(SPECS, globals())


# ----- what specs cannot say ---------------------------------------------------------------------
def _grad_pair(function, array):
    """The gradient of sum(function(x) * weights) for qilin and torch, from the same array."""
    results = []
    for lib in (qilin, torch):
        x = lib.tensor(array, requires_grad=True)
        out = function(lib, x)
        weights = lib.tensor(
            np.linspace(1.0, 2.0, int(np.prod(out.shape))).reshape(tuple(out.shape))
        )
        (out * weights).sum().backward()
        results.append(x.grad.numpy())
    return results


needs_torch = pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
TIES = np.array([[1.0, 3.0, 3.0, 3.0], [2.0, 2.0, 0.0, -1.0], [5.0, 5.0, 5.0, 5.0]])


@needs_torch
@pytest.mark.parametrize("name", ["amax", "amin"])
@pytest.mark.parametrize("dim", [1, (0, 1), 0])
def test_extreme_ties_share_the_gradient_like_torch(name, dim):
    ours, theirs = _grad_pair(lambda lib, x: getattr(lib, name)(x, dim), TIES)
    np.testing.assert_allclose(ours, theirs)
    if name == "amax" and dim == 1:  # and an independent count: row 0 splits three ways
        np.testing.assert_allclose(ours[0], [0, 1 / 3, 1 / 3, 1 / 3])


@needs_torch
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_with_dim_sends_the_gradient_to_its_index_like_torch(name):
    ours, theirs = _grad_pair(lambda lib, x: getattr(lib, name)(x, 1).values, TIES)
    np.testing.assert_allclose(ours, theirs)
    index = getattr(qilin, name)(qilin.tensor(TIES), 1).indices.numpy()
    expected = getattr(np, "arg" + name)(TIES, axis=1)  # NumPy also picks the first tie
    np.testing.assert_array_equal(index, expected)


@needs_torch
def test_global_max_and_norm_inf_ties_like_torch():
    for function in (
        lambda lib, x: lib.max(x),
        lambda lib, x: lib.norm(x, math.inf, 1),
        lambda lib, x: lib.norm(x, -math.inf),
    ):
        ours, theirs = _grad_pair(function, TIES)
        np.testing.assert_allclose(ours, theirs)


def test_mean_and_var_of_integers_raise_like_torch():
    values = qilin.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="floating point"):
        qilin.mean(values)
    with pytest.raises(RuntimeError, match="floating point"):
        qilin.var(values)
    with pytest.raises(RuntimeError, match="floating point"):
        qilin.nanmean(values)
    with pytest.raises(RuntimeError, match="floating point"):
        qilin.norm(values)
    assert qilin.mean(values, dtype=qilin.float32).item() == 2.0


def test_empty_reductions_without_identity_raise_like_torch():
    empty = qilin.zeros(0, 3)
    with pytest.raises(IndexError, match="dim 0 to have non-zero size"):
        qilin.amax(empty, 0)
    with pytest.raises(IndexError, match="dim 0 to have non-zero size"):
        qilin.argmin(empty, 0)
    with pytest.raises(RuntimeError, match="Specify the reduction dim"):
        qilin.max(empty)
    with pytest.raises(RuntimeError, match="Specify the reduction dim"):
        qilin.amin(empty)
    assert tuple(qilin.amax(empty, 1).shape) == (0,)


def test_bad_dims_raise():
    x = qilin.ones(2, 3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        qilin.sum(x, 2)
    with pytest.raises(RuntimeError, match="multiple times"):
        qilin.sum(x, (1, -1))
    with pytest.raises(TypeError, match="dim must be an int"):
        qilin.max(x, (0, 1))
    with pytest.raises(RuntimeError, match="bool"):
        qilin.argmax(qilin.tensor([True, False]))


def test_logsumexp_of_infinite_slices():
    x = qilin.tensor([[-math.inf, -math.inf], [math.inf, 0.0], [0.0, math.log(3.0)]])
    np.testing.assert_allclose(
        qilin.logsumexp(x, 1).numpy(), [-math.inf, math.inf, math.log(4.0)], rtol=1e-6
    )


@needs_torch
def test_nanmean_of_an_all_nan_slice_like_torch():
    array = np.array([[np.nan, np.nan], [1.0, np.nan], [2.0, 3.0]])
    ours, theirs = _grad_pair(lambda lib, x: lib.nanmean(x, 1), array)
    # NaN entries take no part: torch's gradient is inf * 0 = NaN on an all-NaN slice, qilin's
    # is 0 there (its masking is a `where`, whose blocked branch gets exact zeros in both)
    np.testing.assert_array_equal(ours[1:], theirs[1:])
    assert np.isnan(theirs[0]).all() and (ours[0] == 0).all()
    values = qilin.nanmean(qilin.tensor(array), 1).numpy()
    np.testing.assert_array_equal(values, [np.nan, 1.0, 2.5])


def test_methods_are_the_functions():
    x = qilin.tensor(np.arange(12.0).reshape(3, 4))
    assert x.sum(1).tolist() == qilin.sum(x, 1).tolist()
    values, indices = x.max(dim=0)
    assert values.tolist() == [8.0, 9.0, 10.0, 11.0] and indices.tolist() == [2, 2, 2, 2]
    assert x.std(unbiased=False).item() == pytest.approx(np.std(np.arange(12.0)), rel=1e-6)
    assert x.norm(1).item() == 66.0
    assert x.cumsum(-1)[:, -1].tolist() == [6.0, 22.0, 38.0]
