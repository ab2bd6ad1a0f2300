"""Special functions on `xp` arrays that NumPy lacks: erf, erfc, erfinv and a stable sigmoid.

erf and erfc use W. J. Cody's rational Chebyshev approximations (Math. Comp. 23, 1969), one for
each of three ranges of |x|, evaluated in float64 (relative error around 1e-16). erf of float32
and narrower tensors (GELU's hot path) uses one rational function of x^2 fitted for single
precision instead: the same float64 chunks, no range splitting, within 1 ulp of float32.
erfinv starts from M. Giles' single-precision approximation and polishes it with Newton steps
on erf, or on erfc near +-1 where 1 - |x| carries the precision that erf has lost. On CuPy,
cupyx's functions are used.
"""

from __future__ import annotations

import math

import numpy as np

_SMALL = 0.46875  # |x| below this: erf(x) = x * P(x^2) / Q(x^2)
_MIDDLE = 4.0  # up to this: erfc(x) = exp(-x^2) * P(x) / Q(x); beyond, a series in 1/x^2
_UNDERFLOW = 30.0  # erfc(x) is 0 in float64 well before this; clipping keeps inf from making NaN
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_ONE_OVER_SQRT_PI = 1.0 / math.sqrt(math.pi)

# Cody's coefficients, in the order _ratio consumes them.
_SMALL_P = (
    3.16112374387056560e00,
    1.13864154151050156e02,
    3.77485237685302021e02,
    3.20937758913846947e03,
    1.85777706184603153e-1,
)
_SMALL_Q = (
    2.36012909523441209e01,
    2.44024637934444173e02,
    1.28261652607737228e03,
    2.84423683343917062e03,
)
_MIDDLE_P = (
    5.64188496988670089e-1,
    8.88314979438837594e00,
    6.61191906371416295e01,
    2.98635138197400131e02,
    8.81952221241769090e02,
    1.71204761263407058e03,
    2.05107837782607147e03,
    1.23033935479799725e03,
    2.15311535474403846e-8,
)
_MIDDLE_Q = (
    1.57449261107098347e01,
    1.17693950891312499e02,
    5.37181101862009858e02,
    1.62138957456669019e03,
    3.29079923573345963e03,
    4.36261909014324716e03,
    3.43936767414372164e03,
    1.23033935480374942e03,
)
_LARGE_P = (
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
    6.58749161529837803e-4,
    1.63153871373020978e-2,
)
_LARGE_Q = (
    2.56852019228982242e00,
    1.87295284992346725e00,
    5.27905102951428412e-1,
    6.05183413124413191e-2,
    2.33520497626869185e-3,
)

# erf(x) = x * P(x^2) / Q(x^2) on |x| <= _SINGLE_LIMIT, highest degree first: a weighted
# least-squares fit of relative error (1.3e-8 in float64, below half a float32 ulp). Beyond
# the limit erf(x) rounds to +-1 in float32, so x is clipped there.
_SINGLE_LIMIT = 3.925
_SINGLE_P = (
    -1.0720906468142388e-08,
    4.2246707286572316e-06,
    3.6197053089718611e-04,
    3.7676935198238224e-03,
    5.3823034493590466e-02,
    1.8441694994192798e-01,
    1.1283791678875432e00,
)
_SINGLE_Q = (
    5.8780861975332721e-05,
    1.2673724836025461e-03,
    1.5235459158330387e-02,
    1.1328863300871393e-01,
    4.9676864780655144e-01,
    1.0,
)


def sigmoid(xp, x):
    # exp of a non-positive number never overflows: split by sign.
    negative_part = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + negative_part), negative_part / (1 + negative_part)).astype(
        x.dtype, copy=False
    )


def erf(xp, x):
    if xp is not np:
        import cupyx.scipy.special

        return cupyx.scipy.special.erf(x)
    single = x.dtype.kind == "f" and x.dtype.itemsize <= 4  # bfloat16 is kind "V": Cody
    return _float64_map(x, _erf_single if single else _erf64, math.erf)


def erfc(xp, x):
    if xp is not np:
        import cupyx.scipy.special

        return cupyx.scipy.special.erfc(x)
    return _float64_map(x, _erfc64, math.erfc)


def erfinv(xp, x):
    if xp is not np:
        import cupyx.scipy.special

        return cupyx.scipy.special.erfinv(x)
    return _float64_map(x, _erfinv64, None)


_FEW = 2048  # below this many elements, ~60 NumPy calls cost more than a scalar loop
_CHUNK = 8192  # elements per pass: the ~60 passes over a chunk stay in the CPU cache


def _float64_map(x, vectorized, scalar):
    """Apply a float64 array function to `x` in cache-sized chunks (or a libm scalar function
    to a few elements), returning x's dtype."""
    flat = np.asarray(x, dtype=np.float64).reshape(-1)
    if scalar is not None and flat.size < _FEW:
        out = np.fromiter(map(scalar, flat.tolist()), np.float64, count=flat.size)
    elif flat.size <= _CHUNK:
        out = vectorized(flat)
    else:
        out = np.empty_like(flat)
        for start in range(0, flat.size, _CHUNK):
            out[start : start + _CHUNK] = vectorized(flat[start : start + _CHUNK])
    return out.reshape(np.shape(x)).astype(x.dtype, copy=False)


# ----- float64 implementations ---------------------------------------------------------------
def _ratio(t, numerator, denominator):
    """Cody's evaluation order: P(t)/Q(t) with Q monic; the last numerator entry is the leading
    coefficient and the one before it the constant term. In place: fresh temporaries of a
    large array cost more than the arithmetic."""
    top = t * numerator[-1]
    bottom = t.copy()
    for p, q in zip(numerator[:-2], denominator[:-1]):
        top += p
        top *= t
        bottom += q
        bottom *= t
    top += numerator[-2]
    bottom += denominator[-1]
    top /= bottom
    return top


def _erf_small(x):
    return x * _ratio(x * x, _SMALL_P, _SMALL_Q)


def _erfc_tail(y):
    """erfc(y) for y >= _SMALL (NaN passes through)."""
    y = np.minimum(y, _UNDERFLOW)
    middle = y <= _MIDDLE
    result = np.empty_like(y)
    near = y[middle]
    result[middle] = _ratio(near, _MIDDLE_P, _MIDDLE_Q)
    far = y[~middle]
    inverse_square = 1.0 / (far * far)
    result[~middle] = (
        _ONE_OVER_SQRT_PI - inverse_square * _ratio(inverse_square, _LARGE_P, _LARGE_Q)
    ) / far
    # exp(-y^2) as exp(-r^2) * exp(-(y - r)(y + r)) with r = y rounded down to 1/16: r^2 is
    # exact, so the rounding error of y^2 does not get amplified by exp.
    rounded = np.trunc(y * 16.0) / 16.0
    return np.exp(-rounded * rounded) * np.exp(-(y - rounded) * (y + rounded)) * result


def _erf_single(x):
    x = np.clip(x, -_SINGLE_LIMIT, _SINGLE_LIMIT)
    t = x * x
    top = _horner(t, _SINGLE_P)
    top *= x
    top /= _horner(t, _SINGLE_Q)
    return top


def _horner(t, coefficients):
    """The polynomial at t, highest degree first, evaluated in one buffer (GELU's hot loop)."""
    result = t * coefficients[0]
    for c in coefficients[1:-1]:
        result += c
        result *= t
    result += coefficients[-1]
    return result


def _erf64(x):
    y = np.abs(x)
    small = y <= _SMALL
    out = np.empty_like(x)
    out[small] = _erf_small(x[small])
    large = ~small
    out[large] = np.copysign((0.5 - _erfc_tail(y[large])) + 0.5, x[large])
    return out


def _erfc64(x):
    y = np.abs(x)
    small = y <= _SMALL
    out = np.empty_like(x)
    out[small] = 1.0 - _erf_small(x[small])
    large = ~small
    tail = _erfc_tail(y[large])
    out[large] = np.where(x[large] < 0, 2.0 - tail, tail)
    return out


def _erfinv64(x):
    y = _erfinv_guess(x)
    magnitude = np.abs(x)
    central = magnitude <= 0.5
    # Near 0: Newton on erf(y) = x; the guess is good to ~1e-7, so two steps reach float64.
    target, root = x[central], y[central]
    for _ in range(2):
        root = root - (_erf64(root) - target) / (_TWO_OVER_SQRT_PI * np.exp(-root * root))
    y[central] = root
    # Near +-1: erf(y) has lost the digits that 1 - |x| (exact here) still holds, so solve
    # log(erfc(z)) = log(1 - |x|) for z = |y|; in log space Newton converges from the guess,
    # which is off by up to 10% at 1 - 1e-16 (4 steps).
    tail = ~central & (magnitude < 1)
    log_complement, root = np.log1p(-magnitude[tail]), np.abs(y[tail])
    for _ in range(4):
        complement = _erfc64(root)
        slope = _TWO_OVER_SQRT_PI * np.exp(-root * root)
        root = root + (np.log(complement) - log_complement) * complement / slope
    y[tail] = np.copysign(root, x[tail])
    y = np.where(magnitude == 1, np.copysign(np.inf, x), y)
    return np.where(magnitude > 1, np.nan, y)


def _erfinv_guess(x):
    """Giles' approximation, good to about 1e-7: enough for Newton to converge in 2-3 steps."""
    with np.errstate(divide="ignore", invalid="ignore"):
        w = -np.log((1.0 - x) * (1.0 + x))
    small = w < 5.0
    central = _horner(
        w - 2.5,
        (
            2.81022636e-08,
            3.43273939e-07,
            -3.5233877e-06,
            -4.39150654e-06,
            0.00021858087,
            -0.00125372503,
            -0.00417768164,
            0.246640727,
            1.50140941,
        ),
    )
    tail = _horner(
        np.sqrt(np.where(small, 5.0, w)) - 3.0,
        (
            -0.000200214257,
            0.000100950558,
            0.00134934322,
            -0.00367342844,
            0.00573950773,
            -0.0076224613,
            0.00943887047,
            1.00167406,
            2.83297682,
        ),
    )
    return np.where(small, central, tail) * x
