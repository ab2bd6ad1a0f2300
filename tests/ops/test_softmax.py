"""Specs for softmax and log_softmax (fused kernels with their own vjps)."""

import numpy as np
import pytest

import qilin

from .harness import Arg, OpSpec, make_tests


def _softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def _log_softmax(x, dim):
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


SPECS = [
    OpSpec(
        "softmax",
        lambda lib, x, d: lib.softmax(x, d),
        [(Arg((3, 5)), 1), (Arg((2, 3, 4)), 0), (Arg((4,)), -1), (Arg(()), 0)],
        ref=_softmax,
    ),
    OpSpec(
        "log_softmax",
        lambda lib, x, d: lib.log_softmax(x, d),
        [(Arg((3, 5)), 1), (Arg((2, 3, 4)), -2), (Arg((6,)), 0)],
        ref=_log_softmax,
    ),
    OpSpec(
        "softmax",
        lambda lib, x: x.softmax(-1),
        [(Arg((2, 7), low=-30, high=30),)],
        ref=lambda x: _softmax(x, -1),
        name="softmax_method_wide_range",
    ),
    OpSpec(
        "softmax",
        lambda lib, x: qilin.ops.softmax.softmin(x, 1),
        [(Arg((3, 4)),)],
        ref=lambda x: _softmax(-x, 1),
        name="softmin",
        torch_call=lambda lib, x: lib.nn.functional.softmin(x, 1),
    ),
    OpSpec(
        "log_softmax",
        lambda lib, x: x.log_softmax(1, dtype=lib.float64),
        [(Arg((3, 4)),)],
        ref=lambda x: _log_softmax(x.astype(np.float64), 1),
        name="log_softmax_dtype",
        dtypes=("float32",),
    ),
]

make_tests(SPECS, globals())


def test_large_logits_are_stable_and_match_torch():
    torch = pytest.importorskip("torch")
    values = [[1000.0, 0.0, -1000.0], [-np.inf, 0.0, 1.0], [-np.inf, -np.inf, -np.inf]]
    for name in ("softmax", "log_softmax"):
        ours = getattr(qilin, name)(qilin.tensor(values), 1).numpy()
        theirs = getattr(torch, name)(torch.tensor(values), 1).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, equal_nan=True)


def test_softmax_needs_a_dim():
    with pytest.raises(TypeError, match="dim"):
        qilin.softmax(qilin.ones(3))
