"""Property tests (hypothesis) against NumPy: broadcasting, shape round trips, indexing.

Keys for indexing are drawn at random from ints, slices with steps, None, Ellipsis, integer
lists and boolean masks. NumPy is the reference wherever its rules are torch's; a key that mixes
ints with index lists follows torch's rule (ints are plain selects), checked against torch.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import qilin

try:
    import torch
except ImportError:
    torch = None

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "maximum": (lambda a, b: qilin.maximum(a, b), np.maximum),
    "gt": (lambda a, b: a > b, np.greater),
}


def _array(draw, shape, dtype=np.float64):
    elements = st.floats(-4, 4, allow_nan=False, width=64).filter(lambda v: abs(v) > 1e-3)
    return draw(hnp.arrays(dtype, shape, elements=elements))


# ----- broadcasting ------------------------------------------------------------------------------
@SETTINGS
@given(
    data=st.data(),
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
    name=st.sampled_from(sorted(BINARY)),
)
def test_binary_ops_broadcast_like_numpy(data, shapes, name):
    ours, reference = BINARY[name]
    a = _array(data.draw, shapes.input_shapes[0])
    b = _array(data.draw, shapes.input_shapes[1])
    result = ours(qilin.tensor(a), qilin.tensor(b))
    expected = reference(a, b)
    assert tuple(result.shape) == expected.shape == shapes.result_shape
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-12)


@SETTINGS
@given(
    data=st.data(),
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
)
def test_broadcast_gradients_sum_over_broadcast_dims(data, shapes):
    a = _array(data.draw, shapes.input_shapes[0])
    b = _array(data.draw, shapes.input_shapes[1])
    qa = qilin.tensor(a, requires_grad=True)
    qb = qilin.tensor(b, requires_grad=True)
    (qa * qb).sum().backward()
    # d/da sum(a * b) = b broadcast to the result, summed back over a's broadcast dims.
    full_b = np.broadcast_to(b, shapes.result_shape)
    lead = len(shapes.result_shape) - a.ndim
    expected = full_b.sum(axis=tuple(range(lead)))
    expected = expected.sum(
        axis=tuple(i for i, n in enumerate(a.shape) if n == 1), keepdims=True
    ).reshape(a.shape)
    assert tuple(qa.grad.shape) == a.shape and tuple(qb.grad.shape) == b.shape
    np.testing.assert_allclose(qa.grad.numpy(), expected, rtol=1e-12)


@SETTINGS
@given(
    shapes=st.lists(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3), min_size=2, max_size=3)
)
def test_incompatible_shapes_raise_like_numpy(shapes):
    try:
        expected = np.broadcast_shapes(*shapes)
    except ValueError:
        expected = None
    tensors = [qilin.zeros(s) for s in shapes]
    if expected is None:
        with pytest.raises(RuntimeError, match="broadcast"):
            qilin.broadcast_tensors(*tensors)
    else:
        assert all(tuple(t.shape) == expected for t in qilin.broadcast_tensors(*tensors))


# ----- shape round trips -------------------------------------------------------------------------
@SETTINGS
@given(data=st.data(), shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
def test_permute_and_inverse_round_trip(data, shape):
    array = _array(data.draw, shape)
    order = data.draw(st.permutations(range(len(shape))))
    x = qilin.tensor(array)
    permuted = x.permute(*order) if order else x.permute(())
    np.testing.assert_array_equal(permuted.numpy(), np.transpose(array, order))
    back = permuted.permute(*np.argsort(order).tolist()) if order else permuted
    np.testing.assert_array_equal(back.numpy(), array)
    assert tuple(back.stride()) == tuple(x.stride()) or 0 in shape or 1 in shape


@SETTINGS
@given(data=st.data(), shape=hnp.array_shapes(min_dims=2, max_dims=4, max_side=4))
def test_transpose_is_its_own_inverse(data, shape):
    array = _array(data.draw, shape)
    d0 = data.draw(st.integers(-len(shape), len(shape) - 1))
    d1 = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = qilin.tensor(array)
    y = x.transpose(d0, d1)
    np.testing.assert_array_equal(y.numpy(), np.swapaxes(array, d0, d1))
    np.testing.assert_array_equal(y.transpose(d0, d1).numpy(), array)


@st.composite
def _factorization(draw, shape):
    """A random shape with the same number of elements (with a -1 sometimes)."""
    numel = int(np.prod(shape))
    factors, rest = [], numel
    while rest > 1 and len(factors) < 4:
        divisors = [d for d in range(2, rest + 1) if rest % d == 0]
        factor = draw(st.sampled_from(divisors))
        factors.append(factor)
        rest //= factor
    if rest > 1:
        factors[-1] *= rest
    if numel == 0:
        factors = [0] + draw(st.lists(st.integers(1, 3), max_size=2))
    factors += [1] * draw(st.integers(0, 1))
    factors = draw(st.permutations(factors))
    if factors and numel and draw(st.booleans()):
        factors[draw(st.integers(0, len(factors) - 1))] = -1
    return tuple(factors)


@SETTINGS
@given(data=st.data(), shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
def test_reshape_round_trip_and_sharing(data, shape):
    array = _array(data.draw, shape)
    target = data.draw(_factorization(shape))
    transposed = data.draw(st.booleans()) and len(shape) >= 2
    x = qilin.tensor(array)
    source = x.transpose(0, 1) if transposed else x
    expected_source = np.swapaxes(array, 0, 1) if transposed else array
    y = source.reshape(target)
    np.testing.assert_array_equal(y.numpy(), expected_source.reshape(target))
    np.testing.assert_array_equal(y.reshape(source.shape).numpy(), expected_source)
    # a view exactly when NumPy can reshape without copying
    try:
        np.reshape(expected_source, target, copy=False)
        can_view = True
    except ValueError:
        can_view = False
    assert (y._base is not None) == can_view


@SETTINGS
@given(data=st.data(), shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))
def test_expand_round_trip_and_gradient(data, shape):
    array = _array(data.draw, shape)
    lead = data.draw(st.lists(st.integers(0, 3), max_size=2))
    target = tuple(lead) + tuple(
        data.draw(st.sampled_from([n, 3] if n == 1 else [n])) for n in shape
    )
    x = qilin.tensor(array, requires_grad=True)
    y = x.expand(*target) if target else x.expand(())
    np.testing.assert_array_equal(y.detach().numpy(), np.broadcast_to(array, target))
    weights = np.arange(int(np.prod(target))).reshape(target) % 5 - 2.0
    (y * qilin.tensor(weights)).sum().backward()
    expected = weights.sum(axis=tuple(range(len(lead)))) if lead else weights
    expected = expected.sum(
        axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True
    ).reshape(shape)
    np.testing.assert_allclose(x.grad.numpy(), expected)


@SETTINGS
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4))
def test_flatten_unflatten_squeeze_unsqueeze_round_trips(data, shape):
    array = _array(data.draw, shape)
    x = qilin.tensor(array)
    start = data.draw(st.integers(0, len(shape) - 1))
    end = data.draw(st.integers(start, len(shape) - 1))
    flat = x.flatten(start, end)
    np.testing.assert_array_equal(flat.unflatten(start, shape[start : end + 1]).numpy(), array)
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    np.testing.assert_array_equal(x.unsqueeze(dim).numpy(), np.expand_dims(array, dim))
    np.testing.assert_array_equal(x.unsqueeze(dim).squeeze(dim).numpy(), array)
    np.testing.assert_array_equal(x.squeeze().numpy(), np.squeeze(array))


# ----- indexing ----------------------------------------------------------------------------------
@st.composite
def _keys(draw, shape, mixed: bool):
    """A key for an array of `shape`. mixed=False: no ints alongside index lists (NumPy and
    torch agree on such keys)."""
    advanced = draw(st.sampled_from(["none", "lists", "mask"]))
    list_shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=3))
    parts, used_mask = [], False
    for size in shape[: draw(st.integers(0, len(shape)))]:
        choices = ["slice", "full"]
        if size:
            choices.append("int")
        if advanced == "lists" and size:
            choices.append("list")
        if advanced == "mask" and not used_mask:
            choices.append("mask")
        kind = draw(st.sampled_from(choices))
        if kind == "int":
            parts.append(draw(st.integers(-size, size - 1)))
        elif kind == "slice":
            bound = st.none() | st.integers(-size - 2, size + 2)
            parts.append(slice(draw(bound), draw(bound), draw(st.none() | st.integers(1, 3))))
        elif kind == "full":
            parts.append(slice(None))
        elif kind == "list":
            values = draw(hnp.arrays(np.int64, list_shape, elements=st.integers(-size, size - 1)))
            parts.append(values.tolist())
        else:
            parts.append(draw(hnp.arrays(np.bool_, (size,))).tolist() if size else [])
            used_mask = True
        if draw(st.integers(0, 4)) == 0:
            parts.append(None)
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), Ellipsis)
    has_arrays = any(isinstance(p, list) for p in parts)  # [] is an index list too
    if not mixed and has_arrays:
        parts = [
            slice(None) if isinstance(p, int) and not isinstance(p, bool) else p for p in parts
        ]
    return tuple(parts)


def _numpy_key(key):
    return tuple(
        np.asarray(p, dtype=bool if p and isinstance(p[0], bool) else np.int64)
        if isinstance(p, list)
        else p
        for p in key
    )


@SETTINGS
@given(data=st.data(), shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
def test_getitem_matches_numpy(data, shape):
    array = _array(data.draw, shape)
    key = data.draw(_keys(shape, mixed=False))
    try:
        expected = array[_numpy_key(key)]
    except IndexError:  # e.g. index lists that do not broadcast together
        with pytest.raises(IndexError):
            qilin.tensor(array)[key]
        return
    result = qilin.tensor(array)[key]
    assert tuple(result.shape) == np.shape(expected)
    np.testing.assert_array_equal(result.numpy(), expected)


@SETTINGS
@given(data=st.data(), shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
def test_setitem_matches_numpy(data, shape):
    array = _array(data.draw, shape)
    key = data.draw(_keys(shape, mixed=False))
    try:
        target_shape = array[_numpy_key(key)].shape
    except IndexError:
        return
    # a value of the indexed shape, or of a suffix of it (broadcast), or a scalar
    cut = data.draw(st.integers(0, len(target_shape)))
    value = _array(data.draw, target_shape[cut:])
    expected = array.copy()
    index = _numpy_key(key)
    repeated = any(isinstance(p, np.ndarray) and p.dtype != bool for p in index)
    if repeated:  # with repeated indices the last write wins in NumPy; make values agree
        value = np.full(value.shape, 1.5)
    expected[index] = value
    x = qilin.tensor(array.copy())
    x[key] = qilin.tensor(value) if value.ndim else float(value)
    np.testing.assert_array_equal(x.numpy(), expected)


@SETTINGS
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=4))
def test_getitem_gradient_is_index_put_accumulate(data, shape):
    array = _array(data.draw, shape)
    key = data.draw(_keys(shape, mixed=False))
    index = _numpy_key(key)
    try:
        picked_shape = array[index].shape
    except IndexError:
        return
    weights = _array(data.draw, picked_shape)
    x = qilin.tensor(array, requires_grad=True)
    (x[key] * qilin.tensor(weights)).sum().backward()
    expected = np.zeros_like(array)
    np.add.at(expected, index, weights)
    np.testing.assert_allclose(x.grad.numpy(), expected)


@pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
@SETTINGS
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
def test_mixed_int_and_list_keys_follow_torch(data, shape):
    array = _array(data.draw, shape)
    key = data.draw(_keys(shape, mixed=True))
    try:
        expected = torch.tensor(array)[key]
    except IndexError:
        with pytest.raises(IndexError):
            qilin.tensor(array)[key]
        return
    if expected.numel() == 0:
        # torch skips the bounds check when nothing is gathered; qilin checks every index.
        try:
            result = qilin.tensor(array)[key]
        except IndexError:
            return
    else:
        result = qilin.tensor(array)[key]
    assert tuple(result.shape) == tuple(expected.shape)
    np.testing.assert_array_equal(result.numpy(), expected.numpy())
    value = np.arange(expected.numel(), dtype=np.float64).reshape(tuple(expected.shape))
    ours, theirs = qilin.tensor(array), torch.tensor(array)
    try:
        theirs[key] = torch.tensor(value)
    except RuntimeError:  # torch refuses some overlapping writes; nothing to compare
        return
    ours[key] = qilin.tensor(value)
    if not _has_repeats(key):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def _has_repeats(key) -> bool:
    lists = [np.asarray(p) for p in key if isinstance(p, list) and p and not isinstance(p[0], bool)]
    return any(len(np.unique(a)) != a.size for a in lists) or len(lists) > 1
