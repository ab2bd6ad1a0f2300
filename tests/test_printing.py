"""repr(qilin tensor) reads exactly like torch's repr with 'torch' replaced by 'qilin'."""

from __future__ import annotations

import numpy as np
import pytest

import qilin

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _default_print_options():
    yield
    qilin.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")


def _normal(shape, scale=1.0, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


# Each case runs unchanged with lib=qilin and lib=torch.
CASES = {
    "mixed_signs": lambda lib: lib.tensor(_normal((2, 2))),
    "mixed_3d": lambda lib: lib.tensor(_normal((2, 3, 4))),
    "four_dims": lambda lib: lib.tensor(_normal((2, 1, 2, 3))),
    "positive": lambda lib: lib.tensor(np.abs(_normal((3, 2)))),
    "ints": lambda lib: lib.tensor([[1, -20, 3], [400, 5, 6]]),
    "int32": lambda lib: lib.tensor([1, 2], dtype=lib.int32),
    "uint8": lambda lib: lib.tensor([1, 255], dtype=lib.uint8),
    "int64_extremes": lambda lib: lib.tensor([2**62, -1]),
    "bools": lambda lib: lib.tensor([True, False, True]),
    "bools_all_true": lambda lib: lib.tensor([[True], [True]]),
    "scalar_float": lambda lib: lib.tensor(3.5),
    "scalar_int": lambda lib: lib.tensor(7),
    "scalar_negative": lambda lib: lib.tensor(-0.25),
    "scalar_bool": lambda lib: lib.tensor(True),
    "scalar_f64": lambda lib: lib.tensor(1.0 / 3, dtype=lib.float64),
    "empty": lambda lib: lib.tensor([]),
    "empty_2d": lambda lib: lib.tensor([[], []]),
    "empty_int": lambda lib: lib.tensor([], dtype=lib.int64),
    "empty_f64": lambda lib: lib.zeros(0, 3, dtype=lib.float64),
    "empty_bool_3d": lambda lib: lib.zeros(2, 0, 1, dtype=lib.bool),
    "integer_floats": lambda lib: lib.tensor([1.0, 2.0, 300.0]),
    "integer_floats_negative": lambda lib: lib.tensor([[-1.0, 2.0], [3.0, 4.0]]),
    "zeros": lambda lib: lib.zeros(2, 3),
    "negative_zero": lambda lib: lib.tensor([-0.0, 1.5]),
    "sci_large": lambda lib: lib.tensor([1e10, 1.0]),
    "sci_small": lambda lib: lib.tensor([1e-5, 1.0]),
    "sci_ratio": lambda lib: lib.tensor([0.001, 2.0]),
    "sci_integer_floats": lambda lib: lib.tensor([1e9, 1.0]),
    "sci_mixed_signs": lambda lib: lib.tensor([[-1e-6, 2.5], [3e7, -4.0]]),
    "tiny": lambda lib: lib.tensor([1e-30]),
    "huge": lambda lib: lib.tensor([3e38]),
    "rounds_up": lambda lib: lib.tensor([9.99996, 1.0]),
    "nan_inf": lambda lib: lib.tensor([float("nan"), float("inf"), -float("inf"), 1.5]),
    "nan_integer": lambda lib: lib.tensor([float("nan"), 2.0]),
    "only_nan": lambda lib: lib.tensor([float("nan")]),
    "only_inf": lambda lib: lib.tensor([float("-inf"), float("inf")]),
    "float64": lambda lib: lib.tensor([1.5, 2.25], dtype=lib.float64),
    "float64_matrix": lambda lib: lib.tensor([[0.1, 0.2], [0.3, 0.4]], dtype=lib.float64),
    "float16": lambda lib: lib.tensor([1.5, 2.1], dtype=lib.float16),
    "bfloat16": lambda lib: lib.tensor([1.5, 2.1, -3.3], dtype=lib.bfloat16),
    "wraps_line": lambda lib: lib.tensor(_normal(30)),
    "wraps_wide_numbers": lambda lib: lib.tensor(_normal((3, 25), 1000.0)),
    "ten_columns": lambda lib: lib.tensor(_normal((4, 10))),
    "long_ints": lambda lib: lib.arange(0, 100000, 3000),
    "summarised_1d": lambda lib: lib.arange(2000).float() / 7,
    "summarised_2d": lambda lib: lib.arange(10000).reshape(100, 100),
    "summarised_3d": lambda lib: (lib.arange(3000).reshape(10, 20, 15) % 13) - 6,
    "summarised_rows_only": lambda lib: lib.arange(3000.0).reshape(1000, 3),
    "summarised_bool": lambda lib: lib.arange(1500) % 3 == 0,
    "requires_grad": lambda lib: lib.tensor([1.0, 2.0], requires_grad=True),
    "requires_grad_f64": lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True),
    "grad_fn_mul": lambda lib: lib.tensor([1.0, 2.0], requires_grad=True) * 2,
    "grad_fn_add": lambda lib: lib.tensor([1.0, 2.0], requires_grad=True) + 1,
    "grad_fn_matrix": lambda lib: lib.tensor(_normal((8, 8)), requires_grad=True) * 2,
    "suffix_on_new_line": lambda lib: (
        lib.tensor(_normal(9), dtype=lib.float64, requires_grad=True) * 3
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_repr_matches_torch(name):
    want = repr(CASES[name](torch)).replace("torch", "qilin")
    got = repr(CASES[name](qilin))
    assert got == want, f"\nqilin:\n{got}\ntorch:\n{want}"
    assert str(CASES[name](qilin)) == want


def test_default_dtype_float64_hides_dtype():
    qilin.set_default_dtype(qilin.float64)
    torch.set_default_dtype(torch.float64)
    try:
        for build in (
            lambda lib: lib.tensor([1.5, 2.0]),
            lambda lib: lib.tensor([1.5], dtype=lib.float32),
            lambda lib: lib.tensor([], dtype=lib.float32),
        ):
            assert repr(build(qilin)) == repr(build(torch)).replace("torch", "qilin")
    finally:
        torch.set_default_dtype(torch.float32)


OPTIONS = [
    {"precision": 2},
    {"precision": 6},
    {"sci_mode": True},
    {"sci_mode": False},
    {"threshold": 5},
    {"threshold": 5, "edgeitems": 1},
    {"linewidth": 40},
    {"profile": "short"},
    {"profile": "full"},
]

OPTION_SUBJECTS = {
    "mixed": lambda lib: lib.tensor(_normal((3, 4), 10.0)),
    "small": lambda lib: lib.tensor([1e-5, 0.5, 2.0]),
    "ints": lambda lib: lib.arange(12).reshape(3, 4),
    "long": lambda lib: lib.arange(1200.0) / 3,
}


@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("subject", sorted(OPTION_SUBJECTS))
def test_print_options_match_torch(options, subject):
    qilin.set_printoptions(**options)
    torch.set_printoptions(**options)
    build = OPTION_SUBJECTS[subject]
    assert repr(build(qilin)) == repr(build(torch)).replace("torch", "qilin")


def test_printoptions_context_restores():
    from qilin.printing import get_printoptions, printoptions

    before = get_printoptions()
    with printoptions(precision=1):
        assert repr(qilin.tensor([1.25, 2.0])) == "tensor([1.2, 2.0])"
    assert get_printoptions() == before
    with pytest.raises(ValueError, match="profile"):
        qilin.set_printoptions(profile="huge")
