"""Specs for cdist (qilin/ops/distance.py) and the assembling composites (qilin/ops/combine.py):
block_diag, cartesian_prod, combinations. The NumPy references are written independently."""

import itertools

import numpy as np
import pytest

import qilin

from .harness import Arg, OpSpec, make_tests, torch

INF = float("inf")
DIFFERENCE = "donot_use_mm_for_euclid_dist"
MATMUL = "use_mm_for_euclid_dist"


def _cdist(x1, x2, p=2.0, compute_mode=None):
    diff = np.abs(x1[..., :, None, :] - x2[..., None, :, :])
    if p == 0:
        return (diff != 0).sum(-1).astype(x1.dtype)
    if p == INF:
        return diff.max(-1)
    return ((diff**p).sum(-1) ** (1 / p)).astype(x1.dtype)


def _block_diag(*blocks):
    blocks = [np.atleast_2d(b) if b.ndim < 2 else b for b in blocks]
    dtype = np.result_type(*blocks)
    out = np.zeros((sum(b.shape[0] for b in blocks), sum(b.shape[1] for b in blocks)), dtype)
    row = col = 0
    for b in blocks:
        out[row : row + b.shape[0], col : col + b.shape[1]] = b
        row, col = row + b.shape[0], col + b.shape[1]
    return out


def _combinations(x, r=2, with_replacement=False):
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    return np.array(list(pick(list(x), r)), dtype=x.dtype).reshape(-1, r)


def _cdist_spec(p, samples, **options):
    return OpSpec(
        "cdist",
        lambda lib, a, b, p, mode=DIFFERENCE: lib.cdist(a, b, p=p, compute_mode=mode),
        samples,
        ref=_cdist,
        name=f"cdist_p{p}",
        double=False,  # torch's _cdist_backward has no derivative
        **options,
    )


SPECS = [
    _cdist_spec(2.0, [(Arg((4, 3)), Arg((5, 3)), 2.0), (Arg((2, 3, 2)), Arg((1, 4, 2)), 2.0)]),
    # the default mode takes the difference form up to 25 rows a side
    _cdist_spec(2.0, [(Arg((25, 2)), Arg((3, 2)), 2.0, "use_mm_for_euclid_dist_if_necessary")]),
    _cdist_spec(1.0, [(Arg((4, 3)), Arg((5, 3)), 1.0), (Arg((2, 3, 2)), Arg((3, 2)), 1.0)]),
    _cdist_spec(3.0, [(Arg((4, 3)), Arg((5, 3)), 3.0), (Arg((2, 1, 3, 2)), Arg((3, 4, 2)), 3.0)]),
    _cdist_spec(0.5, [(Arg((3, 3)), Arg((4, 3)), 0.5)], fd_atol=1e-4),
    _cdist_spec(1.5, [(Arg((3, 3)), Arg((4, 3)), 1.5)]),
    _cdist_spec(INF, [(Arg((4, 3)), Arg((5, 3)), INF), (Arg((2, 3, 2)), Arg((3, 2)), INF)]),
    _cdist_spec(0.0, [(Arg((4, 3)), Arg((5, 3)), 0.0)]),
    OpSpec(
        "euclidean_dist",
        lambda lib, a, b, mode: lib.cdist(a, b, compute_mode=mode),
        [
            (Arg((4, 3)), Arg((5, 3)), MATMUL),
            (Arg((2, 3, 2)), Arg((1, 4, 2)), MATMUL),
            # past 25 rows on either side the default mode takes the matmul form, as torch
            (Arg((26, 2)), Arg((3, 2)), "use_mm_for_euclid_dist_if_necessary"),
            (Arg((2, 2)), Arg((30, 2)), "use_mm_for_euclid_dist_if_necessary"),
        ],
        ref=lambda a, b, mode: _cdist(a, b),
        atol=1e-4,  # the expansion loses digits to cancellation in float32
    ),
    OpSpec(
        "cat",
        lambda lib, a, b, c, d: lib.block_diag(a, b, c, d),
        [
            (Arg((2, 3)), Arg(()), Arg((3,)), Arg((0, 2))),
            (Arg((1, 1)), Arg((2, 2)), Arg((2,)), Arg((3, 1))),
        ],
        ref=_block_diag,
        name="block_diag",
    ),
    OpSpec(
        "cat",
        lambda lib, a, b: lib.block_diag(a, b),
        [(Arg((2, 2)), Arg((2,), "int"))],
        ref=_block_diag,
        name="block_diag_promotes",
    ),
    OpSpec(
        "cat",
        lambda lib, a, b, c: lib.cartesian_prod(a, b, c),
        [(Arg((2,)), Arg((3,)), Arg((2,))), (Arg((3,), "int"), Arg((2,), "int"), Arg((1,), "int"))],
        ref=lambda *xs: np.array(list(itertools.product(*xs))).reshape(-1, len(xs)),
        name="cartesian_prod",
    ),
    OpSpec(
        "cat",
        lambda lib, a: lib.cartesian_prod(a),
        [(Arg((3,)),)],
        ref=lambda a: a,
        name="cartesian_prod_one",
    ),
    OpSpec(
        "index",
        lambda lib, x, r, replace: lib.combinations(x, r, replace),
        [
            (Arg((4,)), 2, False),
            (Arg((4,)), 3, True),
            (Arg((3,)), 1, False),
            (Arg((2,)), 3, False),
            (Arg((5,), "int"), 2, True),
        ],
        ref=_combinations,
        name="combinations",
    ),
]

make_tests(SPECS, globals())


def _pair(lib, first, second, **kwargs):
    a = lib.tensor(first, requires_grad=True)
    b = lib.tensor(second, requires_grad=True)
    out = lib.cdist(a, b, **kwargs)
    weights = lib.tensor(np.arange(out.numel(), dtype=first.dtype).reshape(tuple(out.shape)) + 1)
    grads = lib.autograd.grad((out * weights).sum(), (a, b))
    return [out.detach().numpy()] + [g.numpy() for g in grads]


@pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, INF])
@pytest.mark.parametrize("mode", [DIFFERENCE, MATMUL])
def test_gradient_at_zero_distance_matches_torch(p, mode):
    # shared rows and shared coordinates: zero distances and zero differences. Small integer
    # coordinates keep the matmul expansion exact, so its zero distances are exactly 0 too.
    first = np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [3.0, 2.0, 1.0]])
    second = np.array([[1.0, 2.0, 0.0], [1.0, 0.0, 0.0], [3.0, 2.0, 5.0], [0.0, 0.0, 0.0]])
    for dtype in (np.float64, np.float32):
        ours = _pair(qilin, first.astype(dtype), second.astype(dtype), p=p, compute_mode=mode)
        theirs = _pair(torch, first.astype(dtype), second.astype(dtype), p=p, compute_mode=mode)
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o, t, rtol=1e-5, atol=1e-5)
            assert np.isfinite(o).all()


@pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
@pytest.mark.parametrize(
    "rows1,rows2,mode",
    [
        (25, 25, "use_mm_for_euclid_dist_if_necessary"),
        (26, 3, "use_mm_for_euclid_dist_if_necessary"),
        (3, 26, "use_mm_for_euclid_dist_if_necessary"),
        (3, 3, MATMUL),
        (30, 30, DIFFERENCE),
    ],
)
def test_matmul_form_is_chosen_by_torchs_rule(rows1, rows2, mode):
    def form(lib):
        a = lib.ones(rows1, 2, requires_grad=True)
        name = lib.cdist(a, lib.zeros(rows2, 2), compute_mode=mode).grad_fn.name()
        # torch's matmul form ends in a view of _euclidean_dist; the difference form is _cdist
        return "difference" if name == "CdistBackward0" else "matmul"

    assert form(qilin) == form(torch)
    # other p never take the matmul form
    a = qilin.ones(30, 2, requires_grad=True)
    assert qilin.cdist(a, a, p=1, compute_mode=MATMUL).grad_fn.name() == "CdistBackward0"


def test_cdist_handles_empty_inputs_like_torch():
    for shape1, shape2, p in [((0, 2), (3, 2), 2.0), ((2, 0), (3, 0), INF), ((30, 0), (3, 0), 2.0)]:
        ours = qilin.cdist(qilin.ones(*shape1), qilin.ones(*shape2), p=p)
        assert tuple(ours.shape) == (shape1[0], shape2[0])
        assert (ours.numpy() == 0).all()


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: qilin.cdist(qilin.ones(3), qilin.ones(3, 2)), RuntimeError, "X1 got: 1D"),
        (lambda: qilin.cdist(qilin.ones(3, 2), qilin.ones(3, 4)), RuntimeError, "X1: 2 X2: 4"),
        (
            lambda: qilin.cdist(qilin.ones(3, 2, dtype=qilin.long), qilin.ones(3, 2)),
            RuntimeError,
            "floating-point",
        ),
        (lambda: qilin.cdist(qilin.ones(3, 2), qilin.ones(3, 2), p=-1), RuntimeError, "non-neg"),
        (
            lambda: qilin.cdist(qilin.ones(3, 2), qilin.ones(3, 2, dtype=qilin.float64)),
            RuntimeError,
            "float32 but found float64",
        ),
        (
            lambda: qilin.cdist(qilin.ones(3, 2), qilin.ones(3, 2), compute_mode="x"),
            ValueError,
            "x is not a valid value for compute_mode",
        ),
        (
            lambda: qilin.cdist(qilin.ones(3, 2), qilin.ones(3, 2), compute_mode=None),
            ValueError,
            "None is not a valid value",
        ),
        (
            lambda: qilin.cdist(qilin.ones(2, 3, 2), qilin.ones(4, 3, 2)),
            RuntimeError,
            "cdist",
        ),
        (lambda: qilin.block_diag(qilin.ones(2, 2, 2)), RuntimeError, "Input 0 has 3 dim"),
        (lambda: qilin.cartesian_prod(qilin.ones(2, 2)), RuntimeError, r"shape \[2, 2\]"),
        (
            lambda: qilin.cartesian_prod(qilin.ones(2), qilin.arange(2)),
            RuntimeError,
            "same dtype",
        ),
        (lambda: qilin.combinations(qilin.ones(2, 2)), RuntimeError, "1D vector"),
        (lambda: qilin.combinations(qilin.arange(3), r=-1), RuntimeError, "got -1"),
    ],
)
def test_errors_say_what_was_given(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
def test_edge_cases_of_the_composites_match_torch():
    for call in (
        lambda lib: lib.block_diag(),
        lambda lib: lib.combinations(lib.arange(4), r=0),
        lambda lib: lib.combinations(lib.arange(4), r=5),
        lambda lib: lib.block_diag(lib.ones(2, 2, dtype=lib.float64), lib.ones(1)),
    ):
        ours, theirs = call(qilin), call(torch)
        assert tuple(ours.shape) == tuple(theirs.shape)
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
