"""`qilin.special`, torch.special's namespace: aliases of qilin functions and composites written
from primitives (their gradients come from the primitives' vjps).

Functions whose direct formula overflows or cancels switch formulas with `where` over clamped
arguments, so the branch not taken stays finite and its gradient is an exact zero. The Bessel
functions and erfcx run in float64 and round back, as their series need the range.
"""

from __future__ import annotations

import math

from . import dtypes
from .ops.composite import logit, sinc
from .ops.elementwise import (
    erf,
    erfc,
    erfinv,
    exp,
    exp2,
    expm1,
    log,
    log1p,
    round,
    sigmoid,
    sqrt,
    where,
    xlogy,
)
from .ops.gamma import digamma, polygamma
from .ops.gamma import lgamma as gammaln
from .ops.gamma import mvlgamma as multigammaln
from .ops.reduction import logsumexp
from .ops.softmax import log_softmax as _log_softmax
from .ops.softmax import softmax as _softmax

__all__ = [
    "digamma",
    "entr",
    "erf",
    "erfc",
    "erfcx",
    "erfinv",
    "exp2",
    "expit",
    "expm1",
    "gammaln",
    "i0",
    "i0e",
    "i1",
    "i1e",
    "log1p",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "multigammaln",
    "ndtr",
    "ndtri",
    "polygamma",
    "psi",
    "round",
    "sinc",
    "softmax",
    "xlog1py",
    "xlogy",
]

expit = sigmoid
psi = digamma
_SQRT_HALF = math.sqrt(0.5)
_SQRT_PI = math.sqrt(math.pi)


def softmax(input, dim, *, dtype=None):
    return _softmax(input, dim, dtype)


def log_softmax(input, dim, *, dtype=None):
    return _log_softmax(input, dim, dtype)


def xlog1py(input, other):
    """input * log1p(other), 0 where input is 0 (unless other is NaN)."""
    from .ops.creation import tensor

    if not hasattr(input, "dtype"):
        input = tensor(input, dtype=dtypes.result_type(input, other))
    product = input * log1p(other)
    result = where(input == 0, 0.0, product)  # 0 * log1p(-1) would be NaN
    return where(other != other, product, result)  # NaN in other stays NaN


def entr(input):
    """-x log(x) for x > 0, 0 at 0, -inf for x < 0 (NaN stays NaN)."""
    positive = input > 0
    safe = where(positive, input, 1)
    value = -safe * log(safe)
    zero_or_negative = where(input == 0, value * 0, value * 0 - math.inf)
    return where(positive | (input != input), where(positive, value, input), zero_or_negative)


def ndtr(input):
    """The standard normal CDF, as erfc(-x / sqrt 2) / 2 (exact in the lower tail)."""
    return erfc(input * -_SQRT_HALF) * 0.5


def ndtri(input):
    """The inverse of ndtr: sqrt(2) erfinv(2p - 1), in float64 (2p - 1 must keep small p)."""
    return _in_float64(lambda p: erfinv(p * 2 - 1) * math.sqrt(2), input)


def _in_float64(function, input):
    """Run `function` on float64 and round back: integer inputs become the default float."""
    dtype = input.dtype if input.is_floating_point() else dtypes.get_default_dtype()
    return function(input.to(dtypes.float64)).to(dtype)


_ERFCX_SWITCH = 10.0  # beyond, exp(x^2) erfc(x) would lose exp's digits: asymptotic series


def _erfcx64(x):
    near = where(x < _ERFCX_SWITCH, x, _ERFCX_SWITCH)
    direct = exp(near * near) * erfc(near)
    far = where(x < _ERFCX_SWITCH, _ERFCX_SWITCH, x)
    # erfcx(x) ~ 1 / (x sqrt(pi)) sum_k (-1)^k (2k - 1)!! / (2x^2)^k: 12 terms at x >= 10.
    inverse = 1 / (2 * far * far)
    total, term = 1.0, 1.0
    for k in range(1, 13):
        term = term * inverse * -(2 * k - 1)
        total = total + term
    return where(x < _ERFCX_SWITCH, direct, total / (far * _SQRT_PI))


def erfcx(input):
    """The scaled complementary error function exp(x^2) erfc(x)."""
    return _in_float64(_erfcx64, input)


def _log_ndtr64(x):
    lower = where(x < -1, x, -1.0)  # log(erfcx(-x / sqrt 2) / 2) - x^2 / 2 keeps the tail
    tail = log(_erfcx64(lower * -_SQRT_HALF) / 2) - lower * lower / 2
    upper = where(x < -1, -1.0, x)
    body = log1p(erfc(upper * _SQRT_HALF) * -0.5)
    return where(x < -1, tail, body)


def log_ndtr(input):
    """log(ndtr(x)), accurate far into both tails."""
    return _in_float64(_log_ndtr64, input)


# ----- modified Bessel functions of the first kind, orders 0 and 1 ---------------------------
_BESSEL_SWITCH = 30.0  # power series below (no cancellation), asymptotic series above
_SERIES_TERMS = 60
_ASYMPTOTIC_TERMS = 25


def _bessel_scaled64(x, order: int):
    """exp(-|x|) I_order(x) in float64 for order 0 or 1."""
    magnitude = abs(x)
    small = where(magnitude < _BESSEL_SWITCH, magnitude, _BESSEL_SWITCH)
    # I_v(x) = (x/2)^v sum_k (x^2/4)^k / (k! (k + v)!), by Horner from the highest term.
    quarter_square = small * small / 4
    total = quarter_square * 0 + 1 / (
        math.factorial(_SERIES_TERMS) * math.factorial(_SERIES_TERMS + order)
    )
    for k in range(_SERIES_TERMS - 1, -1, -1):
        total = total * quarter_square + 1 / (math.factorial(k) * math.factorial(k + order))
    series = total * exp(-small) * (small / 2 if order else 1)
    large = where(magnitude < _BESSEL_SWITCH, _BESSEL_SWITCH, magnitude)
    # e^-x I_v(x) ~ 1 / sqrt(2 pi x) sum_k a_k, a_k = -a_(k-1) (4v^2 - (2k - 1)^2) / (8 k x).
    mu = 4 * order * order
    term, asymptotic = 1 / sqrt(2 * math.pi * large), 0
    asymptotic = term
    for k in range(1, _ASYMPTOTIC_TERMS + 1):
        term = term * (-(mu - (2 * k - 1) ** 2) / (8 * k)) / large
        asymptotic = asymptotic + term
    value = where(magnitude < _BESSEL_SWITCH, series, asymptotic)
    return where(x < 0, -value, value) if order else value


def i0e(input):
    """exp(-|x|) I0(x), the exponentially scaled modified Bessel function of order 0."""
    return _in_float64(lambda x: _bessel_scaled64(x, 0), input)


def i1e(input):
    """exp(-|x|) I1(x)."""
    return _in_float64(lambda x: _bessel_scaled64(x, 1), input)


def i0(input):
    """The modified Bessel function of the first kind of order 0."""
    return _in_float64(lambda x: _bessel_scaled64(x, 0) * exp(abs(x)), input)


def i1(input):
    """The modified Bessel function of the first kind of order 1."""
    return _in_float64(lambda x: _bessel_scaled64(x, 1) * exp(abs(x)), input)
