"""Specs for qilin/ops/statistics.py: cummax/cummin (values, indices and the gather backward)
and quantile/nanquantile over every interpolation mode, dims, keepdim and tensor q."""

import numpy as np

import qilin

from .harness import Arg, OpSpec, make_tests, torch

A = (3, 5)


def q_tensor(lib, x, values):
    return lib.tensor(values, dtype=x.dtype)


SPECS = [
    *[
        OpSpec(
            ("running_extreme_index", "gather"),
            lambda lib, x, d, f=f: getattr(lib, f)(x, d),
            [(Arg(A), 0), (Arg(A), 1), (Arg((4,)), -1), (Arg(()), 0)],
            # the values only: the indices are checked against torch
            ref=lambda x, d, u=u: (u.accumulate(x, axis=d) if x.ndim else x,),
            name=f,
        )
        for f, u in (("cummax", np.maximum), ("cummin", np.minimum))
    ],
    OpSpec(
        "running_extreme_index",
        lambda lib, x: lib.cummax(x, 1),
        [(Arg(A, "index:3"),)],  # ties: torch takes the last equal position
        name="cummax-ties",
        grad=False,
        dtypes=("float32",),
    ),
    *[
        OpSpec(
            "gather",
            lambda lib, x, q, d, k, mode=mode: lib.quantile(
                x, q_tensor(lib, x, q) if isinstance(q, list) else q, d, k, interpolation=mode
            ),
            [
                (Arg((4, 5)), 0.3, None, False),
                (Arg((4, 5)), [0.0, 0.4, 1.0], 1, True),
                (Arg((2, 3, 4)), 0.75, 0, False),
            ],
            ref=lambda x, q, d, k, mode=mode: np.quantile(x, q, axis=d, keepdims=k, method=mode),
            name=f"quantile-{mode}",
            double=mode == "linear",
        )
        for mode in ("linear", "lower", "higher", "midpoint", "nearest")
    ],
]


make_tests(SPECS, globals())


def test_nan_handling_matches_torch():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((4, 5))
    y[1, 1], y[3, :] = np.nan, np.nan
    for name in ("quantile", "nanquantile"):
        for mode in ("linear", "lower", "higher", "midpoint", "nearest"):
            for dim, keepdim in ((None, False), (None, True), (0, False), (1, True), (-1, False)):
                q = [0.0, 0.25, 0.5, 1.0]
                a = getattr(qilin, name)(
                    qilin.tensor(y),
                    qilin.tensor(q, dtype=qilin.float64),
                    dim,
                    keepdim,
                    interpolation=mode,
                )
                b = getattr(torch, name)(
                    torch.tensor(y),
                    torch.tensor(q, dtype=torch.float64),
                    dim,
                    keepdim,
                    interpolation=mode,
                )
                assert a.shape == tuple(b.shape)
                np.testing.assert_allclose(a.numpy(), b.numpy(), equal_nan=True)
    x = rng.integers(0, 4, (3, 6)).astype(float)
    x[1, 2], x[2, 5] = np.nan, np.nan
    for name in ("cummax", "cummin"):
        for dim in (0, 1):
            a, b = (
                getattr(qilin, name)(qilin.tensor(x), dim),
                getattr(torch, name)(torch.tensor(x), dim),
            )
            np.testing.assert_array_equal(a.indices.numpy(), b.indices.numpy())
            np.testing.assert_array_equal(a.values.numpy(), b.values.numpy())


def test_quantile_errors():
    import pytest

    with pytest.raises(RuntimeError, match=r"q values must be in the range \[0, 1\]"):
        qilin.quantile(qilin.tensor([1.0, 2.0]), 1.5)
    with pytest.raises(RuntimeError, match="must be either float or double"):
        qilin.quantile(qilin.tensor([1, 2]), 0.5)
