"""Run the same autograd code with qilin and with torch and compare what comes out.

A check is a function `fn(lib)` written against the torch surface; `parity(fn)` calls it with
`lib=qilin` and `lib=torch` and compares the (nested) results: tensors by value, shape and
dtype, None as None, numbers as numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

import qilin

torch = pytest.importorskip("torch")

LIBS = (qilin, torch)


def values(lib, data, requires_grad=False, dtype="float64"):
    """A tensor from a nested list / array, in `lib`."""
    return lib.tensor(np.asarray(data, dtype=dtype), requires_grad=requires_grad)


def random(lib, shape, seed=0, requires_grad=True, low=-1.5, high=1.5):
    """The same float64 random tensor in both libraries (seeded NumPy, not the libs' RNG)."""
    data = np.random.default_rng(seed).uniform(low, high, shape)
    return lib.tensor(data, requires_grad=requires_grad)


def to_plain(value):
    """Nested results -> NumPy arrays / Python values, tagging tensors with their dtype name."""
    if isinstance(value, (qilin.Tensor, torch.Tensor)):
        return ("tensor", str(value.dtype).split(".")[-1], value.detach().cpu().numpy().copy())
    if isinstance(value, (tuple, list)):
        return tuple(to_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (torch.Size, qilin.Size)):
        return tuple(value)
    if isinstance(value, (torch.dtype, qilin.dtype)):
        return ("dtype", str(value).split(".")[-1])
    return value


def assert_same(mine, theirs, rtol=1e-7, atol=1e-9, path="result"):
    if isinstance(theirs, tuple) and theirs and theirs[0] == "tensor":
        assert isinstance(mine, tuple) and mine and mine[0] == "tensor", (
            f"{path}: torch gave a tensor, qilin gave {mine!r}"
        )
        assert mine[1] == theirs[1], f"{path}: dtype {mine[1]} != torch's {theirs[1]}"
        assert mine[2].shape == theirs[2].shape, (
            f"{path}: shape {mine[2].shape} != torch's {theirs[2].shape}"
        )
        np.testing.assert_allclose(mine[2], theirs[2], rtol=rtol, atol=atol, err_msg=path)
    elif isinstance(theirs, tuple):
        assert isinstance(mine, tuple) and len(mine) == len(theirs), (
            f"{path}: {mine!r} vs torch's {theirs!r}"
        )
        for index, (a, b) in enumerate(zip(mine, theirs)):
            assert_same(a, b, rtol, atol, f"{path}[{index}]")
    elif isinstance(theirs, dict):
        assert isinstance(mine, dict) and set(mine) == set(theirs), f"{path}: keys differ"
        for key in theirs:
            assert_same(mine[key], theirs[key], rtol, atol, f"{path}[{key!r}]")
    elif isinstance(theirs, float):
        assert mine == pytest.approx(theirs, rel=rtol, abs=atol), f"{path}: {mine} != {theirs}"
    else:
        assert mine == theirs, f"{path}: {mine!r} != torch's {theirs!r}"


def parity(fn, rtol=1e-7, atol=1e-9):
    """Run `fn(lib)` in both libraries and assert the results agree; returns qilin's."""
    theirs = fn(torch)
    mine = fn(qilin)
    assert_same(to_plain(mine), to_plain(theirs), rtol, atol)
    return mine


def raises_both(fn, exception, match):
    """`fn(lib)` raises `exception` matching `match` in torch and in qilin."""
    for lib in (torch, qilin):
        with pytest.raises(exception, match=match):
            fn(lib)
