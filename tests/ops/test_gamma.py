"""Specs for the gamma family (qilin/ops/gamma.py): lgamma, digamma, polygamma against mpmath
(an independent arbitrary-precision reference), torch, finite differences and double backward
(whose chain runs lgamma -> digamma -> polygamma(1) -> polygamma(2)). Special values (poles,
signed zeros, infinities, NaN) are compared with torch; accuracy over many points with mpmath."""

import math

import mpmath
import numpy as np
import pytest

import qilin
from qilin.ops import gamma

from .harness import Arg, OpSpec, make_tests, torch

A = (3, 4)
INTS = ("float32",)


def mp_map(function, pole=math.inf):
    """An elementwise float64 reference computed by mpmath at 30 digits (`pole` where mpmath
    raises at a pole: torch's value at +0)."""

    def value(v):
        try:
            return float(function(mpmath.mpf(float(v))))
        except (ValueError, ZeroDivisionError):
            return pole

    def reference(x):
        with mpmath.workdps(30):
            flat = [value(v) for v in np.ravel(x)]
        return np.array(flat, dtype=np.float64).reshape(np.shape(x))

    return reference


def mp_lgamma(v):
    return mpmath.log(abs(mpmath.gamma(v)))


def mp_polygamma(n):
    return mp_map(lambda v: mpmath.polygamma(n, v))


POSITIVE = Arg(A, low=0.2, high=6.0)
BETWEEN_POLES = Arg((5,), low=-2.9, high=-2.1)  # negative, between the poles at -3 and -2
WIDE = Arg((6,), low=8.0, high=40.0)  # the asymptotic series


def unary_specs(name, reference):
    def call(lib, x):
        return getattr(lib, name)(x)

    return [
        OpSpec(name, call, [(POSITIVE,), (BETWEEN_POLES,), (WIDE,), (Arg(()),)], ref=reference),
        OpSpec(
            name,
            lambda lib, x: getattr(x, name)(),
            [(Arg((2, 3), low=0.5, high=3.0),)],
            ref=reference,
            name=f"{name}-method",
        ),
        OpSpec(
            name,
            call,
            [(Arg(A, "index:6"),)],  # 0 (a pole) to 5
            ref=lambda x: reference(x.astype(np.float64)),
            name=f"{name}-integer",
            grad=False,
            dtypes=INTS,
        ),
    ]


SPECS = [
    *unary_specs("lgamma", mp_map(mp_lgamma)),
    *unary_specs("digamma", mp_map(mpmath.digamma, pole=-math.inf)),
    *[
        OpSpec(
            "polygamma",
            lambda lib, x, n=n: lib.polygamma(n, x),
            [(POSITIVE,), (BETWEEN_POLES,), (WIDE,)],
            ref=mp_polygamma(n),
            name=f"polygamma-{n}",
            fd_atol=1e-4 if n == 3 else 1e-5,
        )
        for n in (0, 1, 2, 3)
    ],
    OpSpec(
        "polygamma",
        lambda lib, x: x.polygamma(2),
        [(Arg((4,), low=0.5, high=3.0),)],
        ref=mp_polygamma(2),
        name="polygamma-method",
    ),
    OpSpec(
        "polygamma",
        lambda lib, x: lib.polygamma(1, x),
        [(Arg(A, "index:6"),)],
        ref=lambda x: mp_polygamma(1)(x.astype(np.float64)),
        name="polygamma-integer",
        grad=False,
        dtypes=INTS,
    ),
    OpSpec(
        "lgamma",
        lambda lib, x, p: lib.mvlgamma(x, p),
        [(Arg(A, low=2.0, high=5.0), 1), (Arg(A, low=2.0, high=5.0), 3)],
        ref=lambda x, p: (
            sum(mp_map(mp_lgamma)(x - i / 2) for i in range(p))
            + p * (p - 1) / 4 * math.log(math.pi)
        ),
        name="mvlgamma",
    ),
]

make_tests(SPECS, globals())


# ----- special values and accuracy ------------------------------------------------------------
SPECIAL = [0.0, -0.0, -1.0, -2.0, -7.0, math.inf, -math.inf, math.nan, 1e-300, 1e-8, 1e308, -2.5]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "name,call",
    [
        ("lgamma", lambda lib, x: lib.lgamma(x)),
        ("digamma", lambda lib, x: lib.digamma(x)),
        ("polygamma1", lambda lib, x: lib.polygamma(1, x)),
        ("polygamma2", lambda lib, x: lib.polygamma(2, x)),
        ("polygamma3", lambda lib, x: lib.polygamma(3, x)),
    ],
)
def test_special_values_match_torch(name, call, dtype):
    with np.errstate(over="ignore"):  # 1e308 is inf in float32
        values = np.array(SPECIAL, dtype=dtype)
    if name == "polygamma1":
        # torch's trigamma gives huge finite values at negative integers (sin(pi x) is not 0
        # in floating point); qilin returns the pole's inf.
        values = values[~np.isin(values, [-1.0, -2.0, -7.0])]
    expected = call(torch, torch.tensor(values)).numpy()
    actual = call(qilin, qilin.tensor(values)).numpy()
    assert actual.dtype == expected.dtype
    np.testing.assert_allclose(
        actual, expected, rtol=1e-5 if dtype == "float32" else 1e-10
    )  # torch: ~1e-11
    np.testing.assert_array_equal(
        np.signbit(actual[np.isinf(actual)]), np.signbit(expected[np.isinf(expected)])
    )


def _relative_error(actual, expected):
    return np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-300)


ACCURACY_POINTS = np.concatenate(
    [
        np.random.default_rng(0).uniform(0, 3, 1500),
        np.random.default_rng(1).uniform(3, 30, 500),
        np.exp(np.random.default_rng(2).uniform(-30, 30, 500)),
        [1.0, 2.0, 1.0 + 1e-10, 2.0 - 1e-12, 0.5, 1.5, 2.5, 10.0, 1.4616321449683622],
    ]
)


@pytest.mark.parametrize(
    "name,function,reference",
    [
        ("lgamma", gamma._lgamma64, mp_lgamma),
        ("digamma", gamma._digamma64, mpmath.digamma),
        ("trigamma", lambda x: gamma._polygamma64(x, 1), lambda v: mpmath.polygamma(1, v)),
        ("polygamma4", lambda x: gamma._polygamma64(x, 4), lambda v: mpmath.polygamma(4, v)),
    ],
)
def test_float64_accuracy_against_mpmath(name, function, reference):
    """Positive arguments, including the zeros of lgamma (1, 2) and of digamma (1.4616...):
    relative error within a few float64 ulps."""
    expected = mp_map(reference)(ACCURACY_POINTS)
    actual = function(ACCURACY_POINTS.copy())
    assert _relative_error(actual, expected).max() < 5e-15


def test_negative_arguments_against_mpmath():
    points = np.random.default_rng(3).uniform(-30, 0, 400)
    for function, reference, tolerance in [
        (gamma._lgamma64, mp_lgamma, 1e-13),
        (gamma._digamma64, mpmath.digamma, 1e-12),
        (lambda x: gamma._polygamma64(x, 1), lambda v: mpmath.polygamma(1, v), 1e-14),
    ]:
        expected = mp_map(reference)(points)
        # Absolute error relative to the largest nearby magnitude: the reflection formulas
        # cannot keep relative accuracy next to the zeros on the negative axis.
        error = np.abs(function(points.copy()) - expected) / np.maximum(np.abs(expected), 1.0)
        assert error.max() < tolerance


def test_large_input_takes_the_chunked_path():
    values = np.random.default_rng(4).uniform(0.1, 50, 20000)
    actual = qilin.lgamma(qilin.tensor(values)).numpy()
    np.testing.assert_allclose(actual, [math.lgamma(v) for v in values], rtol=1e-12)


def test_inplace_variants_match_torch():
    values = np.array([0.3, 1.7, 4.2, -1.5])
    for name, args in [("lgamma_", ()), ("digamma_", ()), ("polygamma_", (2,))]:
        q, t = qilin.tensor(values), torch.tensor(values)
        getattr(q, name)(*args)
        getattr(t, name)(*args)
        np.testing.assert_allclose(q.numpy(), t.numpy(), rtol=1e-12)
    q, t = qilin.tensor([2.0, 3.5]), torch.tensor([2.0, 3.5])
    q.mvlgamma_(2)
    t.mvlgamma_(2)
    np.testing.assert_allclose(q.numpy(), t.numpy(), rtol=1e-6)


def test_polygamma_refuses_negative_order():
    with pytest.raises(RuntimeError, match="does not support negative n"):
        qilin.polygamma(-1, qilin.tensor([1.0]))


def test_mvlgamma_refuses_small_inputs():
    with pytest.raises(RuntimeError, match=r"greater than \(p-1\)/2"):
        qilin.mvlgamma(qilin.tensor([0.4]), 2)
