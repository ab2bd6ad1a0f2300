"""Specs for einsum's sublist format, einsum(a, [0, 1], b, [1, 2], [0, 2]) (qilin/ops/linalg.py
translates it to the equation string); the references are NumPy's own sublist einsum."""

import numpy as np
import pytest

import qilin

from .harness import Arg, OpSpec, make_tests, torch

E = Ellipsis

SPECS = [
    OpSpec(
        "einsum",
        lambda lib, a, b: lib.einsum(a, [0, 1], b, [1, 2], [0, 2]),
        [(Arg((2, 3)), Arg((3, 4)))],
        ref=lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]),
        name="einsum_sublist_matmul",
    ),
    OpSpec(
        "einsum",
        lambda lib, a, b: lib.einsum(a, [0, 1], b, [1, 2]),
        [(Arg((2, 3)), Arg((3, 4)))],
        ref=lambda a, b: np.einsum(a, [0, 1], b, [1, 2]),
        name="einsum_sublist_implicit_output",
    ),
    OpSpec(
        "einsum",
        lambda lib, a, b: lib.einsum(a, [E, 0, 1], b, (1, 2), [E, 0, 2]),
        [(Arg((5, 2, 3)), Arg((3, 4))), (Arg((2, 1, 2, 3)), Arg((3, 2)))],
        ref=lambda a, b: np.einsum(a, [E, 0, 1], b, [1, 2], [E, 0, 2]),
        name="einsum_sublist_ellipsis",
    ),
    OpSpec(
        "einsum",
        # subscripts past 25 are lowercase letters; they sort after 0..25 in an implicit output
        lambda lib, a, b: lib.einsum(a, [30, 2], b, [2, 51, 0]),
        [(Arg((2, 3)), Arg((3, 4, 2)))],
        ref=lambda a, b: np.einsum(a, [30, 2], b, [2, 51, 0]),
        name="einsum_sublist_high_subscripts",
    ),
    OpSpec(
        "einsum",
        lambda lib, a: lib.einsum(a, [0, 1], [1]),
        [(Arg((3, 4)),)],
        ref=lambda a: np.einsum(a, [0, 1], [1]),
        name="einsum_sublist_one_operand",
    ),
]

make_tests(SPECS, globals())


@pytest.mark.parametrize("bad", [[0, 52], [0, -1], [0, "a"]])
def test_subscripts_outside_0_to_51_are_refused(bad):
    with pytest.raises(ValueError, match=r"valid range \[0, 52\)"):
        qilin.einsum(qilin.ones(2, 3), bad)
    if torch is not None and bad[1] != "a":
        with pytest.raises(ValueError, match=r"valid range \[0, 52\)"):
            torch.einsum(torch.ones(2, 3), bad)


def test_a_sublist_must_follow_each_operand():
    with pytest.raises(TypeError, match="list of subscripts"):
        qilin.einsum(qilin.ones(2, 3), qilin.ones(3))


def test_string_form_still_takes_a_list_of_operands():
    a, b = qilin.ones(2, 3), qilin.ones(3)
    assert qilin.einsum("ij,j->i", [a, b]).tolist() == [3.0, 3.0]
    assert qilin.einsum("ij,j->i", a, b).tolist() == [3.0, 3.0]
