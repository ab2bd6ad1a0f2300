"""Specs for Tensor.unfold and its backward (qilin/ops/windows.py), and its view semantics:
the windows share storage, version counter and `_base` with the tensor, as in torch."""

import numpy as np
import pytest

import qilin

from .harness import Arg, OpSpec, make_tests, torch


def _unfold(x, dimension, size, step):
    """Windows gathered one by one (an independent reference, not a strided view)."""
    if x.ndim == 0:
        return np.repeat(x[None], size)
    dimension %= x.ndim
    moved = np.moveaxis(x, dimension, -1)
    count = (moved.shape[-1] - size) // step + 1
    windows = np.stack([moved[..., i * step : i * step + size] for i in range(count)], -2)
    return np.moveaxis(windows, -2, dimension)


def _unfold_backward(g, shape, dimension, size, step):
    out = np.zeros(shape, dtype=g.dtype)
    moved = np.moveaxis(out, dimension, -1)  # a view of `out`
    windows = np.moveaxis(g, dimension, -2)
    for i in range(windows.shape[-2]):
        moved[..., i * step : i * step + size] += windows[..., i, :]
    return out


SPECS = [
    OpSpec(
        "unfold",
        lambda lib, x, d, size, step: x.unfold(d, size, step),
        [
            (Arg((7,)), 0, 3, 2),  # overlapping windows, a leftover element
            (Arg((2, 3, 4)), 2, 2, 1),  # overlapping
            (Arg((2, 5, 3)), 1, 2, 2),  # side by side
            (Arg((3, 4)), -2, 1, 3),  # gaps between windows
            (Arg((3, 4)), 1, 4, 1),  # one window, the whole dim
            (Arg((2, 3)), 1, 0, 1),  # empty windows
            (Arg(()), 0, 1, 1),  # a 0-d tensor is one element
        ],
        ref=_unfold,
    ),
    OpSpec(
        "unfold",
        lambda lib, x: x.t().unfold(0, 2, 1).unfold(1, 2, 2),
        [(Arg((3, 4)),)],
        ref=lambda x: _unfold(_unfold(x.T, 0, 2, 1), 1, 2, 2),
        name="unfold_of_strided",
    ),
    OpSpec(
        "unfold_backward",
        lambda lib, g, *a: qilin.ops.windows.UNFOLD_BACKWARD(
            g, shape=a[0], dimension=a[1], size=a[2], step=a[3]
        ),
        [
            (Arg((3, 3)), (7,), 0, 3, 2),
            (Arg((2, 3, 3, 2)), (2, 3, 4), 2, 2, 1),
            (Arg((2, 2, 3, 2)), (2, 5, 3), 1, 2, 2),
        ],
        ref=_unfold_backward,
        torch_call=lambda lib, g, *a: lib.ops.aten.unfold_backward(g, list(a[0]), *a[1:]),
    ),
]

make_tests(SPECS, globals())


def _layout(base, view) -> dict:
    return {
        "shape": tuple(view.shape),
        "stride": tuple(view.stride()),
        "storage_offset": view.storage_offset(),
        "contiguous": view.is_contiguous(),
        "pointer_offset": (view.data_ptr() - base.data_ptr()) // view.element_size(),
        "values": view.tolist(),
    }


def _observe(lib, make, write: bool) -> list:
    storage = lib.arange(30.0).clone()
    base = storage[:24].view(2, 3, 4)
    view = make(base)
    seen = [_layout(storage, view), view._base is storage, (storage._version, view._version)]
    base.add_(100.0)  # written through the base: the windows see it
    seen.append((view.tolist(), storage._version, view._version))
    if write:
        view.mul_(2.0)  # written through the windows: the base sees it
        seen.append((storage.tolist(), storage._version, view._version))
        view[0] = -1.0
        seen.append((storage.tolist(), storage._version, view._version))
    return seen


@pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
@pytest.mark.parametrize(
    "make,write",
    [
        (lambda x: x.unfold(2, 2, 2), True),  # side by side: writable as torch
        (lambda x: x.unfold(1, 1, 2), True),
        (lambda x: x.unfold(2, 3, 1), False),  # overlapping windows: read through
        (lambda x: x[:, 1:].unfold(2, 2, 2), True),
        (lambda x: x.transpose(0, 2).unfold(0, 2, 2), True),
        (lambda x: x.unfold(2, 2, 2).unfold(1, 2, 1), False),
    ],
)
def test_unfold_is_a_view_like_torch(make, write):
    assert _observe(qilin, make, write) == _observe(torch, make, write)


@pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
def test_in_place_write_through_windows_with_autograd_matches_torch():
    def run(lib):
        leaf = lib.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)
        base = leaf * 1.5
        windows = base.unfold(1, 2, 2)  # (3, 2, 2), side by side
        windows.mul_(windows.detach() + 2.0)
        windows[1, 0] = 0.0
        (base * lib.arange(12.0).reshape(3, 4)).sum().backward()
        return base.tolist(), leaf.grad.tolist()

    ours, theirs = run(qilin), run(torch)
    np.testing.assert_allclose(np.array(ours[0]), np.array(theirs[0]), rtol=1e-12)
    np.testing.assert_allclose(np.array(ours[1]), np.array(theirs[1]), rtol=1e-12)


@pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
def test_overlapping_windows_sum_their_gradients_like_torch():
    def run(lib):
        x = lib.tensor(np.arange(10.0), requires_grad=True)
        windows = x.unfold(0, 4, 1)  # each interior element sits in four windows
        weights = lib.arange(float(windows.numel())).reshape(tuple(windows.shape))
        (grad,) = lib.autograd.grad((windows**3 * weights).sum(), x, create_graph=True)
        # second order: through unfold_backward and unfold again
        (second,) = lib.autograd.grad((grad * grad).sum(), x)
        return grad.tolist(), second.tolist()

    ours, theirs = run(qilin), run(torch)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)


@pytest.mark.parametrize(
    "args,error,match",
    [
        ((2, 5, 1), RuntimeError, "maximum size for tensor at dimension 2 is 4 but size is 5"),
        ((2, 2, 0), RuntimeError, "step is 0 but must be > 0"),
        ((2, 2, -1), RuntimeError, "step is -1 but must be > 0"),
        ((3, 1, 1), IndexError, r"range of \[-3, 2\], but got 3"),
    ],
)
def test_unfold_errors_match_torch(args, error, match):
    with pytest.raises(error, match=match):
        qilin.zeros(2, 3, 4).unfold(*args)
    if torch is not None:
        with pytest.raises(error, match=match):
            torch.zeros(2, 3, 4).unfold(*args)
