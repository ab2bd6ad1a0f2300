"""Specs for composite elementwise math (gradients come from the primitives)."""

import numpy as np

from .harness import Arg, OpSpec, make_tests

A = (3, 4)

SPECS = [
    OpSpec(
        "mul",
        lambda lib, x, a, b: lib.addcmul(x, a, b, value=0.5),
        [(Arg(A), Arg(A), Arg((4,)))],
        ref=lambda x, a, b: x + 0.5 * a * b,
        name="addcmul",
    ),
    OpSpec(
        "div",
        lambda lib, x, a, b: lib.addcdiv(x, a, b, value=-2),
        [(Arg(A), Arg(A), Arg(A, "positive"))],
        ref=lambda x, a, b: x - 2 * a / b,
        name="addcdiv",
    ),
    OpSpec(
        "log",
        lambda lib, x: lib.logit(x),
        [(Arg(A, low=0.1, high=0.9),)],
        ref=lambda x: np.log(x / (1 - x)),
        name="logit",
    ),
    OpSpec(
        "clamp",
        lambda lib, x: lib.logit(x, eps=0.2),
        [(Arg(A, low=0.25, high=0.75),)],
        ref=lambda x: np.log(x / (1 - x)),
        name="logit_eps",
    ),
    OpSpec("sin", lambda lib, x: lib.sinc(x), [(Arg(A),)], ref=np.sinc, name="sinc"),
    OpSpec(
        "logaddexp",
        lambda lib, x, y: lib.logaddexp2(x, y),
        [(Arg(A), Arg(A))],
        ref=np.logaddexp2,
        name="logaddexp2",
    ),
    OpSpec(
        "sub",
        lambda lib, x, n, d: lib.diff(x, n, d),
        [(Arg(A), 1, -1), (Arg(A), 2, 0), (Arg((2, 5, 3)), 3, 1)],
        ref=lambda x, n, d: np.diff(x, n, d),
        name="diff",
    ),
    OpSpec(
        "cat",
        lambda lib, x, a, b: lib.diff(x, dim=0, prepend=a, append=b),
        [(Arg(A), Arg((1, 4)), Arg((2, 4)))],
        ref=lambda x, a, b: np.diff(x, axis=0, prepend=a, append=b),
        name="diff_prepend_append",
    ),
    OpSpec(
        "sum",
        lambda lib, x, y, p: lib.dist(x, y, p),
        [(Arg(A), Arg((4,)), 2), (Arg(A), Arg(A), 1), (Arg(A), Arg(A), 3.5)],
        ref=lambda x, y, p: np.linalg.norm((x - y).ravel(), p),
        name="dist",
    ),
]

make_tests(SPECS, globals())


def test_heaviside_and_signbit_match_torch():
    import torch

    import qilin

    values = [-0.0, 0.0, -1.5, 2.0, float("nan"), float("-inf")]
    assert (
        qilin.signbit(qilin.tensor(values)).tolist() == torch.signbit(torch.tensor(values)).tolist()
    )
    x, v = [-1.0, 0.0, 2.0], [0.5, 0.25, 0.75]
    assert (
        qilin.heaviside(qilin.tensor(x), qilin.tensor(v)).tolist()
        == torch.heaviside(torch.tensor(x), torch.tensor(v)).tolist()
    )


def test_addcdiv_refuses_integer_division_like_torch():
    import pytest
    import torch

    import qilin

    for lib in (torch, qilin):
        ints = lib.tensor([4, 7])
        with pytest.raises(RuntimeError, match="Integer division with addcdiv"):
            lib.addcdiv(ints, ints, lib.tensor([2, 3]))
        # One floating divisor makes it a true division, which both accept.
        assert lib.addcdiv(ints.float(), ints, lib.tensor([2.0, 4.0])).tolist() == [6.0, 8.75]


def test_diff_of_bools_marks_changes_as_torch_does():
    import torch

    import qilin

    values = [True, False, False, True, True]
    ours = qilin.diff(qilin.tensor(values)).tolist()
    assert ours == torch.diff(torch.tensor(values)).tolist()
