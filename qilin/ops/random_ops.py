"""Random draws as primitives: uniform [0, 1), standard normal and Bernoulli samples.

Each op takes the qilin Generator to draw from as its first argument and reads the generator's
NumPy generator when its kernel runs, so a traced graph holds the generator by reference and
draws from its current state each time it runs (as eager does). Samples are drawn on the host:
a seed gives the same numbers on every device. None of these ops is differentiable.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import located
from .registry import Op, Spec, register

__all__: list = []  # reached through qilin.random (rand, randn, bernoulli), not bound as methods


def work_dtype(dtype: dtypes.DType):
    """Draw float64 for float64 tensors and float32 for the rest (half the cost)."""
    return np.float64 if dtype is dtypes.float64 else np.float32


def _below_one(values: np.ndarray, dtype: dtypes.DType) -> np.ndarray:
    """Keep [0, 1) draws below 1 after rounding to a narrow float (float16, bfloat16)."""
    if dtype.itemsize >= 4:
        return values
    largest = 1.0 - dtypes.finfo(dtype).eps / 2
    return np.minimum(values.astype(dtype.numpy), np.asarray(largest, dtype=dtype.numpy))


def _as(values: np.ndarray, dtype: dtypes.DType) -> np.ndarray:
    return values if values.dtype == dtype.numpy else values.astype(dtype.numpy)


def _factory_meta(generator, *, shape: tuple, dtype: dtypes.DType) -> Spec:
    if not dtype.is_floating_point:
        raise NotImplementedError(
            f"expected a floating point dtype for a continuous distribution, got {dtype.name}"
        )
    return Spec(tuple(shape), dtype)


def _rand_kernel(xp, generator, *, shape: tuple, dtype: dtypes.DType):
    values = generator._numpy.random(shape, dtype=work_dtype(dtype))
    return _as(_below_one(values, dtype), dtype)


def _randn_kernel(xp, generator, *, shape: tuple, dtype: dtypes.DType):
    return _as(generator._numpy.standard_normal(shape, dtype=work_dtype(dtype)), dtype)


RAND = register(
    Op(
        "rand",
        meta=_factory_meta,
        kernel=_rand_kernel,
        vjp=None,
        differentiable=False,
        family="library",
        doc="Uniform samples on [0, 1) of `shape` and floating `dtype`, on the host.",
    )
)

RANDN = register(
    Op(
        "randn",
        meta=_factory_meta,
        kernel=_randn_kernel,
        vjp=None,
        differentiable=False,
        family="library",
        doc="Standard normal samples of `shape` and floating `dtype`, on the host.",
    )
)


def _bernoulli_meta(generator, probability, *, shape: tuple, dtype: dtypes.DType) -> Spec:
    if isinstance(probability, Spec):
        try:
            shape = np.broadcast_shapes(tuple(shape), tuple(probability.shape))
        except ValueError:
            raise ValueError(
                f"bernoulli: the probability of shape {tuple(probability.shape)} does not "
                f"broadcast to the output shape {tuple(shape)}"
            ) from None
    return Spec(tuple(shape), dtype)


def check_probability(probability, name: str) -> None:
    array = np.asarray(probability)
    if not np.all((array >= 0) & (array <= 1)):
        shown = f"p={float(array):g}" if array.ndim == 0 else "a value outside [0, 1]"
        raise RuntimeError(f"{name} expects p to be in [0, 1], but got {shown}")


def _bernoulli_kernel(xp, generator, probability, *, shape: tuple, dtype: dtypes.DType):
    # The check reads the probabilities, so it runs with the kernel (also in a traced graph).
    if xp is not np and not isinstance(probability, float):
        probability = xp.asnumpy(probability)
    try:
        check_probability(probability, "bernoulli")
    except RuntimeError as error:
        raise located(error) from None  # the dispatcher passes it on as it is
    draws = _as(generator._numpy.random(shape) < probability, dtype)
    return draws if xp is np else xp.asarray(draws)


BERNOULLI = register(
    Op(
        "bernoulli",
        meta=_bernoulli_meta,
        kernel=_bernoulli_kernel,
        vjp=None,
        differentiable=False,
        family="library",
        doc="1 with probability `probability` (a tensor or a float), else 0, of `shape` and "
        "`dtype`.",
    )
)
