"""Specs for indexing (qilin/ops/indexing.py): t[key], t[key] = v, gather/scatter and friends.

NumPy references follow torch's rules where they differ from NumPy's: an int next to an index
tensor is a plain select in torch (so `x[0, :, [1, 2]]` is `x[0][:, [1, 2]]`).
"""

import warnings

import numpy as np
import pytest

import qilin

from .harness import Arg, OpSpec, make_tests, torch

A = (3, 4)
B = (2, 3, 4)
NOGRAD = dict(grad=False, double=False)


def _index(n: int, shape=(), grad=False):
    return Arg(shape, f"index:{n}", grad=grad)


def _get(lib, x, key):
    return x[key]


def _set(lib, x, value, key):
    """y = x * 1; y[key] = value: gradients reach both the target and the value."""
    y = x * 1
    y[key] = value
    return y


def _set_ref(x, value, key):
    y = x.copy()
    y[key] = value
    return y


def _loop_scatter(x, dim, index, src, combine, include_self=True):
    """An independent reference: visit each index entry, combine src into x (torch's rule:
    entries that receive nothing keep their value; include_self=False starts from the src)."""
    out = x.copy()
    index = np.asarray(index)
    seen = {}
    for position in np.ndindex(*index.shape):
        target = list(position)
        target[dim] = index[position]
        target = tuple(target)
        value = src[position] if np.ndim(src) else src
        if target not in seen:
            seen[target] = [x[target]] if include_self else []
        seen[target].append(value)
    for target, values in seen.items():
        out[target] = combine(np.array(values, dtype=x.dtype))
    return out


def _scatter_ref(reduce, include_self=True):
    combine = {
        "set": lambda v: v[-1],
        "sum": np.sum,
        "prod": np.prod,
        "amax": np.max,
        "amin": np.min,
        "mean": np.mean,
    }[reduce]
    return lambda x, src, dim, index: _loop_scatter(x, dim, index, src, combine, include_self)


def _gather_ref(x, dim, index):
    dim %= x.ndim
    return np.take_along_axis(
        x[tuple(slice(0, s) if a != dim else slice(None) for a, s in enumerate(index.shape))],
        index,
        axis=dim,
    )


INDEX_A = [[2, 0, 1], [1, 1, 0]]  # (2, 3): entries < 3
SCATTER_INDEX = [[0, 3], [2, 2], [1, 0]]  # (3, 2) into dim 1 of (3, 4), with repeats
UNIQUE_INDEX = [[0, 3], [2, 1], [1, 0]]  # no repeated target in a row

SPECS = [
    # ----- basic keys: views -------------------------------------------------------------------
    OpSpec(
        "basic_index",
        _get,
        [
            (Arg(B), 1),
            (Arg(B), -1),
            (Arg(B), (0, -2)),
            (Arg(B), (1, 2, 3)),
            (Arg(B), (slice(None), slice(1, None, 2))),
            (Arg(B), (slice(None, None, 2), 0)),
            (Arg(B), (None, 0, None)),
            (Arg(B), (Ellipsis, 1)),
            (Arg(B), (0, Ellipsis, None)),
            (Arg(B), ()),
            (Arg(B), Ellipsis),
            (Arg(B), (slice(1, 10), slice(-10, 2))),
            (Arg(B), slice(2, 1)),
            (Arg(()), None),
            (Arg(()), Ellipsis),
            (Arg(()), ()),
            (Arg(A), (slice(-3, -1), slice(None, None, 3))),
        ],
        ref=lambda x, key: np.asarray(x[key]),
    ),
    OpSpec(
        "basic_index",
        lambda lib, x: x[lib.tensor(1), lib.tensor(-1) :],
        [(Arg(B),)],
        ref=lambda x: x[1, -1:],
        name="basic_index_tensor_ints",
    ),
    # ----- advanced keys: copies ---------------------------------------------------------------
    OpSpec(
        "index",
        lambda lib, x, i: x[i],
        [(Arg(B), _index(2, (5,))), (Arg(A), _index(3, (2, 2))), (Arg(A), _index(3, ()))],
        ref=lambda x, i: x[i],
    ),
    OpSpec(
        "index",
        lambda lib, x, i: x[:, i],
        [(Arg(B), _index(3, (2, 2)))],
        ref=lambda x, i: x[:, i],
        name="index_second_dim",
    ),
    OpSpec(
        "index",
        lambda lib, x, i, j: x[i, :, j],
        [(Arg(B), _index(2, (3,)), _index(4, (3,))), (Arg(B), _index(2, (2, 1)), _index(4, (3,)))],
        ref=lambda x, i, j: x[i, :, j],
        name="index_separated",
    ),
    OpSpec(
        "index",
        lambda lib, x, i, j: x[:, i, j],
        [(Arg(B), _index(3, (3,)), _index(4, (3,))), (Arg(B), _index(3, (2, 1)), _index(4, (2,)))],
        ref=lambda x, i, j: x[:, i, j],
        name="index_adjacent",
    ),
    OpSpec(
        "index",
        lambda lib, x, i: x[None, i, None, 1:],
        [(Arg(B), _index(2, (2,)))],
        ref=lambda x, i: x[None][:, i][:, :, None, 1:],
        name="index_with_none",
    ),
    OpSpec(
        "index",
        lambda lib, x, key: x[key],
        [
            (Arg(B), [1, 0, 1]),
            (Arg(B), [-1, -2]),
            (Arg(B), ([0, 1], [2, 0])),
            (Arg(B), (Ellipsis, [3, 0])),
            (Arg(B), [True, False]),
            (Arg(B), (slice(None), [])),
            (Arg(B), ([1], slice(None), [[0], [3]])),
        ],
        ref=lambda x, key: x[key],
        name="index_lists",
    ),
    OpSpec(
        "index",
        lambda lib, x, m: x[m],
        [(Arg(B), Arg(B, "bool")), (Arg(B), Arg((2, 3), "bool")), (Arg(B), Arg((2,), "bool"))],
        ref=lambda x, m: x[m],
        name="index_mask",
    ),
    OpSpec(
        "index",
        lambda lib, x, m: x[:, m],
        [(Arg(B), Arg((3, 4), "bool"))],
        ref=lambda x, m: x[:, m],
        name="index_mask_inner",
    ),
    OpSpec(
        "index",
        lambda lib, x: x[x > 0.5],
        [(Arg(A),)],
        ref=lambda x: x[x > 0.5],
        name="index_comparison_mask",
    ),
    # torch's rule: an int is a select, applied before the advanced step.
    OpSpec(
        "index",
        lambda lib, x: x[0, :, [1, 2]],
        [(Arg(B),)],
        ref=lambda x: x[0][:, [1, 2]],
        name="index_int_then_list",
    ),
    OpSpec(
        "index",
        lambda lib, x, i: x[i, 1],
        [(Arg(B), _index(2, (4,)))],
        ref=lambda x, i: x[:, 1][i],
        name="index_tensor_then_int",
    ),
    OpSpec(
        "index",
        lambda lib, x, i: x[1, i, 1:, None],
        [(Arg(B), _index(3, (2, 2)))],
        ref=lambda x, i: x[1][i][:, :, 1:, None],
        name="index_int_tensor_slice_none",
    ),
    OpSpec(
        "index",
        lambda lib, x, flag: x[flag],
        [(Arg(B), True), (Arg(B), False), (Arg(()), True)],
        ref=lambda x, flag: x[flag],
        name="index_bool_scalar",
    ),
    OpSpec(
        "index",
        lambda lib, x: x[lib.tensor(True), [0, 1]],
        [(Arg(B),)],
        ref=lambda x: x[None][[0], [0, 1]],
        name="index_bool_scalar_broadcast",
    ),
    OpSpec(
        "index",
        lambda lib, x: x[lib.tensor([2, 0], dtype=lib.int32)],
        [(Arg(A),)],
        ref=lambda x: x[[2, 0]],
        name="index_int32",
    ),
    # ----- writes ------------------------------------------------------------------------------
    OpSpec(
        "index_put",
        _set,
        [
            (Arg(B), 0.5, 1),
            (Arg(B), -1.0, (slice(None), slice(1, None, 2))),
            (Arg(B), Arg((4,)), 0),
            (Arg(B), Arg((3, 1)), (Ellipsis, slice(0, 2))),
            (Arg(B), Arg(()), (1, 2, 3)),
            (Arg(B), Arg((1, 1, 4)), 1),
            (Arg(()), Arg(()), ()),
            (Arg(B), Arg((2, 4)), ([1, 0], [2, 0])),
            (Arg(B), Arg((2, 3, 4)), ([1, 0],)),
            (Arg(B), Arg((3,)), ([0, 1, 1], [2, 0, 1], [3, 3, 0])),
            (Arg(B), Arg((2, 1)), (slice(None), [0, 2], 1)),
            (Arg(B), 2.0, (None, 1, True)),
        ],
        ref=_set_ref,
        name="setitem",
    ),
    OpSpec(
        "index_put",
        lambda lib, x, v, m: _set(lib, x, v, m),
        [(Arg(B), Arg(()), Arg(B, "bool")), (Arg(B), Arg((4,)), Arg((2, 3), "bool"))],
        ref=_set_ref,
        name="setitem_mask",
    ),
    OpSpec(
        "index_put",
        lambda lib, x, v: _set(lib, x, v, (0, slice(None), [1, 2])),
        [(Arg(B), Arg((3, 2))), (Arg(B), Arg((2,)))],
        ref=lambda x, v: _set_ref(x, v, (0, slice(None), slice(1, 3))),
        name="setitem_int_then_list",
    ),
    OpSpec(
        "index_put",
        lambda lib, x, v, i: lib.index_put(x, (i,), v, accumulate=True),
        [(Arg(A), Arg((5, 4)), _index(3, (5,))), (Arg(A), Arg(()), _index(3, (6,)))],
        ref=lambda x, v, i: (lambda out: (np.add.at(out, i, v), out)[1])(x.copy()),
        name="index_put_accumulate",
    ),
    OpSpec(
        "index_put",
        lambda lib, x, v: x.index_put((lib.tensor([2, 0]), lib.tensor([1, 3])), v),
        [(Arg(A), Arg((2,))), (Arg(A), Arg(()))],
        ref=lambda x, v: _set_ref(x, v, ([2, 0], [1, 3])),
        name="index_put_method",
    ),
    OpSpec(
        "index_put",
        lambda lib, x, v: (x * 1).index_put_((lib.tensor([1, 2]),), v, True),
        [(Arg(A), Arg((4,)))],
        ref=lambda x, v: (lambda out: (np.add.at(out, [1, 2], v), out)[1])(x.copy()),
        name="index_put_inplace",
    ),
    # ----- select / gather / scatter -----------------------------------------------------------
    OpSpec(
        "index",
        lambda lib, x, dim, i: lib.index_select(x, dim, i),
        [(Arg(B), 1, _index(3, (5,))), (Arg(B), -1, _index(4, (2,))), (Arg(A), 0, _index(3, ()))],
        ref=lambda x, dim, i: np.take(x, np.reshape(i, -1), axis=dim),
        name="index_select",
    ),
    OpSpec(
        "gather",
        lambda lib, x, dim, i: lib.gather(x, dim, i),
        [
            (Arg(A), 1, _index(4, (3, 6))),
            (Arg(A), 0, _index(3, (2, 4))),
            (Arg(B), -1, _index(4, (1, 2, 3))),
            (Arg(A), 1, _index(4, (2, 2))),
        ],
        ref=_gather_ref,
    ),
    OpSpec(
        "gather",
        lambda lib, x, i: x.gather(0, i),
        [(Arg((5,)), _index(5, (7,)))],
        ref=lambda x, i: x[i],
        name="gather_method",
    ),
    OpSpec(
        "scatter",
        lambda lib, x, src, dim, index: x.scatter(dim, lib.tensor(index), src),
        [
            (Arg(A), Arg((3, 2)), 1, UNIQUE_INDEX),
            (Arg(A), Arg((2, 4)), 0, [[2, 0, 1, 1], [0, 1, 0, 2]]),
        ],
        ref=_scatter_ref("set"),
    ),
    # torch's own backward fails when src is larger than index: checked against NumPy and
    # finite differences only.
    OpSpec(
        "scatter",
        lambda lib, x, src: x.scatter(1, lib.tensor(UNIQUE_INDEX), src),
        [(Arg(A), Arg((3, 5)))],
        ref=lambda x, src: _scatter_ref("set")(x, src, 1, UNIQUE_INDEX),
        torch=False,
        name="scatter_large_src",
    ),
    OpSpec(
        "scatter",
        lambda lib, x, value: lib.scatter(x, 1, lib.tensor(SCATTER_INDEX), value),
        [(Arg(A), 1.5), (Arg(A), -2.0)],
        ref=lambda x, value: _scatter_ref("set")(x, value, 1, SCATTER_INDEX),
        name="scatter_value",
    ),
    OpSpec(
        "scatter_add",
        lambda lib, x, src, dim, index: x.scatter_add(dim, lib.tensor(index), src),
        [
            (Arg(A), Arg((3, 2)), 1, SCATTER_INDEX),
            (Arg(A), Arg((2, 4)), 0, [[2, 0, 1, 1], [2, 2, 0, 2]]),
        ],
        ref=_scatter_ref("sum"),
    ),
    OpSpec(
        "scatter_add",
        lambda lib, x, src: x.scatter_add(1, lib.tensor(SCATTER_INDEX), src),
        [(Arg(A), Arg((3, 5)))],
        ref=lambda x, src: _scatter_ref("sum")(x, src, 1, SCATTER_INDEX),
        torch=False,
        name="scatter_add_large_src",
    ),
    OpSpec(
        "scatter_reduce",
        lambda lib, x, src, reduce: x.scatter(1, lib.tensor(SCATTER_INDEX), src, reduce=reduce),
        [(Arg(A), Arg((3, 2)), "add"), (Arg(A, "nonzero"), Arg((3, 2), "nonzero"), "multiply")],
        ref=lambda x, src, reduce: _scatter_ref("sum" if reduce == "add" else "prod")(
            x, src, 1, SCATTER_INDEX
        ),
        name="scatter_with_reduce",
        torch=False,
    ),
]

# scatter_reduce: every reduction, with and without the input's own values.
for _reduce in ("sum", "prod", "mean", "amax", "amin"):
    for _include in (True, False):
        SPECS.append(
            OpSpec(
                "scatter_reduce",
                lambda lib, x, src, reduce=_reduce, include=_include: lib.scatter_reduce(
                    x, 1, lib.tensor(SCATTER_INDEX), src, reduce, include_self=include
                ),
                [(Arg(A, "nonzero"), Arg((3, 2), "nonzero"))],
                ref=lambda x, src, reduce=_reduce, include=_include: _scatter_ref(reduce, include)(
                    x, src, 1, SCATTER_INDEX
                ),
                name=f"scatter_reduce_{_reduce}_{'self' if _include else 'noself'}",
            )
        )
SPECS.append(
    OpSpec(
        "scatter_reduce",
        lambda lib, x, src: x.scatter_reduce(1, lib.tensor(SCATTER_INDEX), src, "amax"),
        [(Arg(A), Arg((3, 3)))],
        ref=lambda x, src: _scatter_ref("amax")(x, src, 1, SCATTER_INDEX),
        torch=False,
        name="scatter_reduce_large_src",
    )
)

SPECS += [
    OpSpec(
        "scatter_reduce",
        lambda lib, x, src: x.scatter_reduce(0, lib.tensor([[0, 1, 0], [0, 1, 1]]), src, "mean"),
        [(Arg((2, 3), "int"), Arg((2, 3), "int"))],
        ref=lambda x, src: _loop_scatter(
            x, 0, [[0, 1, 0], [0, 1, 1]], src, lambda v: np.floor_divide(v.sum(), len(v))
        ),
        name="scatter_reduce_mean_int",
        **NOGRAD,
    ),
    # ----- index_* and masked_* ----------------------------------------------------------------
    OpSpec(
        "index_put",
        lambda lib, x, src, i: x.index_add(1, i, src, alpha=2),
        [(Arg(A), Arg((3, 6)), _index(4, (6,))), (Arg(A), Arg((3, 1)), _index(4, (1,)))],
        ref=lambda x, src, i: (lambda out: (np.add.at(out, (slice(None), i), 2 * src), out)[1])(
            x.copy()
        ),
        name="index_add",
    ),
    OpSpec(
        "index_put",
        lambda lib, x, src: lib.index_copy(x, 0, lib.tensor([2, 0]), src),
        [(Arg(A), Arg((2, 4)))],
        ref=lambda x, src: _set_ref(x, src, [2, 0]),
        name="index_copy",
    ),
    OpSpec(
        "index_put",
        lambda lib, x, value: x.index_fill(1, lib.tensor([0, 2]), value),
        [(Arg(A), -1.5), (Arg(A), Arg(()))],
        ref=lambda x, value: _set_ref(x, value, (slice(None), [0, 2])),
        name="index_fill",
    ),
    OpSpec(
        "where",
        lambda lib, x, m, value: x.masked_fill(m, value),
        [
            (Arg(A), Arg(A, "bool"), 0.5),
            (Arg(A), Arg((4,), "bool"), Arg(())),
            (Arg(A, "int"), Arg(A, "bool"), 3),
        ],
        ref=lambda x, m, value: np.where(m, np.asarray(value, x.dtype), x),
        name="masked_fill",
    ),
    OpSpec(
        "index",
        lambda lib, x, m: lib.masked_select(x, m),
        [(Arg(A), Arg(A, "bool")), (Arg(A), Arg((4,), "bool")), (Arg((4,)), Arg(A, "bool"))],
        ref=lambda x, m: np.broadcast_to(x, np.broadcast_shapes(x.shape, m.shape))[
            np.broadcast_to(m, np.broadcast_shapes(x.shape, m.shape))
        ],
        name="masked_select",
    ),
    OpSpec(
        "index_put",
        lambda lib, x, m, src: x.masked_scatter(m, src),
        [(Arg(A), Arg(A, "bool"), Arg((3, 5))), (Arg(A), Arg((4,), "bool"), Arg((12,)))],
        ref=lambda x, m, src: _set_ref(
            x, src.reshape(-1)[: np.broadcast_to(m, x.shape).sum()], np.broadcast_to(m, x.shape)
        ),
        name="masked_scatter",
    ),
    OpSpec(
        "index",
        lambda lib, x, i: lib.take(x, i),
        [(Arg(A), _index(12, (2, 3))), (Arg(B), _index(24, ()))],
        ref=lambda x, i: np.take(x, i),
        name="take",
    ),
    OpSpec(
        "index",
        lambda lib, x: x.take(lib.tensor([-1, 0, -12])),
        [(Arg(A),)],
        ref=lambda x: np.take(x, [-1, 0, -12]),
        name="take_negative",
    ),
    OpSpec(
        "gather",
        lambda lib, x, i, dim: lib.take_along_dim(x, i, dim),
        [
            (Arg(A), _index(4, (3, 2)), 1),
            (Arg(A), _index(4, (1, 5)), 1),
            (Arg(B), _index(2, (2, 1, 1)), 0),
            (Arg(A), _index(12, (5,)), None),
        ],
        ref=lambda x, i, dim: (
            np.take_along_axis(x, i, dim)
            if dim is not None
            else np.take_along_axis(x.reshape(-1), i, 0)
        ),
        name="take_along_dim",
    ),
    OpSpec(
        "nonzero",
        lambda lib, x: lib.nonzero(x > 0.5),
        [(Arg(A),), (Arg(()),), (Arg((0, 3)),)],
        ref=lambda x: np.argwhere(x > 0.5),
    ),
    OpSpec(
        "nonzero",
        lambda lib, x: x.nonzero(as_tuple=True),
        [(Arg(A, "int"),), (Arg(B, "bool"),)],
        ref=np.nonzero,
        name="nonzero_tuple",
    ),
    OpSpec(
        "nonzero",
        lambda lib, x: lib.nonzero(x, as_tuple=True),
        [(Arg((), "int"),)],
        ref=lambda x: (np.zeros(int(x != 0), np.int64),),
        name="nonzero_tuple_0d",
    ),
    OpSpec(
        "nonzero",
        lambda lib, x: lib.where(x > 0),
        [(Arg(B),)],
        ref=lambda x: np.nonzero(x > 0),
        name="where_condition",
    ),
    OpSpec(
        "nonzero",
        lambda lib, x: lib.argwhere(x),
        [(Arg(B, "int"),)],
        ref=np.argwhere,
        name="argwhere",
    ),
]

make_tests(SPECS, globals())


# ----- scatter_reduce with zeros and ties (the delicate gradients) ----------------------------
SCATTER_SOURCES = {
    "one_zero_each": np.array([[0.0, 2.0, 2.5], [5.0, 4.0, 0.0], [1.5, 2.0, 3.0]]),
    "two_zeros_together": np.array([[0.0, 2.0, 0.0], [5.0, 4.0, 0.0], [1.5, 2.0, 3.0]]),
}


@pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
@pytest.mark.parametrize("source", list(SCATTER_SOURCES))
@pytest.mark.parametrize("reduce", ["prod", "amax", "amin", "mean", "sum"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_gradients_with_zeros_and_ties(reduce, include_self, source):
    """First and second derivatives against torch, on inputs with zeros and tied values."""
    x = np.array([[0.0, 2.0, 3.0, 1.0], [4.0, 0.0, 5.0, 2.0], [1.5, 1.5, 0.0, 0.0]])
    if not include_self and reduce in ("amax", "amin"):
        # torch counts an excluded input that ties with the result when it splits the
        # gradient (so the shares no longer add up); keep the inputs away from such ties.
        x = x + 0.25
    src = SCATTER_SOURCES[source]
    index = [[0, 1, 0], [0, 1, 2], [0, 2, 2]]
    results = []
    for lib in (qilin, torch):
        a = lib.tensor(x, requires_grad=True)
        b = lib.tensor(src, requires_grad=True)
        out = a.scatter_reduce(1, lib.tensor(index), b, reduce, include_self=include_self)
        weights = lib.tensor(np.arange(12.0).reshape(3, 4) - 5, requires_grad=True)
        grads = lib.autograd.grad((out * weights).sum(), (a, b), create_graph=True)
        found = [out, *grads]
        try:
            found += lib.autograd.grad(
                sum((g * g).sum() for g in grads),
                (a, b, weights),
                allow_unused=True,
                materialize_grads=True,
            )
        except RuntimeError as error:  # torch: no double backward with two zeros together
            assert lib is torch and "Double backward is unsupported" in str(error)
        results.append([t.detach().numpy() for t in found])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


# ----- errors --------------------------------------------------------------------------------
def _errors(call):
    errors = []
    for lib in (qilin, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(Exception) as info:
                call(lib)
        errors.append(info.value)
    return errors


def _x(lib):
    return lib.arange(24.0).reshape(2, 3, 4)


ERRORS = [
    ("int_out_of_range", lambda lib: _x(lib)[2], "index 2 is out of bounds for dimension 0"),
    ("negative_out_of_range", lambda lib: _x(lib)[0, -4], "index -4 is out of bounds"),
    ("last_dim_out_of_range", lambda lib: _x(lib)[0, 0, 4], "index 4 is out of bounds"),
    ("too_many_indices", lambda lib: _x(lib)[0, 0, 0, 0], "too many indices"),
    ("zero_dim_int", lambda lib: lib.tensor(1.0)[0], "invalid index of a 0-dim tensor"),
    ("tensor_out_of_range", lambda lib: _x(lib)[lib.tensor([0, 5])], "index 5 is out of bounds"),
    ("tensor_negative", lambda lib: _x(lib)[:, lib.tensor([-4])], "index -4 is out of bounds"),
    ("list_out_of_range", lambda lib: _x(lib)[:, :, [1, 4]], "index 4 is out of bounds"),
    ("float_index", lambda lib: _x(lib)[lib.tensor([1.0])], "must be long, int, byte or bool"),
    ("mask_shape", lambda lib: _x(lib)[lib.tensor([True, False, True])], "shape of the mask"),
    ("negative_step", lambda lib: _x(lib)[::-1], "step must be greater than zero"),
    ("setitem_out_of_range", lambda lib: _x(lib).__setitem__(5, 1.0), "index 5 is out of bounds"),
    (
        "setitem_tensor_out_of_range",
        lambda lib: _x(lib).__setitem__(lib.tensor([7]), 1.0),
        "index 7 is out of bounds",
    ),
    ("setitem_shape", lambda lib: _x(lib).__setitem__(0, lib.ones(2)), "2"),
    (
        "gather_out_of_range",
        lambda lib: _x(lib).gather(2, lib.zeros(2, 3, 1, dtype=lib.long) + 4),
        "index 4 is out of bounds for dimension 2 with size 4",
    ),
    (
        "gather_negative",
        lambda lib: _x(lib).gather(2, lib.zeros(2, 3, 1, dtype=lib.long) - 1),
        "index -1 is out of bounds",
    ),
    (
        "gather_ndim",
        lambda lib: _x(lib).gather(0, lib.zeros(2, dtype=lib.long)),
        "same number of dimensions",
    ),
    (
        "scatter_out_of_range",
        lambda lib: lib.zeros(3, 5).scatter(1, lib.tensor([[5]]), 1.0),
        "index 5 is out of bounds for dimension 1 with size 5",
    ),
    (
        "scatter_add_out_of_range",
        lambda lib: lib.zeros(3, 5).scatter_add(1, lib.tensor([[7]]), lib.ones(1, 1)),
        "index 7 is out of bounds",
    ),
    (
        "scatter_dtype",
        lambda lib: lib.zeros(3, 5).scatter_add(
            1, lib.tensor([[1]]), lib.ones(1, 1, dtype=lib.float64)
        ),
        "dtype",
    ),
    ("index_select_out_of_range", lambda lib: _x(lib).index_select(1, lib.tensor([3])), "3"),
    (
        "index_add_out_of_range",
        lambda lib: lib.zeros(3, 5).index_add(1, lib.tensor([7]), lib.ones(3, 1)),
        "index 7 is out of bounds",
    ),
    (
        "index_add_source_shape",
        lambda lib: lib.zeros(3, 5).index_add(1, lib.tensor([1]), lib.ones(2, 1)),
        "source tensor shape must match self tensor shape",
    ),
    (
        "index_fill_out_of_range",
        lambda lib: lib.zeros(3, 5).index_fill(1, lib.tensor([7]), 1.0),
        "index 7 is out of bounds",
    ),
    (
        "index_copy_out_of_range",
        lambda lib: lib.zeros(3, 5).index_copy(1, lib.tensor([7]), lib.ones(3, 1)),
        "index 7 is out of bounds",
    ),
    (
        "index_put_out_of_range",
        lambda lib: lib.zeros(3, 5).index_put((lib.tensor([7]),), lib.tensor(1.0)),
        "index 7 is out of bounds",
    ),
    ("take_out_of_range", lambda lib: lib.take(_x(lib), lib.tensor([24])), "24"),
    (
        "masked_fill_mask_dtype",
        lambda lib: _x(lib).masked_fill(lib.ones(4, dtype=lib.long), 1.0),
        "only supports boolean masks",
    ),
    (
        "masked_select_mask_dtype",
        lambda lib: _x(lib).masked_select(lib.ones(4, dtype=lib.long)),
        "expected BoolTensor for mask",
    ),
    (
        "masked_scatter_source_small",
        lambda lib: lib.zeros(3, 5).masked_scatter(lib.ones(3, 5, dtype=lib.bool), lib.ones(3)),
        "Number of elements of source",
    ),
]


@pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
@pytest.mark.parametrize("call,fragment", [pytest.param(c, f, id=n) for n, c, f in ERRORS])
def test_errors_match_torch(call, fragment):
    ours, theirs = _errors(call)
    assert isinstance(ours, type(theirs)), f"{type(ours).__name__}: {ours} (torch: {theirs!r})"
    assert fragment in str(ours), f"{ours} / torch: {theirs}"


def test_out_of_range_indices_are_index_errors():
    """Every out-of-range index raises IndexError (and gather & co. also RuntimeError)."""
    x = qilin.zeros(3, 5)
    calls = [
        lambda: x[3],
        lambda: x[:, 5],
        lambda: x[qilin.tensor([3])],
        lambda: x[[0, -4]],
        lambda: x.gather(1, qilin.tensor([[5]])),
        lambda: x.index_select(0, qilin.tensor([3])),
        lambda: x.scatter(1, qilin.tensor([[9]]), 1.0),
        lambda: x.take(qilin.tensor([15])),
        lambda: x.index_fill(0, qilin.tensor([3]), 0.0),
        lambda: x.__setitem__(3, 0.0),
    ]
    for call in calls:
        with pytest.raises(IndexError, match="out of bounds"):
            call()


def test_uint8_mask_is_a_boolean_mask_with_a_warning():
    x = qilin.arange(6.0).reshape(2, 3)
    with pytest.warns(UserWarning, match="uint8"):
        picked = x[qilin.tensor([1, 0], dtype=qilin.uint8)]
    assert picked.tolist() == [[0.0, 1.0, 2.0]]


def test_getitem_results_are_views_or_copies_like_torch():
    x = qilin.arange(12.0).reshape(3, 4).clone()
    basic = x[1, ::2]
    advanced = x[[1, 2]]
    x[1, 0] = 100.0
    assert basic[0].item() == 100.0 and basic._base is x
    assert advanced[0, 0].item() == 4.0 and advanced._base is None
    assert x[1, 2].storage_offset() == 6 and x[1, 2].ndim == 0 and x[1, 2]._base is x


def test_setitem_autograd_through_target_and_value():
    for lib in (qilin, torch):
        a = lib.arange(12.0, dtype=lib.float64).reshape(3, 4).requires_grad_()
        v = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        b = a * 2
        b[:, 1] = v * 3
        b[[0, 2], 3] = 0.0
        (b * lib.arange(12.0, dtype=lib.float64).reshape(3, 4)).sum().backward()
        if lib is qilin:
            ours = (a.grad.numpy().copy(), v.grad.numpy().copy())
        else:
            np.testing.assert_allclose(ours[0], a.grad.numpy())
            np.testing.assert_allclose(ours[1], v.grad.numpy())


def test_setitem_into_a_constant_tensor_records_the_value():
    v = qilin.tensor([1.0, 2.0], requires_grad=True)
    y = qilin.zeros(3, 2)
    y[1] = v
    assert y.requires_grad and y.grad_fn is not None
    (y * qilin.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
    assert v.grad.tolist() == [3.0, 4.0]


def test_setitem_without_grad_writes_in_place_and_bumps_version():
    x = qilin.zeros(3, 4)
    row = x[1]
    data = x._data
    x[1, 2] = 5.0
    x[qilin.tensor([0, 2])] = qilin.tensor([1.0, 2.0, 3.0, 4.0])
    assert x._data is data and row[2].item() == 5.0
    assert x._version == row._version == 2
    assert x[2].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_setitem_on_a_leaf_that_requires_grad_raises():
    a = qilin.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        a[0] = 1.0
    with qilin.no_grad():
        a[0] = 1.0
    assert a.tolist() == [1.0, 0.0, 0.0]


def test_setitem_casts_the_value_to_the_target_dtype():
    x = qilin.zeros(3, dtype=qilin.int64)
    x[0] = 2.7
    x[1:] = qilin.tensor([1.9, -1.9])
    assert x.tolist() == [2, 1, -1] and x.dtype is qilin.int64
