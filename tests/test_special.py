"""qilin.special against torch.special (forward over both tails and special values), mpmath where
torch itself loses digits, and gradients through the composites (tests/ops/harness.py)."""

import math

import mpmath
import numpy as np
import pytest

import qilin
import qilin.special
from tests.ops.harness import (
    Arg,
    OpSpec,
    check_double_backward,
    check_finite_differences,
    check_torch,
)

torch = pytest.importorskip("torch")

WIDE = np.array([-40, -12, -5, -1.5, -0.3, 0, 0.2, 1, 3, 9.9, 10.1, 25, 29.9, 30.1, 60, 700.0])
EDGES = np.array([math.inf, -math.inf, math.nan, -0.0])
PROBABILITIES = np.array([1e-10, 0.01, 0.3, 0.5, 0.9, 1 - 1e-9, 0.0, 1.0, -0.5, 1.5, math.nan])

# (name, points, float64 rtol): every function torch.special has that qilin.special provides.
FORWARD = [
    ("expit", WIDE, 1e-12),
    ("logit", np.array([0.01, 0.3, 0.5, 0.99, 0.0, 1.0, 2.0]), 1e-12),
    ("erf", WIDE, 1e-12),
    ("erfc", WIDE[WIDE < 25], 1e-12),
    ("erfinv", np.array([-0.999, -0.5, 0, 0.3, 0.9999, 1, -1, 2]), 1e-12),
    ("erfcx", WIDE, 1e-13),
    ("exp2", WIDE[np.abs(WIDE) < 100], 1e-12),
    ("expm1", WIDE[np.abs(WIDE) < 100], 1e-12),
    ("log1p", np.array([-0.9, -1e-10, 0, 1e-8, 3, 1e10, -1, -2]), 1e-12),
    ("sinc", WIDE, 1e-12),
    ("entr", np.array([0, 0.1, 1, 5, -1, 1e-300]), 1e-12),
    ("ndtr", WIDE[WIDE > -3], 1e-9),  # torch's lower tail cancels (see the mpmath test)
    ("ndtri", PROBABILITIES, 1e-8),
    ("log_ndtr", WIDE, 1e-12),
    ("gammaln", WIDE, 1e-10),
    ("digamma", WIDE[WIDE > 0], 1e-10),
    ("psi", np.array([0.5, 2.0, 7.5, -1.5]), 1e-10),
    ("i0", WIDE, 1e-13),
    ("i0e", WIDE, 1e-13),
    ("i1", WIDE, 1e-13),
    ("i1e", WIDE, 1e-13),
    ("round", np.array([0.5, 1.5, 2.5, -0.5, -1.7, 3.2]), 0),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,points,rtol", FORWARD, ids=[f[0] for f in FORWARD])
def test_forward_matches_torch(name, points, rtol, dtype):
    values = np.concatenate([points, EDGES]).astype(dtype)
    expected = getattr(torch.special, name)(torch.tensor(values)).numpy()
    actual = getattr(qilin.special, name)(qilin.tensor(values)).numpy()
    assert actual.dtype == expected.dtype
    if dtype == "float32":  # torch computes in float32; qilin's composites often in float64
        rtol = max(rtol, 1e-5)
    np.testing.assert_allclose(
        actual, expected, rtol=rtol, atol=1e-300 if dtype == "float64" else 0
    )


def test_integer_inputs_become_the_default_float():
    for name in ("expit", "erfcx", "ndtr", "log_ndtr", "i0", "i1e", "gammaln", "entr"):
        x = [0, 1, 3]
        actual = getattr(qilin.special, name)(qilin.tensor(x))
        expected = getattr(torch.special, name)(torch.tensor(x))
        assert str(actual.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1], name
        np.testing.assert_allclose(actual.numpy(), expected.numpy(), rtol=1e-6)


def test_ndtr_lower_tail_against_mpmath():
    points = np.array([-38.0, -30.0, -12.0, -5.0, -1.0])
    expected = [float(mpmath.ncdf(v)) for v in points]
    np.testing.assert_allclose(
        qilin.special.ndtr(qilin.tensor(points)).numpy(), expected, rtol=1e-13
    )


def test_binary_and_reductions_match_torch():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-2, 2, (3, 4)), rng.uniform(-0.9, 3, (3, 4))
    x[0, 0], y[1, 1], x[2, 2], y[2, 2] = 0.0, math.nan, 0.0, -1.0
    for name in ("xlogy", "xlog1py"):
        actual = getattr(qilin.special, name)(qilin.tensor(x), qilin.tensor(y)).numpy()
        expected = getattr(torch.special, name)(torch.tensor(x), torch.tensor(y)).numpy()
        np.testing.assert_allclose(actual, expected, rtol=1e-12)
    np.testing.assert_allclose(
        qilin.special.xlog1py(2.0, qilin.tensor(y)).numpy(),
        torch.special.xlog1py(2.0, torch.tensor(y)).numpy(),
        rtol=1e-12,
    )
    for name, args in [("logsumexp", (1,)), ("softmax", (0,)), ("log_softmax", (1,))]:
        actual = getattr(qilin.special, name)(qilin.tensor(x), *args).numpy()
        expected = getattr(torch.special, name)(torch.tensor(x), *args).numpy()
        np.testing.assert_allclose(actual, expected, rtol=1e-12)
    p = qilin.special.multigammaln(qilin.tensor([2.5, 4.0]), 3).numpy()
    np.testing.assert_allclose(
        p, torch.special.multigammaln(torch.tensor([2.5, 4.0]), 3), rtol=1e-12
    )
    q = qilin.special.polygamma(2, qilin.tensor([0.7])).numpy()
    np.testing.assert_allclose(q, torch.special.polygamma(2, torch.tensor([0.7])), rtol=1e-12)


def test_i0_is_top_level_and_a_method():
    x = np.array([0.5, -2.0, 40.0])
    np.testing.assert_allclose(
        qilin.i0(qilin.tensor(x)).numpy(), torch.i0(torch.tensor(x)), rtol=1e-13
    )
    t = qilin.tensor(x)
    t.i0_()
    np.testing.assert_allclose(t.numpy(), torch.tensor(x).i0().numpy(), rtol=1e-13)


# Gradients: the harness checks torch's backward, finite differences and double backward.
A = (2, 5)
GRAD_SPECS = [
    OpSpec("erfc", lambda lib, x: lib.special.erfcx(x), [(Arg(A, low=-2, high=14),)], name="erfcx"),
    OpSpec("erfc", lambda lib, x: lib.special.ndtr(x), [(Arg(A, low=-4, high=4),)], name="ndtr"),
    OpSpec(
        "erfc", lambda lib, x: lib.special.log_ndtr(x), [(Arg(A, low=-9, high=4),)], name="log_ndtr"
    ),
    OpSpec(
        "erfinv",
        lambda lib, x: lib.special.ndtri(x),
        [(Arg(A, low=0.05, high=0.95),)],
        name="ndtri",
    ),
    OpSpec("log", lambda lib, x: lib.special.entr(x), [(Arg(A, low=0.1, high=3),)], name="entr"),
    OpSpec(
        "log1p",
        lambda lib, x, y: lib.special.xlog1py(x, y),
        [(Arg(A), Arg(A, low=-0.5, high=2))],
        name="xlog1py",
    ),
    *[
        OpSpec(
            "exp",
            lambda lib, x, n=n: getattr(lib.special, n)(x),
            [(Arg(A, low=low, high=high),)],
            name=f"{n}-{high}",
        )
        for n in ("i0", "i0e", "i1", "i1e")
        for low, high in ((-8, 8), (-35, 35))
    ],
]


@pytest.mark.parametrize("spec", GRAD_SPECS, ids=[s.id for s in GRAD_SPECS])
def test_gradients(spec):
    check_torch(spec, 0, "float64")
    if not spec.id.endswith("-35"):  # values near 1e14: central differences are only noise
        check_finite_differences(spec, 0)
    check_double_backward(spec, 0)
