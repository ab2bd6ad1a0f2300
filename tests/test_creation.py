"""Tensor factories against torch: values, shapes and dtypes; errors of the same kind."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import qilin

torch = pytest.importorskip("torch")


def assert_same(got, want, exact: bool = True) -> None:
    """`got` (qilin) matches `want` (torch): shape, dtype name and values."""
    assert isinstance(got, qilin.Tensor), f"expected a qilin.Tensor, got {type(got).__name__}"
    assert tuple(got.shape) == tuple(want.shape), (tuple(got.shape), tuple(want.shape))
    assert got.dtype.name == str(want.dtype).removeprefix("torch."), (got.dtype, want.dtype)
    expected = (
        want.detach().float().numpy() if want.dtype == torch.bfloat16 else (want.detach().numpy())
    )
    actual = np.asarray(
        got.detach().float().numpy() if got.dtype is qilin.bfloat16 else (got.detach().numpy())
    )
    if exact:
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-6)


def both(build):
    """Run `build(lib, np)` with qilin and torch, silencing torch's deprecation warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build(qilin), build(torch)


NUMPY_DTYPES = [
    np.bool_,
    np.uint8,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.float16,
    np.float32,
    np.float64,
]

# Each case runs unchanged with lib=qilin and lib=torch.
TENSOR_CASES = {
    "nested_ints": lambda lib: lib.tensor([[1, 2], [3, 4]]),
    "nested_floats": lambda lib: lib.tensor([[1.5, 2], [3, 4]]),
    "bool_int_float": lambda lib: lib.tensor([True, 1, 2.5]),
    "bool_int": lambda lib: lib.tensor([True, 1]),
    "bools": lambda lib: lib.tensor([[True, False]]),
    "tuple": lambda lib: lib.tensor((1, 2, 3)),
    "zero_dim_float": lambda lib: lib.tensor(3.25),
    "zero_dim_int": lambda lib: lib.tensor(-7),
    "zero_dim_bool": lambda lib: lib.tensor(False),
    "empty": lambda lib: lib.tensor([]),
    "empty_nested": lambda lib: lib.tensor([[], []]),
    "empty_int": lambda lib: lib.tensor([], dtype=lib.int64),
    "numpy_scalar_f64": lambda lib: lib.tensor(np.float64(1.5)),
    "numpy_scalar_i32": lambda lib: lib.tensor(np.int32(3)),
    "numpy_scalar_f16": lambda lib: lib.tensor(np.float16(0.5)),
    "numpy_scalars_in_list_f32": lambda lib: lib.tensor([np.float32(1), 2]),
    "numpy_scalars_in_list_f64": lambda lib: lib.tensor([np.float64(1), 2]),
    "numpy_scalars_in_list_i32": lambda lib: lib.tensor([np.int32(1), 2]),
    "numpy_scalars_in_list_i16": lambda lib: lib.tensor([np.int16(1), np.int16(2)]),
    "numpy_bool_and_float": lambda lib: lib.tensor([True, np.float32(1.0)]),
    "list_of_0d": lambda lib: lib.tensor([lib.tensor(1.0), lib.tensor(2.0)]),
    "list_of_0d_mixed": lambda lib: lib.tensor([lib.tensor(1), lib.tensor(2.0)]),
    "list_of_0d_int32": lambda lib: lib.tensor([lib.tensor(1, dtype=lib.int32)]),
    "list_of_0d_f64": lambda lib: lib.tensor([lib.tensor(1.0, dtype=lib.float64)]),
    "list_of_arrays": lambda lib: lib.tensor([np.array([1, 2]), np.array([3, 4])]),
    "dtype_truncates": lambda lib: lib.tensor([1.5, -2.7], dtype=lib.int32),
    "dtype_0d": lambda lib: lib.tensor(3.7, dtype=lib.int64),
    "dtype_f64_exact": lambda lib: lib.tensor([0.1, 1e-300], dtype=lib.float64),
    "dtype_f16": lambda lib: lib.tensor([0.1, 65504.0], dtype=lib.float16),
    "dtype_bf16": lambda lib: lib.tensor([0.1, 3.0], dtype=lib.bfloat16),
    "dtype_uint8": lambda lib: lib.tensor([255, 3.5, -1, -255], dtype=lib.uint8),
    "dtype_uint8_array_wraps": lambda lib: lib.tensor(np.array([-1, 256]), dtype=lib.uint8),
    "dtype_bool": lambda lib: lib.tensor([0, 2, 0.5], dtype=lib.bool),
    "from_tensor": lambda lib: lib.tensor(lib.tensor([1, 2])),
    "scalar_tensor": lambda lib: lib.scalar_tensor(3),
    "big_ints": lambda lib: lib.tensor([2**62, -(2**63)]),
}


@pytest.mark.parametrize("name", sorted(TENSOR_CASES))
def test_tensor_matches_torch(name):
    got, want = both(TENSOR_CASES[name])
    assert_same(got, want)


@pytest.mark.parametrize("dtype", NUMPY_DTYPES, ids=lambda d: np.dtype(d).name)
def test_tensor_from_numpy_array_keeps_dtype(dtype):
    array = (np.arange(6).reshape(2, 3) % 3).astype(dtype)
    got, want = qilin.tensor(array), torch.tensor(array)
    assert_same(got, want)
    array[0, 0] = 1  # tensor() copies
    assert got[0, 0].item() == 0


def test_tensor_default_dtype_float64():
    qilin.set_default_dtype(qilin.float64)
    torch.set_default_dtype(torch.float64)
    try:
        assert_same(qilin.tensor([1.5, 2]), torch.tensor([1.5, 2]))
        assert_same(qilin.zeros(2), torch.zeros(2))
        assert_same(qilin.arange(0.0, 1.0, 0.25), torch.arange(0.0, 1.0, 0.25))
        assert_same(qilin.full((2,), 2.0), torch.full((2,), 2.0))
    finally:
        torch.set_default_dtype(torch.float32)


def test_tensor_requires_grad_and_copy():
    source = qilin.tensor([1.0, 2.0], requires_grad=True)
    assert source.requires_grad and source.is_leaf
    copy = qilin.tensor(source)
    assert not copy.requires_grad
    copy[0] = 5.0
    assert source[0].item() == 1.0
    with pytest.raises(RuntimeError, match="floating point"):
        qilin.tensor([1, 2], requires_grad=True)


RAGGED = [[[1, 2], [3]], [1, [2]], [[1, 2], 3], [[[1], [2, 3]]]]


@pytest.mark.parametrize("data", RAGGED, ids=str)
def test_tensor_ragged_lists_raise(data):
    with pytest.raises(ValueError, match="expected"):
        qilin.tensor(data)


def test_tensor_ragged_message_names_lengths():
    with pytest.raises(ValueError, match=r"expected sequence of length 2 at dim 1 \(got 1\)"):
        qilin.tensor([[1, 2], [3]])


def test_tensor_rejects_strings():
    with pytest.raises(TypeError, match="str"):
        qilin.tensor("abc")
    with pytest.raises(TypeError, match="dict"):
        qilin.tensor({1: 2})


# ----- as_tensor, asarray, from_numpy ----------------------------------------------------------
def test_as_tensor_shares_numpy_memory():
    array = np.arange(4.0)
    shared = qilin.as_tensor(array)
    array[0] = 10.0
    assert shared[0].item() == 10.0
    converted = qilin.as_tensor(array, dtype=qilin.float32)
    array[1] = 20.0
    assert converted[1].item() == 1.0
    assert qilin.as_tensor([1, 2]).dtype is qilin.int64


def test_as_tensor_returns_same_tensor():
    t = qilin.tensor([1.0, 2.0])
    assert qilin.as_tensor(t) is t
    assert qilin.as_tensor(t, dtype=qilin.float64).dtype is qilin.float64


def test_asarray_copy_modes():
    array = np.arange(3)
    shared = qilin.asarray(array)
    copied = qilin.asarray(array, copy=True)
    array[0] = 7
    assert shared[0].item() == 7 and copied[0].item() == 0
    with pytest.raises(ValueError, match="copy"):
        qilin.asarray(array, dtype=qilin.float32, copy=False)
    with pytest.raises(ValueError, match="copy"):
        qilin.asarray([1, 2], copy=False)
    t = qilin.asarray([1.0, 2.0], requires_grad=True)
    assert t.requires_grad
    assert_same(qilin.asarray([1, 2]), torch.asarray([1, 2]))


class _ArrayLike:
    """Something that is not an ndarray but offers one through __array__."""

    def __init__(self, array):
        self.array = array

    def __array__(self, dtype=None, copy=None):
        return self.array


def test_array_like_objects():
    array = np.arange(4, dtype=np.int32)
    assert_same(qilin.tensor(_ArrayLike(array)), torch.tensor(array))
    shared = qilin.asarray(_ArrayLike(array))
    array[0] = 9
    assert shared[0].item() == 9
    buffer = memoryview(np.array([1.5, 2.5]))
    assert_same(qilin.as_tensor(buffer), torch.as_tensor(np.asarray(buffer)))


def test_from_numpy_shares_memory_both_ways():
    array = np.zeros((2, 3), dtype=np.float32)
    t = qilin.from_numpy(array)
    array[0, 1] = 3.0
    assert t[0, 1].item() == 3.0
    t[1, 2] = 4.0
    assert array[1, 2] == 4.0
    t.add_(1.0)
    assert array[0, 0] == 1.0
    strided = np.arange(10.0)[::2]
    view = qilin.from_numpy(strided)
    assert view.tolist() == strided.tolist()


@pytest.mark.parametrize("dtype", NUMPY_DTYPES, ids=lambda d: np.dtype(d).name)
def test_from_numpy_dtypes(dtype):
    array = np.ones(3, dtype=dtype)
    assert_same(qilin.from_numpy(array), torch.from_numpy(array))


@pytest.mark.parametrize(
    "array",
    [np.array([1j]), np.array(["a"]), np.array([object()])],
    ids=["complex", "str", "object"],
)
def test_from_numpy_unsupported_dtype(array):
    with pytest.raises(TypeError, match="can't convert np.ndarray"):
        qilin.from_numpy(array)
    with pytest.raises(TypeError, match="expected np.ndarray"):
        qilin.from_numpy([1, 2])


# ----- filled tensors --------------------------------------------------------------------------
FILLED_CASES = {
    "zeros_varargs": lambda lib: lib.zeros(2, 3),
    "zeros_tuple": lambda lib: lib.zeros((2, 3)),
    "zeros_list": lambda lib: lib.zeros([2, 3]),
    "zeros_size": lambda lib: lib.zeros(lib.Size([2, 3])),
    "zeros_keyword": lambda lib: lib.zeros(size=(4,)),
    "zeros_0d": lambda lib: lib.zeros(()),
    "zeros_numpy_int": lambda lib: lib.zeros(np.int64(2)),
    "zeros_tensor_int": lambda lib: lib.zeros(lib.tensor(2)),
    "zeros_empty_dim": lambda lib: lib.zeros(3, 0),
    "zeros_dtype": lambda lib: lib.zeros(2, dtype=lib.int32),
    "ones_varargs": lambda lib: lib.ones(1, 2, 3),
    "ones_bool": lambda lib: lib.ones(2, dtype=lib.bool),
    "ones_f16": lambda lib: lib.ones([2], dtype=lib.float16),
    "full_bool": lambda lib: lib.full((2,), True),
    "full_int": lambda lib: lib.full((2, 2), 3),
    "full_float": lambda lib: lib.full([2], 3.5),
    "full_numpy_float": lambda lib: lib.full((2,), np.float32(1.5)),
    "full_tensor_int": lambda lib: lib.full((2,), lib.tensor(2)),
    "full_dtype": lambda lib: lib.full((2,), 7, dtype=lib.float64),
    "full_empty_size": lambda lib: lib.full((), 2.0),
    "full_inf": lambda lib: lib.full((2,), float("-inf")),
    "zeros_like": lambda lib: lib.zeros_like(lib.tensor([1, 2])),
    "zeros_like_dtype": lambda lib: lib.zeros_like(lib.tensor([1, 2]), dtype=lib.float32),
    "ones_like": lambda lib: lib.ones_like(lib.tensor([[1.0], [2.0]], dtype=lib.float64)),
    "full_like_truncates": lambda lib: lib.full_like(lib.tensor([1, 2]), 2.7),
    "full_like_uint8_wraps": lambda lib: lib.full_like(lib.tensor([1], dtype=lib.uint8), -1),
    "full_like_bool": lambda lib: lib.full_like(lib.tensor([1.0, 2.0]), True),
    "eye": lambda lib: lib.eye(3),
    "eye_rect": lambda lib: lib.eye(2, 3),
    "eye_tall": lambda lib: lib.eye(4, 2),
    "eye_int": lambda lib: lib.eye(3, dtype=lib.int64),
    "eye_zero": lambda lib: lib.eye(0),
    "tril_indices": lambda lib: lib.tril_indices(3, 4),
    "tril_indices_offset": lambda lib: lib.tril_indices(4, 3, -1),
    "triu_indices": lambda lib: lib.triu_indices(3, 3, 1),
}


@pytest.mark.parametrize("name", sorted(FILLED_CASES))
def test_filled_matches_torch(name):
    got, want = both(FILLED_CASES[name])
    assert_same(got, want)


@pytest.mark.parametrize("factory", ["zeros", "ones", "empty"])
def test_filled_shapes_and_flags(factory):
    make = getattr(qilin, factory)
    t = make(2, 3, requires_grad=True)
    assert tuple(t.shape) == (2, 3) and t.requires_grad and t.dtype is qilin.float32
    like = getattr(qilin, factory + "_like")(t)
    assert tuple(like.shape) == (2, 3) and not like.requires_grad
    assert like.untyped_storage_id() != t.untyped_storage_id()


def test_filled_out_argument():
    out = qilin.empty(2, 2)
    result = qilin.zeros(2, 2, out=out)
    assert result is out and out.tolist() == [[0.0, 0.0], [0.0, 0.0]]


ERROR_CASES = {
    "zeros_no_size": lambda lib: lib.zeros(),
    "zeros_negative": lambda lib: lib.zeros(2, -1),
    "zeros_float_size": lambda lib: lib.zeros(2.0),
    "zeros_tuple_and_int": lambda lib: lib.zeros((2,), 3),
    "full_int_size": lambda lib: lib.full(2, 3.0),
    "empty_negative": lambda lib: lib.empty(-1),
    "eye_negative": lambda lib: lib.eye(-1),
    "eye_negative_m": lambda lib: lib.eye(2, -3),
    "arange_zero_step": lambda lib: lib.arange(0, 5, 0),
    "arange_wrong_sign": lambda lib: lib.arange(0, 10, -1),
    "arange_wrong_sign_float": lambda lib: lib.arange(5.0, 1.0, 0.5),
    "arange_inf": lambda lib: lib.arange(0, float("inf")),
    "linspace_negative_steps": lambda lib: lib.linspace(0, 1, -1),
    "tensor_str": lambda lib: lib.tensor("a"),
    "legacy_float": lambda lib: lib.Tensor(3.5),
    "legacy_bool": lambda lib: lib.Tensor(True),
    "tensor_int_overflow": lambda lib: lib.tensor([-1, 256], dtype=lib.uint8),
    "tensor_float_overflow": lambda lib: lib.tensor([300.0], dtype=lib.uint8),
    "tensor_int32_overflow": lambda lib: lib.tensor([2**40], dtype=lib.int32),
}


@pytest.mark.parametrize("name", sorted(ERROR_CASES))
def test_errors_match_torch_kind(name):
    with pytest.raises(Exception) as torch_error:
        ERROR_CASES[name](torch)
    with pytest.raises(type(torch_error.value)) as qilin_error:
        ERROR_CASES[name](qilin)
    assert str(qilin_error.value), "errors must say what went wrong"


# ----- ranges ----------------------------------------------------------------------------------
RANGE_CASES = {
    "arange_int": lambda lib: lib.arange(5),
    "arange_start_end": lambda lib: lib.arange(2, 9),
    "arange_negative_step": lambda lib: lib.arange(10, 0, -3),
    "arange_float_end": lambda lib: lib.arange(5.0),
    "arange_float_step": lambda lib: lib.arange(0, 1, 0.1),
    "arange_float_step_count": lambda lib: lib.arange(1, 2.5, 0.5),
    "arange_float_negative": lambda lib: lib.arange(1.0, -1.0, -0.3),
    "arange_negative_start": lambda lib: lib.arange(-1.5, 3),
    "arange_float64": lambda lib: lib.arange(0, 1, 0.1, dtype=lib.float64),
    "arange_tiny_step": lambda lib: lib.arange(0, 1, 0.01),
    "arange_third": lambda lib: lib.arange(0, 1, 1 / 3),
    "arange_int_dtype_float_step": lambda lib: lib.arange(0, 5, 1.5, dtype=lib.int64),
    "arange_int_dtype_float_bounds": lambda lib: lib.arange(1.2, 5.7, dtype=lib.int64),
    "arange_float_dtype_int_args": lambda lib: lib.arange(4, dtype=lib.float32),
    "arange_tensor_end": lambda lib: lib.arange(lib.tensor(3)),
    "arange_numpy_end": lambda lib: lib.arange(np.int64(3)),
    "arange_numpy_float": lambda lib: lib.arange(np.float32(3)),
    "arange_empty": lambda lib: lib.arange(3, 3),
    "arange_keywords": lambda lib: lib.arange(start=1, end=4, step=2),
    "range_int": lambda lib: lib.range(1, 4),
    "range_step": lambda lib: lib.range(1, 4, 0.5),
    "range_dtype": lambda lib: lib.range(0, 3, dtype=lib.int64),
    "range_negative": lambda lib: lib.range(3, 0, -1),
    "linspace": lambda lib: lib.linspace(0, 1, 5),
    "linspace_negative": lambda lib: lib.linspace(2, -3, 7),
    "linspace_one": lambda lib: lib.linspace(0, 1, 1),
    "linspace_zero": lambda lib: lib.linspace(0, 1, 0),
    "linspace_int": lambda lib: lib.linspace(0, 10, 5, dtype=lib.int64),
    "linspace_f64": lambda lib: lib.linspace(-1, 1, 11, dtype=lib.float64),
    "linspace_tensor_bounds": lambda lib: lib.linspace(lib.tensor(0.0), lib.tensor(2.0), 3),
    "logspace": lambda lib: lib.logspace(0, 2, 3),
    "logspace_base2": lambda lib: lib.logspace(0, 4, 5, base=2),
    "logspace_negative": lambda lib: lib.logspace(-2, 1, 4, dtype=lib.float64),
}


@pytest.mark.parametrize("name", sorted(RANGE_CASES))
def test_ranges_match_torch(name):
    got, want = both(RANGE_CASES[name])
    assert_same(got, want, exact=not want.dtype.is_floating_point)


def test_float_arange_counts_like_torch():
    # Step counts for awkward float steps must agree exactly (they change shapes downstream).
    rng = np.random.default_rng(1)
    for _ in range(200):
        start, length, step = rng.uniform(-5, 5), rng.uniform(0, 10), rng.uniform(0.01, 1.5)
        start, end, step = round(start, 2), round(start + length, 2), round(step, 2)
        want = torch.arange(start, end, step)
        got = qilin.arange(start, end, step)
        assert tuple(got.shape) == tuple(want.shape), (start, end, step)


def test_range_is_deprecated():
    with pytest.warns(UserWarning, match="deprecated"):
        qilin.range(0, 3)


# ----- the legacy constructor and new_* methods ------------------------------------------------
LEGACY_CASES = {
    "list": lambda lib: lib.Tensor([1, 2]),
    "nested": lambda lib: lib.Tensor([[1, 2], [3, 4]]),
    "tuple": lambda lib: lib.Tensor((1, 2)),
    "numpy_int": lambda lib: lib.Tensor(np.array([1, 2])),
    "empty": lambda lib: lib.Tensor(),
}


@pytest.mark.parametrize("name", sorted(LEGACY_CASES))
def test_legacy_constructor(name):
    got, want = both(LEGACY_CASES[name])
    assert_same(got, want)


def test_legacy_constructor_sizes_and_alias():
    assert tuple(qilin.Tensor(2, 3).shape) == (2, 3)
    assert qilin.Tensor(2, 3).dtype is qilin.float32
    assert tuple(qilin.Tensor(qilin.Size([4, 1])).shape) == (4, 1)
    source = qilin.tensor([1.0, 2.0])
    alias = qilin.Tensor(source)
    alias[0] = 5.0
    assert source[0].item() == 5.0
    assert isinstance(qilin.tensor([1]), qilin.Tensor)


NEW_CASES = {
    "new_tensor_keeps_dtype": lambda lib: lib.tensor([1, 2]).new_tensor([1.5]),
    "new_tensor_dtype": lambda lib: lib.tensor([1, 2]).new_tensor([1.5], dtype=lib.float64),
    "new_zeros_varargs": lambda lib: lib.tensor([1, 2]).new_zeros(2, 3),
    "new_zeros_tuple": lambda lib: lib.tensor([1.0]).new_zeros((2, 3)),
    "new_ones_list": lambda lib: lib.tensor([1]).new_ones([2]),
    "new_ones_dtype": lambda lib: lib.tensor([1]).new_ones(2, dtype=lib.bool),
    "new_full_float_on_int": lambda lib: lib.tensor([1]).new_full((2,), 3.5),
    "new_full_int_on_float": lambda lib: lib.tensor([1.0]).new_full((2,), 3),
    "new_full_0d": lambda lib: lib.tensor([1.0]).new_full((), 3),
    "new_empty_shape": lambda lib: lib.tensor([1.0], dtype=lib.float64).new_empty(2, 2).fill_(0),
}


@pytest.mark.parametrize("name", sorted(NEW_CASES))
def test_new_methods(name):
    got, want = both(NEW_CASES[name])
    assert_same(got, want)


def test_new_methods_requires_grad():
    base = qilin.tensor([1.0])
    assert base.new_zeros(2, requires_grad=True).requires_grad
    assert not base.new_tensor([1.0]).requires_grad
