"""Specs for sorting and searching (qilin/ops/sorting.py), plus ties, NaN and errors.

Float samples are random, so sort/topk/kthvalue/median see no ties and their gradients are well
defined; integer samples have many ties, for which only the stable order is specified.
"""

import math

import numpy as np
import pytest

import qilin

from .harness import Arg, OpSpec, make_tests, torch

A = (3, 4)
B = (2, 3, 5)
INTS = ("float32",)  # integer inputs do not depend on the float dtype


# ----- NumPy references ------------------------------------------------------------------------
def np_argsort(x, dim, descending=False):
    """Stable; descending keeps equal elements in their original order (as torch's stable)."""
    if x.ndim == 0:
        return np.zeros((), np.int64)
    if not descending:
        return np.argsort(x, axis=dim, kind="stable")
    size = x.shape[dim]
    return np.flip(size - 1 - np.argsort(np.flip(x, dim), axis=dim, kind="stable"), dim)


def np_sort(x, dim, descending=False):
    order = np_argsort(x, dim, descending)
    return (x.copy() if x.ndim == 0 else np.take_along_axis(x, order, dim)), order


def np_select(x, dim, position, keepdim):
    """(values, indices) of the element at sorted `position` along `dim` (an int or array)."""
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    dim %= x.ndim
    order = np.argsort(x, axis=dim, kind="stable")
    index = np.take_along_axis(
        order,
        np.broadcast_to(np.asarray(position), np.delete(x.shape, dim).tolist()).reshape(
            [1 if a == dim else s for a, s in enumerate(x.shape)]
        ),
        dim,
    )
    values = np.take_along_axis(x, index, dim)
    if not keepdim:
        values, index = values.squeeze(dim), index.squeeze(dim)
    return values, index


def np_topk(x, k, dim, largest):
    values, order = np_sort(x, dim, descending=largest)
    if x.ndim == 0:
        return values, order
    return np.take(values, range(k), dim), np.take(order, range(k), dim)


def np_nanmedian_along(x, dim, keepdim):
    count = np.sum(~np.isnan(x), axis=dim)
    return np_select(x, dim, np.maximum((count - 1) // 2, 0), keepdim)


def np_mode(x, dim, keepdim):
    """Smallest most frequent value; its last occurrence."""
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    moved = np.moveaxis(x, dim, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    values, indices = [], []
    for row in rows:
        uniques, counts = np.unique(row, return_counts=True)
        value = uniques[np.argmax(counts)]
        values.append(value)
        indices.append(np.nonzero(row == value)[0][-1])
    shape = moved.shape[:-1]
    values, indices = np.array(values, x.dtype).reshape(shape), np.array(indices).reshape(shape)
    if keepdim:
        values, indices = np.expand_dims(values, dim), np.expand_dims(indices, dim)
    return values, indices


def np_unique(x, inverse, counts, dim):
    values, index, count = np.unique(x, return_inverse=True, return_counts=True, axis=dim)
    index = index.reshape(x.shape if dim is None else (-1,))
    return (values,) + ((index,) if inverse else ()) + ((count,) if counts else ())


def np_unique_consecutive(x, dim):
    source = x.reshape(-1) if dim is None else np.moveaxis(x, dim, 0)
    keep = [i for i in range(len(source)) if i == 0 or not np.array_equal(source[i], source[i - 1])]
    starts = np.zeros(len(source), bool)
    starts[keep] = True
    values = np.moveaxis(source[keep], 0, 0 if dim is None else dim)
    inverse = (np.cumsum(starts) - 1).reshape(x.shape if dim is None else (-1,))
    return values, inverse, np.diff(keep + [len(source)])


def np_searchsorted(sequence, values, right):
    side = "right" if right else "left"
    if sequence.ndim == 1:
        return np.searchsorted(sequence, values, side=side)
    rows = sequence.reshape(-1, sequence.shape[-1])
    queries = np.asarray(values).reshape(len(rows), -1)
    return np.stack([np.searchsorted(r, q, side=side) for r, q in zip(rows, queries)]).reshape(
        np.shape(values)
    )


def np_histc(x, bins, low, high):
    if low == high:
        low, high = x.min(), x.max()
    return np.histogram(x, bins, range=(low, high))[0].astype(x.dtype)


def sorted_last(x):
    return np.sort(x, axis=-1)


SPECS = [
    # ----- sort / argsort / msort -------------------------------------------------------------
    OpSpec(
        "argsort",
        lambda lib, x, d, down: lib.sort(x, d, descending=down),
        [
            (Arg(B), -1, False),
            (Arg(B), 0, True),
            (Arg(A), 1, True),
            (Arg(()), 0, False),
            (Arg((0, 3)), 0, True),
            (Arg((2, 1)), 1, False),
        ],
        name="sort",
        ref=np_sort,
    ),
    OpSpec(
        "argsort",
        lambda lib, x, d, down: lib.sort(x, dim=d, descending=down, stable=True),
        [
            (Arg(A, "int"), 1, False),
            (Arg(A, "int"), 0, True),
            (Arg(B, "bool"), -1, True),
            (Arg(B, "bool"), 1, False),
        ],
        name="sort_stable_ties",
        ref=np_sort,
        dtypes=INTS,
    ),
    OpSpec(
        "argsort",
        lambda lib, x, d, down: lib.argsort(x, d, descending=down),
        [(Arg(B), -1, False), (Arg(B), 1, True), (Arg(()), 0, False)],
        ref=np_argsort,
    ),
    OpSpec(
        "argsort",
        lambda lib, x, down: x.argsort(dim=0, descending=down, stable=True),
        [(Arg(A, "int"), False), (Arg(A, "int"), True)],
        name="argsort_stable_ties",
        ref=lambda x, down: np_argsort(x, 0, down),
        dtypes=INTS,
    ),
    OpSpec(
        "argsort",
        lambda lib, x: lib.msort(x),
        [(Arg(A),), (Arg((5,)),)],
        name="msort",
        ref=lambda x: np.sort(x, axis=0),
    ),
    # ----- topk / kthvalue --------------------------------------------------------------------
    OpSpec(
        "argsort",
        lambda lib, x, k, d, largest: lib.topk(x, k, d, largest),
        [
            (Arg(B), 2, -1, True),
            (Arg(B), 1, 0, False),
            (Arg(A), 4, 1, True),
            (Arg(A), 0, 1, True),
            (Arg(()), 1, 0, False),
            (Arg(A), 3, -2, False),
        ],
        name="topk",
        ref=np_topk,
    ),
    OpSpec(
        "argsort",
        lambda lib, x: x.topk(2),
        [(Arg(A),)],
        name="topk_method",
        ref=lambda x: np_topk(x, 2, -1, True),
    ),
    OpSpec(
        "argsort",
        lambda lib, x, k, d, keep: lib.kthvalue(x, k, d, keepdim=keep),
        [
            (Arg(B), 2, -1, False),
            (Arg(B), 1, 0, True),
            (Arg(A), 4, 1, False),
            (Arg(()), 1, 0, False),
            (Arg(A), 3, -2, True),
        ],
        name="kthvalue",
        ref=lambda x, k, d, keep: np_select(x, d, k - 1, keep),
    ),
    # ----- median / nanmedian / mode ----------------------------------------------------------
    OpSpec(
        "median",
        lambda lib, x: lib.median(x),
        [(Arg(A),), (Arg((5,)),), (Arg(()),)],
        ref=lambda x: np.sort(x.reshape(-1))[(x.size - 1) // 2],
    ),
    OpSpec(
        "median",
        lambda lib, x: x.median(),
        [(Arg(A, "int"),)],
        name="median_int",
        ref=lambda x: np.sort(x.reshape(-1))[(x.size - 1) // 2],
        dtypes=INTS,
    ),
    OpSpec(
        "argsort",
        lambda lib, x, d, keep: lib.median(x, d, keepdim=keep),
        [
            (Arg(B), 1, False),
            (Arg(B), -1, True),
            (Arg(A), 0, False),
            (Arg(()), 0, False),
            (Arg((4, 0)), 0, False),
        ],
        name="median_dim",
        ref=lambda x, d, keep: np_select(x, d, (x.shape[d] - 1) // 2 if x.ndim else 0, keep),
    ),
    OpSpec(
        "median",
        lambda lib, x, m: lib.nanmedian(lib.where(m, x, float("nan"))),
        [(Arg(A), Arg(A, "bool")), (Arg((5,)), Arg((5,), "bool"))],
        name="nanmedian",
        ref=lambda x, m: np.sort(x[m])[(m.sum() - 1) // 2],
    ),
    OpSpec(
        "argsort",
        lambda lib, x, m, d, keep: lib.nanmedian(lib.where(m, x, float("nan")), d, keepdim=keep),
        [(Arg(A), Arg(A, "bool"), 1, False), (Arg((6, 3)), Arg((6, 3), "bool"), 0, True)],
        name="nanmedian_dim",
        ref=lambda x, m, d, keep: np_nanmedian_along(np.where(m, x, np.nan), d, keep),
    ),
    OpSpec(
        "mode",
        lambda lib, x, d, keep: lib.mode(x, d, keepdim=keep),
        [
            (Arg(A, "int"), 1, False),
            (Arg((4, 6), "int"), 0, True),
            (Arg(B, "int"), -1, False),
            (Arg((3, 8), "bool"), 1, False),
        ],
        name="mode_ties",
        ref=np_mode,
        dtypes=INTS,
    ),
    OpSpec(
        "mode",
        lambda lib, x, d, keep: x.mode(d, keep),
        [(Arg(A), 1, False), (Arg(B), 0, True), (Arg(()), 0, False)],
        ref=np_mode,
    ),
    # ----- unique -----------------------------------------------------------------------------
    OpSpec(
        "unique",
        lambda lib, x, inverse, counts, d: lib.unique(
            x, return_inverse=inverse, return_counts=counts, dim=d
        ),
        [
            (Arg((12,), "int"), False, False, None),
            (Arg(A, "int"), True, True, None),
            (Arg(A, "int"), True, False, None),
            (Arg((6, 2), "index:2"), True, True, 0),
            (Arg((2, 6), "index:2"), False, True, 1),
            (Arg((3, 4), "bool"), False, True, None),
            (Arg((), "int"), True, True, None),
        ],
        ref=np_unique,
        dtypes=INTS,
    ),
    OpSpec(
        "unique",
        lambda lib, x: x.unique(return_counts=True),
        [(Arg(A),)],
        name="unique_float",
        grad=False,
        ref=lambda x: np_unique(x, False, True, None),
    ),
    OpSpec(
        "unique_consecutive",
        lambda lib, x, d: lib.unique_consecutive(x, return_inverse=True, return_counts=True, dim=d),
        [
            (Arg((12,), "index:3"), None),
            (Arg(A, "index:2"), None),
            (Arg((6, 2), "index:2"), 0),
            (Arg((2, 8), "index:2"), -1),
            (Arg((0,), "int"), None),
        ],
        ref=np_unique_consecutive,
        dtypes=INTS,
    ),
    OpSpec(
        "unique_consecutive",
        lambda lib, x: lib.unique_consecutive(x),
        [(Arg((12,), "index:2"),)],
        name="unique_consecutive_values",
        ref=lambda x: np_unique_consecutive(x, None)[0],
        dtypes=INTS,
    ),
    # ----- searchsorted / bucketize -----------------------------------------------------------
    OpSpec(
        ("searchsorted", "argsort"),
        lambda lib, s, v, right: lib.searchsorted(lib.sort(s).values, v, right=right),
        [
            (Arg((7,)), Arg(A), False),
            (Arg((7,), "int"), Arg(A, "int"), True),
            (Arg((3, 6)), Arg((3, 4)), False),
            (Arg((2, 3, 6), "int"), Arg((2, 3, 2), "int"), True),
            (Arg((5,)), Arg(()), True),
        ],
        name="searchsorted",
        grad=False,
        ref=lambda s, v, right: np_searchsorted(sorted_last(s), v, right),
    ),
    OpSpec(
        ("searchsorted", "argsort"),
        lambda lib, s, v, side: lib.searchsorted(
            s, v, side=side, sorter=lib.argsort(s), out_int32=True
        ),
        [
            (Arg((8,), "int"), Arg((5,), "int"), "left"),
            (Arg((2, 8), "int"), Arg((2, 3), "int"), "right"),
        ],
        name="searchsorted_sorter_side",
        grad=False,
        dtypes=INTS,
        ref=lambda s, v, side: np_searchsorted(sorted_last(s), v, side == "right").astype(np.int32),
    ),
    OpSpec(
        "searchsorted",
        lambda lib, s, value: lib.searchsorted(lib.sort(s).values, value),
        [(Arg((6,)), 0.25), (Arg((6,), "int"), 2)],
        name="searchsorted_scalar",
        grad=False,
        ref=lambda s, value: np.searchsorted(np.sort(s), value),
    ),
    OpSpec(
        "searchsorted",
        lambda lib, x, b, right: lib.bucketize(x, lib.sort(b).values, right=right),
        [
            (Arg(A), Arg((5,)), False),
            (Arg(B, "int"), Arg((6,), "int"), True),
            (Arg(B, "int"), Arg((6,), "int"), False),
        ],
        name="bucketize",
        grad=False,
        ref=lambda x, b, right: np_searchsorted(np.sort(b), x, right),
    ),
    OpSpec(
        "searchsorted",
        lambda lib, b: lib.bucketize(3, lib.sort(b).values, out_int32=True),
        [(Arg((6,), "int"),)],
        name="bucketize_scalar",
        dtypes=INTS,
        ref=lambda b: np.searchsorted(np.sort(b), 3).astype(np.int32),
    ),
    # ----- counting ---------------------------------------------------------------------------
    OpSpec(
        "bincount",
        lambda lib, x, m: lib.bincount(x, minlength=m),
        [
            (Arg((10,), "index:5"), 0),
            (Arg((10,), "index:5"), 9),
            (Arg((0,), "index:1"), 3),
            (Arg((0,), "index:1"), 0),
        ],
        ref=lambda x, m: np.bincount(x, minlength=m),
        dtypes=INTS,
    ),
    OpSpec(
        "bincount",
        lambda lib, x, w, m: lib.bincount(x, w, m),
        [
            (Arg((10,), "index:5"), Arg((10,)), 0),
            (Arg((10,), "index:4"), Arg((10,)), 7),
            (Arg((6,), "index:3"), Arg((6,), "int"), 0),
        ],
        name="bincount_weights",
        grad=False,
        ref=lambda x, w, m: np.bincount(x, w, m).astype(
            w.dtype if w.dtype.kind == "f" else np.float64
        ),
    ),
    # torch has no derivative for bincount; qilin's (each weight gets its bin's gradient) is
    # checked against finite differences only.
    OpSpec(
        "bincount",
        lambda lib, x, w: lib.bincount(x, w),
        [(Arg((10,), "index:5"), Arg((10,)))],
        name="bincount_weights_grad",
        torch=False,
    ),
    OpSpec(
        "histc",
        lambda lib, x, bins, low, high: lib.histc(x, bins, low, high),
        [
            (Arg((20,)), 4, -1.0, 1.0),
            (Arg((4, 5)), 7, 0.0, 0.0),
            (Arg((30,)), 100, -3, 3),
            (Arg((3,), low=1.5, high=1.5), 4, 0, 0),
            (Arg((0,)), 3, 0, 1),
        ],
        ref=np_histc,
    ),
]

make_tests(SPECS, globals())


# ----- what specs cannot say ---------------------------------------------------------------------
needs_torch = pytest.mark.skipif(torch is None, reason="torch is the parity oracle")


def _both(function, array, grad=False):
    """function(lib, x) for qilin and torch; with grad, also d sum(out * weights) / dx."""
    results = []
    for lib in (qilin, torch):
        x = lib.tensor(array, requires_grad=grad)
        out = function(lib, x)
        outputs = [
            np.asarray(o.detach().numpy()) for o in (out if isinstance(out, tuple) else (out,))
        ]
        if grad:
            value = out[0] if isinstance(out, tuple) else out
            weights = lib.tensor(np.linspace(1.0, 2.0, value.numel()).reshape(tuple(value.shape)))
            (value * weights).sum().backward()
            outputs.append(x.grad.numpy())
        results.append(outputs)
    return results


def _assert_same(ours, theirs):
    for q, t in zip(ours, theirs):
        np.testing.assert_array_equal(q, t)


@needs_torch
def test_global_median_ties_share_the_gradient_like_torch():
    array = np.array([[2.0, 2.0, 2.0], [3.0, 1.0, 5.0]])  # lower median 2, held three times
    ours, theirs = _both(lambda lib, x: lib.median(x), array, grad=True)
    np.testing.assert_allclose(ours[1], theirs[1])
    np.testing.assert_allclose(ours[1][0], [1 / 3] * 3)


@needs_torch
def test_median_along_dim_picks_one_index_like_torch():
    array = np.array([[2.0, 2.0, 2.0, 3.0], [1.0, 0.0, 0.0, 1.0]])
    _assert_same(*_both(lambda lib, x: tuple(lib.median(x, 1)), array, grad=True))


@needs_torch
def test_nan_sorts_as_the_largest_value_like_torch():
    array = np.array([[1.0, np.nan, 0.0, 2.0], [np.nan, 3.0, np.nan, -1.0]])
    for function in (
        lambda lib, x: tuple(lib.sort(x, descending=True, stable=True)),
        lambda lib, x: tuple(lib.sort(x, stable=True)),
        lambda lib, x: tuple(lib.topk(x, 2)),
        lambda lib, x: tuple(lib.topk(x, 2, largest=False)),
        lambda lib, x: tuple(lib.median(x, 1)),
        lambda lib, x: tuple(lib.nanmedian(x, 1)),
        lambda lib, x: lib.median(x),
        lambda lib, x: lib.nanmedian(x),
    ):
        _assert_same(*_both(function, array))


@needs_torch
def test_nanmedian_of_an_all_nan_slice_like_torch():
    array = np.array([[np.nan, np.nan], [1.0, np.nan]])
    _assert_same(*_both(lambda lib, x: tuple(lib.nanmedian(x, 1)), array))
    assert math.isnan(qilin.nanmedian(qilin.tensor([math.nan])).item())


@needs_torch
def test_topk_unsorted_holds_the_same_elements():
    array = np.random.default_rng(0).standard_normal((3, 6))
    ours = qilin.topk(qilin.tensor(array), 3, sorted=False)
    theirs = torch.topk(torch.tensor(array), 3, sorted=False)
    np.testing.assert_array_equal(np.sort(ours.values.numpy()), np.sort(theirs.values.numpy()))
    np.testing.assert_array_equal(np.sort(ours.indices.numpy()), np.sort(theirs.indices.numpy()))


def test_sort_gradient_follows_the_permutation():
    x = qilin.tensor([3.0, 1.0, 2.0], requires_grad=True)
    values, indices = qilin.sort(x)
    (values * qilin.tensor([10.0, 20.0, 30.0])).sum().backward()
    assert indices.tolist() == [1, 2, 0]
    assert x.grad.tolist() == [30.0, 10.0, 20.0]


def test_errors_say_what_was_given():
    x = qilin.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="k out of range"):
        qilin.topk(x, 4)
    with pytest.raises(RuntimeError, match="k out of range"):
        qilin.kthvalue(x, 0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        qilin.sort(x, 1)
    with pytest.raises(RuntimeError, match="non-negative"):
        qilin.bincount(qilin.tensor([1, -1]))
    with pytest.raises(RuntimeError, match="1-d"):
        qilin.bincount(qilin.tensor([[1, 2]]))
    with pytest.raises(RuntimeError, match="same length"):
        qilin.bincount(qilin.tensor([1, 2]), qilin.tensor([1.0]))
    with pytest.raises(
        RuntimeError,
        match=r"boundaries tensor \[2, 5\] and input value tensor "
        r"\[3, 3\]",
    ):
        qilin.searchsorted(qilin.zeros(2, 5), qilin.zeros(3, 3))
    with pytest.raises(RuntimeError, match="opposites"):
        qilin.searchsorted(x, x, right=True, side="left")
    with pytest.raises(RuntimeError, match="1 dimension"):
        qilin.bucketize(x, qilin.zeros(2, 2))
    with pytest.raises(NotImplementedError, match="int64"):
        qilin.histc(qilin.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="bins must be > 0"):
        qilin.histc(x, bins=0)
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        qilin.histc(x, min=2, max=1)
    with pytest.raises(IndexError, match="non-zero size"):
        qilin.median(qilin.zeros(0, 3), 0)


def test_unique_results_are_not_differentiable():
    x = qilin.tensor([2.0, 1.0, 2.0], requires_grad=True)
    assert not qilin.unique(x).requires_grad
    assert not qilin.argsort(x).requires_grad
    assert qilin.sort(x).values.requires_grad
