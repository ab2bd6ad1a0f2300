"""Elementwise primitives: math functions, arithmetic, comparisons and logic.

Each record gives the kernel (through `xp`), the vjp in qilin ops and a C expression template
for the compiler ({0}, {1} are the operands). Public functions with torch's signatures follow.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import dtypes
from ..dispatch import write_out
from ..errors import located
from ..tensor import Tensor
from . import special
from .families import binary, define, unary
from .registry import Spec

# NumPy warns on log(0), 0/0, overflow; torch returns inf/nan silently. Silence only warnings
# raised from qilin's own kernels, never the user's NumPy code.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"qilin\.")

__all__ = [
    "add",
    "sub",
    "subtract",
    "mul",
    "multiply",
    "div",
    "divide",
    "true_divide",
    "floor_divide",
    "remainder",
    "fmod",
    "pow",
    "float_power",
    "neg",
    "negative",
    "positive",
    "abs",
    "absolute",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "sqrt",
    "rsqrt",
    "square",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "arcsin",
    "arccos",
    "arctan",
    "atan2",
    "arctan2",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
    "sigmoid",
    "erf",
    "erfc",
    "erfinv",
    "floor",
    "ceil",
    "round",
    "trunc",
    "fix",
    "frac",
    "sign",
    "sgn",
    "reciprocal",
    "clamp",
    "clip",
    "clamp_min",
    "clamp_max",
    "minimum",
    "maximum",
    "fmin",
    "fmax",
    "lerp",
    "hypot",
    "logaddexp",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "not_equal",
    "isclose",
    "allclose",
    "equal",
    "logical_and",
    "logical_or",
    "logical_not",
    "logical_xor",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_not",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "isnan",
    "isinf",
    "isposinf",
    "isneginf",
    "isfinite",
    "isreal",
    "nan_to_num",
    "relu",
    "xlogy",
    "copysign",
    "deg2rad",
    "rad2deg",
    "where",
]

# ----- unary math (float results) ------------------------------------------------------------
EXP = unary("exp", lambda xp, x: xp.exp(x), lambda g, x, out: g * out, save="output", c="exp({0})")
EXP2 = unary(
    "exp2",
    lambda xp, x: xp.exp2(x),
    lambda g, x, out: g * out * math.log(2.0),
    save="output",
    c="exp2({0})",
)
EXPM1 = unary(
    "expm1",
    lambda xp, x: xp.expm1(x),
    lambda g, x, out: g * (out + 1),
    save="output",
    c="expm1({0})",
)
LOG = unary("log", lambda xp, x: xp.log(x), lambda g, x, out: g / x, c="log({0})")
LOG2 = unary(
    "log2", lambda xp, x: xp.log2(x), lambda g, x, out: g / (x * math.log(2.0)), c="log2({0})"
)
LOG10 = unary(
    "log10", lambda xp, x: xp.log10(x), lambda g, x, out: g / (x * math.log(10.0)), c="log10({0})"
)
LOG1P = unary("log1p", lambda xp, x: xp.log1p(x), lambda g, x, out: g / (x + 1), c="log1p({0})")
SQRT = unary(
    "sqrt", lambda xp, x: xp.sqrt(x), lambda g, x, out: g / (out * 2), save="output", c="sqrt({0})"
)
RSQRT = unary(
    "rsqrt",
    lambda xp, x: 1 / xp.sqrt(x),
    lambda g, x, out: g * out * out * out * -0.5,
    save="output",
    c="(1 / sqrt({0}))",
)
SIN = unary("sin", lambda xp, x: xp.sin(x), lambda g, x, out: g * cos(x), c="sin({0})")
COS = unary("cos", lambda xp, x: xp.cos(x), lambda g, x, out: -g * sin(x), c="cos({0})")
TAN = unary(
    "tan",
    lambda xp, x: xp.tan(x),
    lambda g, x, out: g * (out * out + 1),
    save="output",
    c="tan({0})",
)
ASIN = unary(
    "asin", lambda xp, x: xp.arcsin(x), lambda g, x, out: g * rsqrt(1 - x * x), c="asin({0})"
)
ACOS = unary(
    "acos", lambda xp, x: xp.arccos(x), lambda g, x, out: -g * rsqrt(1 - x * x), c="acos({0})"
)
ATAN = unary("atan", lambda xp, x: xp.arctan(x), lambda g, x, out: g / (x * x + 1), c="atan({0})")
SINH = unary("sinh", lambda xp, x: xp.sinh(x), lambda g, x, out: g * cosh(x), c="sinh({0})")
COSH = unary("cosh", lambda xp, x: xp.cosh(x), lambda g, x, out: g * sinh(x), c="cosh({0})")
TANH = unary(
    "tanh",
    lambda xp, x: xp.tanh(x),
    lambda g, x, out: g * (1 - out * out),
    save="output",
    c="tanh({0})",
)
ASINH = unary(
    "asinh", lambda xp, x: xp.arcsinh(x), lambda g, x, out: g * rsqrt(x * x + 1), c="asinh({0})"
)
ACOSH = unary(
    "acosh", lambda xp, x: xp.arccosh(x), lambda g, x, out: g * rsqrt(x * x - 1), c="acosh({0})"
)
ATANH = unary(
    "atanh", lambda xp, x: xp.arctanh(x), lambda g, x, out: g / (1 - x * x), c="atanh({0})"
)
SIGMOID = unary(
    "sigmoid",
    lambda xp, x: special.sigmoid(xp, x),
    lambda g, x, out: g * out * (1 - out),
    save="output",
    c="(1 / (1 + exp(-{0})))",
)
ERF = unary(
    "erf",
    lambda xp, x: special.erf(xp, x),
    lambda g, x, out: g * exp(-x * x) * (2 / math.sqrt(math.pi)),
    c="erf({0})",
)
ERFC = unary(
    "erfc",
    lambda xp, x: special.erfc(xp, x),
    lambda g, x, out: g * exp(-x * x) * (-2 / math.sqrt(math.pi)),
    c="erfc({0})",
)
ERFINV = unary(
    "erfinv",
    lambda xp, x: special.erfinv(xp, x),
    lambda g, x, out: g * exp(out * out) * (math.sqrt(math.pi) / 2),
    save="output",
)
RECIPROCAL = unary(
    "reciprocal",
    lambda xp, x: 1 / x,
    lambda g, x, out: -g * out * out,
    save="output",
    c="(1 / {0})",
)


# ----- unary, dtype-preserving -----------------------------------------------------------------
def _negative(xp, x):
    if x.dtype.kind == "b":
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you "
            "are trying to invert a mask, use the `~` or `logical_not()` operator "
            "instead."
        )
    return xp.negative(x)


NEG = unary("neg", _negative, lambda g, x, out: -g, to_float=False, save=None, c="(-{0})")
ABS = unary(
    "abs", lambda xp, x: xp.abs(x), lambda g, x, out: g * sign(x), to_float=False, c="fabs({0})"
)


def _sign(xp, x):
    """torch's sign is (x > 0) - (x < 0): NaN has sign 0, where xp.sign gives NaN."""
    if x.dtype.kind == "b":
        return x.copy()
    out = xp.asarray(xp.sign(x))  # a 0-d input gives a NumPy scalar
    if x.dtype.kind not in "iu":
        xp.copyto(out, 0, where=xp.isnan(out))
    return out


SIGN = unary(
    "sign",
    _sign,
    lambda g, x, out: g * 0,
    to_float=False,
    save=None,
    c="(({0} > 0) - ({0} < 0))",
)
SQUARE = unary(
    "square",
    lambda xp, x: xp.square(x),
    lambda g, x, out: g * x * 2,
    to_float=False,
    c="({0} * {0})",
)
RELU = unary(
    "relu",
    lambda xp, x: xp.maximum(x, 0),
    lambda g, x, out: g * (out > 0),
    to_float=False,
    save="output",
    c="({0} > 0 ? {0} : 0)",
)


def _rounding(name, function, c):
    """floor/ceil/round/trunc: integers pass through; the gradient is zero almost everywhere."""
    return unary(
        name,
        lambda xp, x: x.copy() if x.dtype.kind in "biu" else function(xp, x),
        lambda g, x, out: g * 0,
        to_float=False,
        save=None,
        c=c,
    )


FLOOR = _rounding("floor", lambda xp, x: xp.floor(x), "floor({0})")
CEIL = _rounding("ceil", lambda xp, x: xp.ceil(x), "ceil({0})")
ROUND = _rounding("round", lambda xp, x: xp.round(x), "nearbyint({0})")
TRUNC = _rounding("trunc", lambda xp, x: xp.trunc(x), "trunc({0})")


def _predicate(name, kernel, c):
    """An elementwise test with a bool result and no gradient (isnan, logical_not, ...)."""
    return unary(name, kernel, to_float=False, out_dtype=dtypes.bool, differentiable=False, c=c)


ISNAN = _predicate("isnan", lambda xp, x: xp.isnan(x), "isnan({0})")
ISINF = _predicate("isinf", lambda xp, x: xp.isinf(x), "isinf({0})")
ISFINITE = _predicate("isfinite", lambda xp, x: xp.isfinite(x), "isfinite({0})")
LOGICAL_NOT = _predicate("logical_not", lambda xp, x: xp.logical_not(x), "(!{0})")
BITWISE_NOT = unary(
    "bitwise_not", lambda xp, x: xp.invert(x), to_float=False, differentiable=False, c="(~{0})"
)


# ----- binary arithmetic ---------------------------------------------------------------------
def _is_integral(value) -> bool:
    """Whether an operand (array, NumPy or Python scalar) holds integers or bools."""
    kind = value.dtype.kind if hasattr(value, "dtype") else None
    return kind in ("i", "u", "b") or type(value) is int or type(value) is bool


def _power(xp, a, b):
    if not (_is_integral(a) and _is_integral(b)):
        return xp.power(a, b)
    if _is_bool(a) and _is_bool(b):
        return xp.logical_or(a, xp.logical_not(b))  # x**0 = 1, x**1 = x
    if not isinstance(b, xp.ndarray):  # a scalar: negative ones were refused before the cast
        return xp.power(a, b)
    negative = b < 0
    if not negative.any():
        return xp.power(a, b)
    # torch: an integer to a negative power (from a tensor) is 1/a rounded toward zero.
    result = xp.power(a, xp.where(negative, 0, b))
    inverse = xp.where(a == 1, 1, xp.where(a == -1, xp.where(b % 2 == 0, 1, -1), 0))
    return xp.where(negative, inverse, result).astype(result.dtype, copy=False)


def _checked_first(run, check):
    """Wrap a binary op's kernel so that `check(a, b)` sees the operands as the user gave them,
    before promotion turns a Python scalar into an array value (True into 1, -3 into 253)."""

    def kernel(xp, a, b):
        check(a, b)
        return run(xp, a, b)

    return kernel


def _is_bool(value) -> bool:
    return type(value) is bool or (hasattr(value, "dtype") and value.dtype.kind == "b")


def _refuse_bool_subtraction(a, b) -> None:
    a_is_bool, b_is_bool = _is_bool(a), _is_bool(b)
    if a_is_bool and b_is_bool:
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not "
            "supported. Use the `^` or `logical_xor()` operator instead."
        )
    if a_is_bool or b_is_bool:
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. "
            "If you are trying to invert a mask, use the `~` or `logical_not()` "
            "operator instead."
        )


def _refuse_negative_integer_power(a, b) -> None:
    # Only a scalar exponent is refused; a negative exponent tensor gives 1/a rounded to zero.
    if (type(b) is int or isinstance(b, np.integer)) and b < 0 and _is_integral(a):
        raise RuntimeError("Integers to negative integer powers are not allowed.")


def _integer_division(function):
    """fmod, remainder and floor_divide: torch raises on an integer zero divisor (NumPy gives 0)."""

    def kernel(xp, a, b):
        if _is_integral(a) and _is_integral(b) and not xp.all(b):
            raise RuntimeError("ZeroDivisionError: integer division by zero")
        return function(xp, a, b)

    return kernel


def _xlogy(xp, a, b):
    if not hasattr(b, "dtype"):  # a Python number: its log in the tensor's dtype, not float64
        b = a.dtype.type(b)
    # 0 * log(b) is 0, except that a NaN in b stays NaN (as torch).
    return xp.where((a == 0) & ~xp.isnan(b), 0, a * xp.log(b))


ADD = binary(
    "add",
    lambda xp, a, b: xp.add(a, b),
    (lambda g, a, b, out: g, lambda g, a, b, out: g),
    save=None,
    c="({0} + {1})",
)
SUB = binary(
    "sub",
    lambda xp, a, b: xp.subtract(a, b),
    (lambda g, a, b, out: g, lambda g, a, b, out: -g),
    save=None,
    c="({0} - {1})",
)
SUB.kernel = _checked_first(SUB.kernel, _refuse_bool_subtraction)
MUL = binary(
    "mul",
    lambda xp, a, b: xp.multiply(a, b),
    (lambda g, a, b, out: g * b, lambda g, a, b, out: g * a),
    c="({0} * {1})",
)
DIV = binary(
    "div",
    lambda xp, a, b: xp.true_divide(a, b),
    (lambda g, a, b, out: g / b, lambda g, a, b, out: -g * a / (b * b)),
    result="float",
    c="({0} / {1})",
)
POW = binary("pow", _power, lambda g, a, b, out: _pow_grad(g, a, b), c="pow({0}, {1})")
POW.kernel = _checked_first(POW.kernel, _refuse_negative_integer_power)
ATAN2 = binary(
    "atan2",
    lambda xp, a, b: xp.arctan2(a, b),
    (lambda g, a, b, out: g * b / (a * a + b * b), lambda g, a, b, out: -g * a / (a * a + b * b)),
    result="float",
    c="atan2({0}, {1})",
)
MAXIMUM = binary(
    "maximum",
    lambda xp, a, b: xp.maximum(a, b),
    lambda g, a, b, out: _select_grad(g, a, b, a > b),
    c="fmax({0}, {1})",
)
MINIMUM = binary(
    "minimum",
    lambda xp, a, b: xp.minimum(a, b),
    lambda g, a, b, out: _select_grad(g, a, b, a < b),
    c="fmin({0}, {1})",
)
FMAX = binary(
    "fmax",
    lambda xp, a, b: xp.fmax(a, b),
    lambda g, a, b, out: _pick_grad(g, a, b, (a >= b) | isnan(b)),
    c="fmax({0}, {1})",
)
FMIN = binary(
    "fmin",
    lambda xp, a, b: xp.fmin(a, b),
    lambda g, a, b, out: _pick_grad(g, a, b, (a <= b) | isnan(b)),
    c="fmin({0}, {1})",
)
FMOD = binary(
    "fmod",
    _integer_division(lambda xp, a, b: xp.fmod(a, b)),
    (lambda g, a, b, out: g, lambda g, a, b, out: -g * trunc(a / b)),
    c="fmod({0}, {1})",
)
REMAINDER = binary(
    "remainder",
    _integer_division(lambda xp, a, b: xp.mod(a, b)),
    (lambda g, a, b, out: g, lambda g, a, b, out: -g * floor(a / b)),
    c="remainder({0}, {1})",
)
FLOOR_DIVIDE = binary(
    "floor_divide",
    _integer_division(lambda xp, a, b: xp.floor_divide(a, b)),
    lambda g, a, b, out: (g * 0, g * 0),
    save=None,
    c="floor({0} / {1})",
)
HYPOT = binary(
    "hypot",
    lambda xp, a, b: xp.hypot(a, b),
    lambda g, a, b, out: (g * a / HYPOT(a, b), g * b / HYPOT(a, b)),
    result="float",
    c="hypot({0}, {1})",
)
LOGADDEXP = binary(
    "logaddexp",
    lambda xp, a, b: xp.logaddexp(a, b),
    (lambda g, a, b, out: g * sigmoid(a - b), lambda g, a, b, out: g * sigmoid(b - a)),
    result="float",
)
COPYSIGN = binary(
    "copysign",
    lambda xp, a, b: xp.copysign(a, b),
    lambda g, a, b, out: (_copysign_grad(g, a, b), g * 0),
    result="float",
    c="copysign({0}, {1})",
)
XLOGY = binary(
    "xlogy",
    _xlogy,
    (lambda g, a, b, out: g * XLOGY(a != 0, b), lambda g, a, b, out: g * a / b),
    result="float",
)


# ----- comparisons and logic (bool results, no gradient) -------------------------------------
def _comparison(name, kernel, c):
    return binary(name, kernel, result="bool", differentiable=False, c=c)


EQ = _comparison("eq", lambda xp, a, b: xp.equal(a, b), "({0} == {1})")
NE = _comparison("ne", lambda xp, a, b: xp.not_equal(a, b), "({0} != {1})")
LT = _comparison("lt", lambda xp, a, b: xp.less(a, b), "({0} < {1})")
LE = _comparison("le", lambda xp, a, b: xp.less_equal(a, b), "({0} <= {1})")
GT = _comparison("gt", lambda xp, a, b: xp.greater(a, b), "({0} > {1})")
GE = _comparison("ge", lambda xp, a, b: xp.greater_equal(a, b), "({0} >= {1})")
LOGICAL_AND = _comparison("logical_and", lambda xp, a, b: xp.logical_and(a, b), "({0} && {1})")
LOGICAL_OR = _comparison("logical_or", lambda xp, a, b: xp.logical_or(a, b), "({0} || {1})")
LOGICAL_XOR = _comparison("logical_xor", lambda xp, a, b: xp.logical_xor(a, b), "(!{0} != !{1})")


def _bitwise(name, kernel, c):
    def checked(xp, a, b):
        if not (_is_integral(a) and _is_integral(b)):
            given = " and ".join(str(getattr(v, "dtype", type(v).__name__)) for v in (a, b))
            # NotImplementedError, as torch: a RuntimeError that names the missing dtype support
            raise NotImplementedError(f"expected integer or bool operands, got {given}")
        return kernel(xp, a, b)

    return binary(name, checked, differentiable=False, c=c)


BITWISE_AND = _bitwise("bitwise_and", lambda xp, a, b: xp.bitwise_and(a, b), "({0} & {1})")
BITWISE_OR = _bitwise("bitwise_or", lambda xp, a, b: xp.bitwise_or(a, b), "({0} | {1})")
BITWISE_XOR = _bitwise("bitwise_xor", lambda xp, a, b: xp.bitwise_xor(a, b), "({0} ^ {1})")
LEFT_SHIFT = _bitwise("bitwise_left_shift", lambda xp, a, b: xp.left_shift(a, b), "({0} << {1})")
RIGHT_SHIFT = _bitwise("bitwise_right_shift", lambda xp, a, b: xp.right_shift(a, b), "({0} >> {1})")


# ----- ops with attributes -------------------------------------------------------------------
def _clamp_kernel(xp, x, min=None, max=None):
    dtype = dtypes.result_type(x, *(v for v in (min, max) if v is not None)).numpy
    if x.dtype != dtype:
        x = x.astype(dtype)
    # Bounds in the tensor's dtype, as torch (a bound out of an integer type's range raises).
    if min is not None:
        x = xp.maximum(x, dtype.type(min))
    if max is not None:
        x = xp.minimum(x, dtype.type(max))
    return x


def _clamp_meta(x, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    return Spec(x.shape, dtypes.result_type(x, *(v for v in (min, max) if v is not None)))


def _clamp_grad(node, g):
    (x,), attrs = node.inputs, node.attrs
    low, high = attrs.get("min"), attrs.get("max")
    keep = None
    if low is not None:
        keep = x >= low
    if high is not None:
        keep = (x <= high) if keep is None else keep & (x <= high)
    return (g * keep,)


CLAMP = define(
    "clamp",
    meta=_clamp_meta,
    kernel=_clamp_kernel,
    vjp=_clamp_grad,
    family="elementwise",
    eager_check=False,
    lowering={"c": "fmin(fmax({0}, {min}), {max})"},
)


def _nan_to_num_kernel(xp, x, nan=0.0, posinf=None, neginf=None):
    if x.dtype.kind in "biu":
        return x.copy()
    # Written out rather than xp.nan_to_num, which does not know bfloat16's limits.
    info = dtypes.finfo(dtypes.from_numpy(x.dtype))
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    finite = xp.where(x > 0, x.dtype.type(posinf), x.dtype.type(neginf))
    return xp.where(xp.isnan(x), x.dtype.type(nan), xp.where(xp.isinf(x), finite, x))


NAN_TO_NUM = define(
    "nan_to_num",
    meta=lambda x, **attrs: Spec(x.shape, x.dtype),
    kernel=_nan_to_num_kernel,
    vjp=lambda node, g: (g * isfinite(node.inputs[0]),),
    family="elementwise",
)


def _where_kernel(xp, condition, a, b):
    if getattr(condition, "dtype", None) is not None and condition.dtype.kind != "b":
        raise RuntimeError(
            f"where expected condition to be a boolean tensor, but got a tensor "
            f"with dtype {dtypes.from_numpy(condition.dtype).name}"
        )
    dtype = dtypes.result_type(a, b).numpy
    a, b = dtypes.cast_operand(a, dtype), dtypes.cast_operand(b, dtype)
    return xp.where(condition, a, b).astype(dtype, copy=False)


def _where_meta(condition, a, b):
    shapes = [v.shape for v in (condition, a, b) if isinstance(v, Spec)]
    if isinstance(condition, Spec) and condition.dtype is not dtypes.bool:
        raise RuntimeError(
            f"where expected condition to be a boolean tensor, but got a tensor "
            f"with dtype {condition.dtype.name}"
        )
    from .families import broadcast_shapes

    return Spec(broadcast_shapes(*shapes, op="where"), dtypes.result_type(a, b))


def _where_grad(node, g):
    condition = node.inputs[0]
    meta = node.input_meta
    from .creation import zeros_like
    from .families import unbroadcast

    zero = zeros_like(g)  # not g * 0: an infinite gradient must not leak NaN into a branch
    return (
        None,
        unbroadcast(where(condition, g, zero), meta[1][0]) if meta[1] else None,
        unbroadcast(where(condition, zero, g), meta[2][0]) if meta[2] else None,
    )


WHERE = define(
    "where",
    meta=_where_meta,
    kernel=_where_kernel,
    vjp=_where_grad,
    family="elementwise",
    lowering={"c": "({0} ? {1} : {2})"},
)


# ----- vjp helpers ---------------------------------------------------------------------------
def _pow_grad(g, a, b, out=None):
    """torch's rules: no gradient through a zero exponent, and none to the exponent where the
    base is 0 and the exponent is non-negative."""
    if not isinstance(b, Tensor):
        return (g * 0 if b == 0 else g * b * pow(a, b - 1)), None
    grad_a = where(b == 0, g * 0, g * b * pow(a, b - 1)) if isinstance(a, Tensor) else None
    if isinstance(a, Tensor):
        grad_b = where((a == 0) & (b >= 0), g * 0, g * pow(a, b) * log(a))
    elif a > 0:
        grad_b = g * pow(a, b) * math.log(a)
    elif a == 0:
        grad_b = where(b >= 0, g * 0, g * pow(a, b) * -math.inf)
    else:
        grad_b = g * math.nan
    return grad_a, grad_b


def _copysign_grad(g, a, b):
    """+-g where a's sign is kept or flipped (b = -0.0 flips too), 0 where a is 0, as torch."""
    if not isinstance(a, Tensor):
        return None
    return g * sign(a) * sign(COPYSIGN(a, b))


def _pick_grad(g, a, b, take_a):
    """Gradient of fmax/fmin: all to `a` where `take_a` (ties included, as torch), else to `b`."""
    zero = g * 0
    return where(take_a, g, zero), where(take_a, zero, g)


def _select_grad(g, a, b, take_a):
    """Gradient of max/min-like ops: to `a` where `take_a`, to `b` elsewhere, split on ties."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        other = b if isinstance(a, Tensor) else a
        tensor = a if isinstance(a, Tensor) else b
        mask = take_a if isinstance(a, Tensor) else ~take_a
        tie = tensor == other
        share = where(tie, g * 0.5, g * mask)
        return (share, None) if isinstance(a, Tensor) else (None, share)
    tie = a == b
    half = g * 0.5
    return where(tie, half, g * take_a), where(tie, half, g * ~take_a)


# ----- public functions with torch's signatures ----------------------------------------------
def _scaled(input, other, alpha):
    """`alpha * other` for add/sub; torch refuses a float alpha when the result is integral."""
    if alpha == 1:
        return other
    if isinstance(alpha, float) and not dtypes.result_type(input, other).is_floating_point:
        raise RuntimeError(
            "For integral input tensors, argument alpha must not be a floating point number."
        )
    return other * alpha


def add(input, other, *, alpha=1, out=None):
    return write_out(ADD(input, _scaled(input, other, alpha)), out)


def sub(input, other, *, alpha=1, out=None):
    return write_out(SUB(input, _scaled(input, other, alpha)), out)


def mul(input, other, *, out=None):
    return write_out(MUL(input, other), out)


def div(input, other, *, rounding_mode=None, out=None):
    if rounding_mode is None:
        result = DIV(input, other)
    elif rounding_mode == "floor":
        result = FLOOR_DIVIDE(input, other)
    elif rounding_mode != "trunc":
        raise RuntimeError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
            f"found '{rounding_mode}'"
        )
    elif dtypes.result_type(input, other).is_floating_point:
        result = TRUNC(DIV(input, other))
    else:
        # Exact for integers of any size (a float quotient would round large int64 values):
        # input - fmod(input, other) is a multiple of other, so floor division is exact.
        result = FLOOR_DIVIDE(SUB(input, FMOD(input, other)), other)
    return write_out(result, out)


def pow(input, exponent, *, out=None):
    return write_out(POW(input, exponent), out)


def float_power(input, exponent, *, out=None):
    """pow computed in float64 whatever the input dtypes, as torch.float_power."""
    return write_out(POW(_as_double(input), _as_double(exponent)), out)


def _as_double(value):
    return value.to(dtypes.float64) if isinstance(value, Tensor) else float(value)


def floor_divide(input, other):
    return FLOOR_DIVIDE(input, other)


def remainder(input, other):
    return REMAINDER(input, other)


def fmod(input, other):
    return FMOD(input, other)


def atan2(input, other):
    return ATAN2(input, other)


def neg(input):
    return NEG(input)


def positive(input):
    if input.dtype is dtypes.bool:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def square(input):
    # torch squares a bool tensor as pow(input, 2): the integer 2 makes the result int64.
    return SQUARE(input.to(dtypes.int64) if input.dtype is dtypes.bool else input)


def exp(input):
    return EXP(input)


def log(input):
    return LOG(input)


def sqrt(input):
    return SQRT(input)


def rsqrt(input):
    return RSQRT(input)


def sin(input):
    return SIN(input)


def cos(input):
    return COS(input)


def sinh(input):
    return SINH(input)


def cosh(input):
    return COSH(input)


def tanh(input):
    return TANH(input)


def sigmoid(input):
    return SIGMOID(input)


def sign(input):
    return SIGN(input)


def floor(input):
    return FLOOR(input)


def trunc(input):
    return TRUNC(input)


def isnan(input):
    return ISNAN(input)


def isfinite(input):
    return ISFINITE(input)


def where(condition, input=None, other=None):
    if input is None and other is None:
        from .indexing import nonzero

        return nonzero(condition, as_tuple=True)
    return WHERE(condition, input, other)


def round(input, *, decimals=0):
    """Round half to even; with `decimals`, scale by a power of ten first (as torch: dividing
    by 10**-decimals when decimals < 0, so that round(1234.5, decimals=-1) is exactly 1230)."""
    if decimals == 0:
        return ROUND(input)
    _require_floating(input, f"round(decimals={decimals})")
    if decimals > 0:
        scale = 10.0**decimals
        return ROUND(input * scale) / scale
    scale = 10.0**-decimals
    return ROUND(input / scale) * scale


def frac(input):
    _require_floating(input, "frac")
    return input - TRUNC(input)


def _require_floating(input, name: str) -> None:
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{name} expects a floating point tensor, but got {input.dtype.name}")


def clamp(input, min=None, max=None, *, out=None):
    if min is None and max is None:
        raise located(RuntimeError("clamp: At least one of 'min' or 'max' must not be None"))
    if not (isinstance(min, Tensor) or isinstance(max, Tensor)):
        return write_out(CLAMP(input, min=min, max=max), out)
    # Tensor bounds: as torch, a value equal to a bound keeps its gradient; a bound gets the
    # gradient where it replaced the value. NaN inputs stay NaN (comparisons are False).
    result = input
    if min is not None:
        result = WHERE(LT(input, min), min, result)
    if max is not None:
        result = WHERE(GT(result, max), max, result)
    return write_out(result, out)


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


def lerp(input, end, weight):
    """input + weight * (end - input), written from the nearer end as torch does, so that
    lerp(a, b, 1) is exactly b."""
    difference = end - input
    if isinstance(weight, Tensor):
        return WHERE(
            LT(ABS(weight), 0.5), input + weight * difference, end - difference * (1 - weight)
        )
    if -0.5 < weight < 0.5:
        return input + weight * difference
    return end - difference * (1 - weight)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    return NAN_TO_NUM(input, nan=nan, posinf=posinf, neginf=neginf)


def isposinf(input):
    return ISINF(input) & (input > 0)


def isneginf(input):
    return ISINF(input) & (input < 0)


def isreal(input):
    from .creation import ones_like

    return ones_like(input, dtype=dtypes.bool)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other|, elementwise; equal infinities are close."""
    if rtol < 0 or atol < 0:
        raise RuntimeError(
            f"isclose: rtol and atol must be greater than or equal to zero, but "
            f"got rtol={rtol}, atol={atol}"
        )
    if not isinstance(other, Tensor):
        from .creation import full_like

        other = full_like(input, other, dtype=dtypes.result_type(input, other))
    if input.dtype is not other.dtype:
        raise RuntimeError(
            f"isclose: expected both tensors to have the same dtype, but got "
            f"{input.dtype.name} and {other.dtype.name}"
        )
    close = EQ(input, other)
    if equal_nan:
        close = LOGICAL_OR(close, LOGICAL_AND(ISNAN(input), ISNAN(other)))
    if input.dtype is dtypes.bool:  # measured in the default float dtype, as torch
        input, other = input.to(dtypes.get_default_dtype()), other.to(dtypes.get_default_dtype())
    error = ABS(input - other)
    # An infinite error (inf vs -inf, inf vs finite) is never within tolerance.
    within = LOGICAL_AND(ISFINITE(error), LE(error, atol + ABS(rtol * other)))
    return LOGICAL_OR(close, within)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


def equal(input, other) -> bool:
    return tuple(input.shape) == tuple(other.shape) and bool(EQ(input, other).all())


def deg2rad(input):
    return input * (math.pi / 180)


def rad2deg(input):
    return input * (180 / math.pi)


def relu(input):
    return RELU(input)


exp2, expm1, log2, log10, log1p = EXP2, EXPM1, LOG2, LOG10, LOG1P
tan, asin, acos, atan, asinh, acosh, atanh = TAN, ASIN, ACOS, ATAN, ASINH, ACOSH, ATANH
erf, erfc, erfinv, reciprocal, abs, ceil = ERF, ERFC, ERFINV, RECIPROCAL, ABS, CEIL
isinf, logical_not, bitwise_not = ISINF, LOGICAL_NOT, BITWISE_NOT
minimum, maximum, fmin, fmax, hypot, logaddexp = MINIMUM, MAXIMUM, FMIN, FMAX, HYPOT, LOGADDEXP
copysign, xlogy = COPYSIGN, XLOGY
eq, ne, lt, le, gt, ge = EQ, NE, LT, LE, GT, GE
logical_and, logical_or, logical_xor = LOGICAL_AND, LOGICAL_OR, LOGICAL_XOR
bitwise_and, bitwise_or, bitwise_xor = BITWISE_AND, BITWISE_OR, BITWISE_XOR
bitwise_left_shift, bitwise_right_shift = LEFT_SHIFT, RIGHT_SHIFT

# torch's aliases
subtract, multiply, divide, true_divide, negative, absolute = sub, mul, div, div, neg, abs
arcsin, arccos, arctan, arctan2, clip, fix, sgn = asin, acos, atan, atan2, clamp, trunc, sign
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
