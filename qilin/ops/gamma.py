"""The gamma family NumPy lacks: lgamma, digamma and polygamma(n, x), with torch's values at
poles, negatives, infinities and NaN.

Everything is evaluated in float64 (relative error around 1e-15) and rounded to the input's
dtype. With z = x - 2 in [-0.5, 0.5], Abramowitz & Stegun 6.1.41 gives

    lgamma(2 + z)  = (1 - gamma) z + sum_k (-1)^k (zeta(k) - 1) / k z^k
    digamma(2 + z) = (1 - gamma)   + sum_k (-1)^k (zeta(k) - 1) z^(k-1)

(terms shrink like (z/2)^k); lgamma(1 + z) and digamma(1 + z) follow by one recurrence step, so
both stay exact near their zeros at 1 and 2. Farther out, the recurrence walks up to 10, where
Stirling's series takes over; negative x uses the reflection formulas with sin(pi r), tan(pi r)
on the exact fractional part r. digamma's positive zero gets its own Taylor series.
polygamma(n >= 1) is (-1)^(n+1) n! zeta(n + 1, x), the Hurwitz zeta summed directly until
x + k is large and finished with Euler-Maclaurin.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .. import dtypes
from ..errors import located
from .families import define, unary
from .registry import Spec
from .special import _float64_map

__all__ = ["lgamma", "digamma", "polygamma", "mvlgamma"]

_EULER = 0.5772156649015329
_LOG_SQRT_TWO_PI = 0.5 * math.log(2 * math.pi)
_ASYMPTOTIC = 10.0  # Stirling / asymptotic series from here on: terms to x^-13 reach 1e-17

# zeta(k) - 1 for k = 2, 3, ..., 32 (computed with mpmath at 40 digits).
_ZETA_MINUS_ONE = (
    0.6449340668482264,
    0.2020569031595943,
    0.08232323371113819,
    0.03692775514336993,
    0.01734306198444914,
    0.008349277381922827,
    0.00407735619794434,
    0.0020083928260822143,
    0.0009945751278180853,
    0.0004941886041194645,
    0.0002460865533080483,
    0.00012271334757848915,
    6.124813505870483e-05,
    3.058823630702049e-05,
    1.528225940865187e-05,
    7.637197637899763e-06,
    3.81729326499984e-06,
    1.908212716553939e-06,
    9.539620338727962e-07,
    4.769329867878064e-07,
    2.38450502727733e-07,
    1.1921992596531106e-07,
    5.960818905125948e-08,
    2.980350351465228e-08,
    1.4901554828365043e-08,
    7.45071178983543e-09,
    3.725334024788457e-09,
    1.862659723513049e-09,
    9.313274324196682e-10,
    4.656629065033784e-10,
    2.3283118336765053e-10,
)

# digamma's positive zero (as a float64 pair) and psi^(k)(root) / k! for k = 1..12: near the
# root the recurrence cancels to nothing, the Taylor series does not.
_ROOT_HIGH, _ROOT_LOW = 1.4616321449683622, 9.549995429965697e-17
_ROOT_RADIUS = 0.05
_ROOT_TAYLOR = (
    0.9676722454476212,
    -0.4427631689835921,
    0.258499760955651,
    -0.16394270544240652,
    0.10782405069126237,
    -0.07219956125645471,
    0.04880428816414311,
    -0.03316112647484736,
    0.022597648232218104,
    -0.01542476590494896,
    0.010538791616612175,
    -0.007204534386356869,
)

# Bernoulli numbers B_2, B_4, ..., B_24: Stirling's series and Euler-Maclaurin.
_BERNOULLI = tuple(
    Fraction(*pair)
    for pair in (
        (1, 6),
        (-1, 30),
        (1, 42),
        (-1, 30),
        (5, 66),
        (-691, 2730),
        (7, 6),
        (-3617, 510),
        (43867, 798),
        (-174611, 330),
        (854513, 138),
        (-236364091, 2730),
    )
)
# lgamma(x) ~ Stirling + sum_j B_2j / (2j (2j - 1) x^(2j - 1)); digamma: -sum B_2j / (2j x^2j).
_STIRLING = tuple(float(b / ((2 * j) * (2 * j - 1))) for j, b in enumerate(_BERNOULLI[:7], 1))
_DIGAMMA_TAIL = tuple(float(b / (2 * j)) for j, b in enumerate(_BERNOULLI[:7], 1))
# Euler-Maclaurin weights B_2j / (2j)!.
_MACLAURIN = tuple(float(b / math.factorial(2 * j)) for j, b in enumerate(_BERNOULLI, 1))


def _series(z, coefficients, powers_from: int):
    """sum_i coefficients[i] * z^(i + powers_from) (powers_from is 0 or 1), by Horner."""
    total = np.full_like(z, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        total *= z
        total += c
    return total * z if powers_from == 1 else total


def _alternating(scale):
    """(-1)^k (zeta(k) - 1) * scale(k) for k = 2..32."""
    return tuple((-1) ** k * v * scale(k) for k, v in enumerate(_ZETA_MINUS_ONE, 2))


_LGAMMA_SERIES = (1 - _EULER,) + _alternating(lambda k: 1 / k)  # powers 1, 2, ...
_DIGAMMA_SERIES = (1 - _EULER,) + _alternating(lambda k: 1.0)  # powers 0, 1, ...


def _fraction_of(x):
    """x minus its nearest integer: exact, so sin(pi r) and tan(pi r) keep their digits."""
    return x - np.round(x)


# ----- lgamma ------------------------------------------------------------------------------------
def _lgamma_positive(x):
    """lgamma for finite x > 0."""
    if x.size == 0:  # the recurrence below recurses once on its base values
        return x
    out = np.empty_like(x)
    near = x < 2.5  # (0, 2.5): the series at 2 plus at most two recurrence steps
    small = x[near]
    # z in [-0.5, 0.5], exactly (x - 1 and x - 2 lose no bits here)
    z = small - np.where(small < 0.5, 0.0, np.where(small < 1.5, 1.0, 2.0))
    value = _series(z, _LGAMMA_SERIES, 1)
    one_step = (small >= 0.5) & (small < 1.5)
    value[one_step] -= np.log1p(z[one_step])  # lgamma(1 + z) = lgamma(2 + z) - log(1 + z)
    tiny = small < 0.5  # lgamma(x) = lgamma(x + 2) - log(x) - log(1 + x)
    value[tiny] -= np.log(small[tiny]) + np.log1p(small[tiny])
    out[near] = value
    far = x[~near]
    middle = far < _ASYMPTOTIC
    # Up from [2.5, 10): lgamma(x) = lgamma(x - m) + log((x - 1) ... (x - m)), x - m in [1.5, 2.5).
    steps = np.floor(far[middle] - 1.5)
    base = far[middle] - steps
    product = np.ones_like(base)
    for k in range(1, int(steps.max(initial=0)) + 1):
        product *= np.where(steps >= k, far[middle] - k, 1.0)
    result = np.empty_like(far)
    result[middle] = _lgamma_positive(base) + np.log(product)
    large = far[~middle]
    result[~middle] = _stirling(large)
    out[~near] = result
    return out


def _stirling(x):
    inverse = 1.0 / x
    correction = _series(inverse * inverse, _STIRLING, 1) / inverse  # sum c_j x^(1 - 2j)
    with np.errstate(over="ignore", invalid="ignore"):
        value = (x - 0.5) * np.log(x) - x + _LOG_SQRT_TWO_PI
    return value + correction


def _lgamma64(x):
    out = np.full_like(x, np.inf)  # poles, +-inf
    finite = np.isfinite(x)
    out[np.isnan(x)] = np.nan
    positive = finite & (x > 0)
    out[positive] = _lgamma_positive(x[positive])
    negative = finite & (x < 0) & (x != np.floor(x))
    values = x[negative]
    # Reflection: lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x).
    sine = np.abs(np.sin(np.pi * _fraction_of(values)))
    out[negative] = math.log(math.pi) - np.log(sine) - _lgamma_positive(1 - values)
    return out


# ----- digamma -----------------------------------------------------------------------------------
def _digamma_positive(x):
    """digamma for x > 0 (and +inf)."""
    if x.size == 0:
        return x
    out = np.empty_like(x)
    near = x < 2.5
    small = x[near]
    z = small - np.where(small < 0.5, 0.0, np.where(small < 1.5, 1.0, 2.0))
    value = _series(z, _DIGAMMA_SERIES, 0)
    one_step = (small >= 0.5) & (small < 1.5)
    value[one_step] -= 1 / (1 + z[one_step])  # digamma(1 + z) = digamma(2 + z) - 1 / (1 + z)
    tiny = small < 0.5  # digamma(x) = digamma(x + 2) - 1 / x - 1 / (1 + x)
    value[tiny] -= 1 / small[tiny] + 1 / (1 + small[tiny])
    root = np.abs(small - _ROOT_HIGH) < _ROOT_RADIUS
    distance = (small[root] - _ROOT_HIGH) - _ROOT_LOW
    value[root] = _series(distance, _ROOT_TAYLOR, 1)
    out[near] = value
    far = x[~near]
    middle = far < _ASYMPTOTIC
    # Up from [2.5, 10): digamma(x) = digamma(x - m) + sum_k 1 / (x - k), all terms positive.
    steps = np.floor(far[middle] - 1.5)
    base = far[middle] - steps
    total = np.zeros_like(base)
    for k in range(1, int(steps.max(initial=0)) + 1):
        total += np.where(steps >= k, 1 / (far[middle] - k), 0.0)
    result = np.empty_like(far)
    result[middle] = _digamma_positive(base) + total
    large = far[~middle]
    inverse_square = 1 / (large * large)
    with np.errstate(invalid="ignore"):
        result[~middle] = np.log(large) - 0.5 / large - _series(inverse_square, _DIGAMMA_TAIL, 1)
    out[~near] = result
    return out


def _digamma64(x):
    out = np.full_like(x, np.nan)  # negative integers, -inf, NaN
    zero = x == 0
    out[zero] = np.copysign(np.inf, -x[zero])  # -inf at +0, +inf at -0, as torch and SciPy
    positive = x > 0
    out[positive] = _digamma_positive(x[positive])
    negative = np.isfinite(x) & (x < 0) & (x != np.floor(x))
    values = x[negative]
    # Reflection: digamma(x) = digamma(1 - x) - pi / tan(pi x).
    out[negative] = _digamma_positive(1 - values) - np.pi / np.tan(np.pi * _fraction_of(values))
    return out


# ----- polygamma ---------------------------------------------------------------------------------
def _hurwitz_zeta(s: int, x):
    """zeta(s, x) = sum_k (x + k)^-s for integer s >= 2 and x not a pole: direct terms until
    x + k >= max(10, s), then Euler-Maclaurin (12 Bernoulli terms)."""
    threshold = max(_ASYMPTOTIC, float(s))
    total = np.zeros_like(x)
    shifted = x.copy()
    mask = shifted < threshold
    while mask.any():
        total[mask] += shifted[mask] ** -s
        shifted[mask] += 1
        mask &= shifted < threshold
    power = shifted**-s
    total += shifted ** (1 - s) / (s - 1) + 0.5 * power
    rising = 1.0  # s (s + 1) ... (s + 2j - 2)
    term_power = power  # shifted^(-s - 2j + 1)
    k = 0
    for weight in _MACLAURIN:
        rising *= s + k
        term_power = term_power / shifted
        total += weight * rising * term_power
        rising *= s + k + 1
        term_power = term_power / shifted
        k += 2
    return total


def _polygamma64(x, n: int):
    if n == 0:
        return _digamma64(x)
    sign = 1.0 if n % 2 else -1.0
    out = np.full_like(x, sign * np.inf)  # poles (and -inf for n >= 2), as torch
    out[np.isnan(x)] = np.nan
    if n == 1:
        out[x == -np.inf] = np.nan
        out[x == np.inf] = 0.0
    else:
        out[x == np.inf] = np.nan  # torch's zeta(n + 1, inf) is NaN
    regular = np.isfinite(x) & ((x > 0) | (x != np.floor(x)))
    with np.errstate(over="ignore", invalid="ignore"):
        scale = sign * float(math.factorial(n)) if n < 171 else sign * np.inf
        out[regular] = scale * _hurwitz_zeta(n + 1, x[regular])
    return out


# ----- records -----------------------------------------------------------------------------------
def _on_device(xp, name, x, *args):
    import cupyx.scipy.special

    return getattr(cupyx.scipy.special, name)(*args, x)


def _lgamma_kernel(xp, x):
    if xp is not np:
        return _on_device(xp, "gammaln", x)
    # Not math.lgamma for small inputs: it loses up to 6 digits near 1 and 2.
    return _float64_map(x, _lgamma64, None)


def _digamma_kernel(xp, x):
    if xp is not np:
        return _on_device(xp, "digamma", x)
    return _float64_map(x, _digamma64, None)


LGAMMA = unary(
    "lgamma",
    _lgamma_kernel,
    lambda g, x, out: g * DIGAMMA(x),
    c="lgamma({0})",
    doc="log|Gamma(x)|",
)
DIGAMMA = unary(
    "digamma",
    _digamma_kernel,
    lambda g, x, out: g * POLYGAMMA(x, n=1),
    doc="d/dx lgamma(x)",
)


def _polygamma_kernel(xp, x, n):
    if x.dtype.kind in "biu":
        x = x.astype(dtypes.get_default_dtype().numpy)
    if xp is not np:
        return _on_device(xp, "polygamma", x, n).astype(x.dtype, copy=False)
    return _float64_map(x, lambda flat: _polygamma64(flat, n), None)


def _polygamma_meta(x, n):
    dtype = x.dtype if x.dtype.is_floating_point else dtypes.get_default_dtype()
    return Spec(x.shape, dtype)


POLYGAMMA = define(
    "polygamma",
    meta=_polygamma_meta,
    kernel=_polygamma_kernel,
    vjp=lambda node, g: (g * POLYGAMMA(node.inputs[0], n=node.attrs["n"] + 1),),
    family="elementwise",
    doc="the n-th derivative of digamma",
)


# ----- public functions --------------------------------------------------------------------------
def lgamma(input):
    return LGAMMA(input)


def digamma(input):
    return DIGAMMA(input)


def polygamma(n, input):
    """The n-th derivative of digamma (torch's argument order: n first)."""
    from ..tensor import Tensor

    if isinstance(n, Tensor) and not isinstance(input, Tensor):  # Tensor.polygamma(self, n)
        n, input = input, n
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise located(TypeError(f"polygamma(): n must be an int, got {type(n).__name__}"))
    if n < 0:
        raise located(RuntimeError("polygamma(n, x) does not support negative n."))
    return POLYGAMMA(input, n=int(n))


def mvlgamma(input, p):
    """The multivariate log-gamma of dimension p: sum_i lgamma(x - i/2) + p(p-1)/4 log(pi),
    defined for x > (p - 1) / 2."""
    if p < 1:
        raise located(RuntimeError(f"p has to be greater than or equal to 1, got p = {p}"))
    if not input.is_floating_point():
        raise located(
            RuntimeError(f"mvlgamma: expected a floating point input, got {input.dtype.name}")
        )
    if bool((input <= (p - 1) / 2).any()):
        raise located(
            RuntimeError(f"All elements must be greater than (p-1)/2 = {(p - 1) / 2}, got p = {p}")
        )
    total = LGAMMA(input)
    for i in range(1, p):
        total = total + LGAMMA(input - i / 2)
    return total + p * (p - 1) / 4 * math.log(math.pi)
