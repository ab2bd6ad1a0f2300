"""The random ops (qilin/ops/random_ops.py) against NumPy's PCG64 stream seeded the same way:
qilin.Generator(seed) documents its draws as NumPy's Generator(PCG64(seed)) draws."""

import numpy as np
import pytest

import qilin

from .harness import Arg, OpSpec, make_tests

_SEED = 7


def _numpy_rng():
    return np.random.Generator(np.random.PCG64(_SEED))


def _qilin_rng(lib):
    return lib.Generator().manual_seed(_SEED)


SPECS = [
    OpSpec(
        "rand",
        lambda lib, x: lib.rand(tuple(x.shape), dtype=x.dtype, generator=_qilin_rng(lib)),
        [[Arg((3, 4))], [Arg((2, 1, 5))]],
        ref=lambda x: _numpy_rng().random(x.shape, dtype=x.dtype),
        grad=False,
        torch=False,  # torch's generator draws other numbers
    ),
    OpSpec(
        "randn",
        lambda lib, x: lib.randn(tuple(x.shape), dtype=x.dtype, generator=_qilin_rng(lib)),
        [[Arg((3, 4))], [Arg((6,))]],
        ref=lambda x: _numpy_rng().standard_normal(x.shape, dtype=x.dtype),
        grad=False,
        torch=False,
    ),
    OpSpec(
        "bernoulli",
        lambda lib, p: lib.bernoulli(p, generator=_qilin_rng(lib)),
        [[Arg((4, 5), low=0.0, high=1.0)], [Arg((3,), low=0.0, high=1.0)]],
        ref=lambda p: (_numpy_rng().random(p.shape) < p).astype(p.dtype),
        grad=False,
        torch=False,
    ),
]

make_tests(SPECS, globals())


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_rand_and_randn_are_numpy_draws_bit_for_bit(dtype):
    qdtype = getattr(qilin, dtype)
    uniform = qilin.rand(50, 7, dtype=qdtype, generator=_qilin_rng(qilin))
    normal = qilin.randn(9, dtype=qdtype, generator=_qilin_rng(qilin))
    work = np.float64 if dtype == "float64" else np.float32
    expected_uniform = _numpy_rng().random((50, 7), dtype=work).astype(qdtype.numpy)
    expected_normal = _numpy_rng().standard_normal(9, dtype=work).astype(qdtype.numpy)
    # Narrow floats round some draws up to 1: those become the largest value below 1.
    below_one = np.nextafter(np.asarray(1, qdtype.numpy), np.asarray(0, qdtype.numpy))
    expected_uniform = np.minimum(expected_uniform, below_one)
    assert uniform.dtype is qdtype and normal.dtype is qdtype
    np.testing.assert_array_equal(uniform.numpy(), expected_uniform)
    np.testing.assert_array_equal(normal.numpy(), expected_normal)
    assert float(uniform.max()) < 1.0


def test_bernoulli_with_a_probability_tensor_broadcasts_and_keeps_input_dtype():
    p = qilin.tensor([0.0, 0.5, 1.0], dtype=qilin.float64)
    draws = qilin.bernoulli(qilin.zeros(4, 3, dtype=qilin.int64), p=p, generator=_qilin_rng(qilin))
    expected = _numpy_rng().random((4, 3)) < p.numpy()
    assert draws.dtype is qilin.int64
    np.testing.assert_array_equal(draws.numpy(), expected.astype(np.int64))


def test_random_op_errors():
    with pytest.raises(RuntimeError, match=r"bernoulli expects p to be in \[0, 1\]"):
        qilin.bernoulli(qilin.tensor([0.5, 1.5]))
    with pytest.raises(RuntimeError, match="expected a floating point dtype"):
        qilin.rand(2, dtype=qilin.int64)
    with pytest.raises(TypeError, match="generator must be a qilin.Generator"):
        qilin.randn(2, generator=np.random.default_rng(0))
