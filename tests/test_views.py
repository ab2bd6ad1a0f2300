"""Views share storage with their base as in torch: the same sequence of operations is run on
qilin and on torch, and everything observable (values, shapes, strides, offsets, contiguity,
version counters, `_base`, data pointers) must agree."""

import numpy as np
import pytest

import qilin

torch = pytest.importorskip("torch")

# Each entry makes a view of `base` (a (2, 3, 4) tensor that owns its storage).
VIEWS = {
    "view": lambda lib, x: x.view(6, 4),
    "view_minus_one": lambda lib, x: x.view(-1),
    "view_as": lambda lib, x: x.view_as(lib.empty(4, 6)),
    "reshape": lambda lib, x: x.reshape(2, 12),
    "flatten": lambda lib, x: x.flatten(1),
    "unflatten": lambda lib, x: x.unflatten(2, (2, 2)),
    "transpose": lambda lib, x: x.transpose(0, 2),
    "swapaxes": lambda lib, x: x.swapaxes(1, 2),
    "mT": lambda lib, x: x.mT,
    "permute": lambda lib, x: x.permute(2, 0, 1),
    "movedim": lambda lib, x: x.movedim(0, -1),
    "slice": lambda lib, x: x[:, 1:, ::2],
    "slice_negative": lambda lib, x: x[-1, -2:],
    "int": lambda lib, x: x[1],
    "ints": lambda lib, x: x[1, 2],
    "none_ellipsis": lambda lib, x: x[None, ..., 1],
    "select": lambda lib, x: x.select(2, 3),
    "narrow": lambda lib, x: x.narrow(1, 1, 2),
    "squeeze": lambda lib, x: x[:1].squeeze(0),
    "squeeze_all": lambda lib, x: x[:1, :, 2:3].squeeze(),
    "unsqueeze": lambda lib, x: x.unsqueeze(1),
    "expand": lambda lib, x: x[:, :1].expand(2, 5, 4),
    "diagonal": lambda lib, x: x.diagonal(0, 1, 2),
    "diagonal_offset": lambda lib, x: x.diagonal(1, 2, 1),
    "unbind": lambda lib, x: x.unbind(1)[1],
    "split": lambda lib, x: x.split(2, dim=2)[1],
    "split_sections": lambda lib, x: x.split([1, 2], dim=1)[1],
    "chunk": lambda lib, x: x.chunk(3, dim=1)[2],
    "tensor_split": lambda lib, x: lib.tensor_split(x, [1, 3], dim=2)[1],
    "view_of_view": lambda lib, x: x[1].t()[1:],
    "detach": lambda lib, x: x.detach(),
    "contiguous_self": lambda lib, x: x.contiguous(),
    "atleast_3d": lambda lib, x: lib.atleast_3d(x),
    "real_T": lambda lib, x: x[0].T,
}

# Views that can be written through (an expanded view is read-only in both libraries).
WRITABLE = [name for name in VIEWS if name != "expand"]


def _base(lib):
    return lib.arange(24.0).reshape(2, 3, 4).clone()


def _strides(tensor) -> tuple:
    """Strides of the dims longer than 1: a size-1 dim's stride is never used to address
    memory, and NumPy and torch fill it in differently (torch from the op's history)."""
    return tuple(s if n > 1 else None for s, n in zip(tensor.stride(), tensor.shape))


def _layout(base, view) -> dict:
    return {
        "shape": tuple(view.shape),
        "stride": _strides(view),
        "storage_offset": view.storage_offset(),
        "contiguous": view.is_contiguous(),
        "pointer_offset": (view.data_ptr() - base.data_ptr()) // view.element_size(),
        "base_is_base": view._base is base or view is base,
        "values": view.tolist(),
    }


def _observe_view(lib, make, write: bool) -> list:
    base = _base(lib)
    view = make(lib, base)
    seen = [_layout(base, view), ("versions", base._version, view._version)]
    base.add_(100.0)  # written through the base: the view sees it
    seen.append(("after base add_", view.tolist(), base._version, view._version))
    base[0, 0, 0] = -1.0
    seen.append(("after base setitem", view.tolist(), base._version, view._version))
    if write:
        view.mul_(2.0)  # written through the view: the base sees it
        seen.append(("after view mul_", base.tolist(), base._version, view._version))
        view[...] = 7.0
        seen.append(("after view setitem", base.tolist(), base._version, view._version))
        view.zero_()
        seen.append(("after view zero_", base.tolist(), base._version, view._version))
    return seen


@pytest.mark.parametrize("name", list(VIEWS))
def test_view_shares_storage_like_torch(name):
    write = name in WRITABLE
    ours = _observe_view(qilin, VIEWS[name], write)
    theirs = _observe_view(torch, VIEWS[name], write)
    assert ours == theirs


@pytest.mark.parametrize("name", WRITABLE)
def test_setitem_through_a_view_like_torch(name):
    def run(lib):
        base = _base(lib)
        view = VIEWS[name](lib, base)
        view[(0,) * max(view.ndim - 1, 0)] = 5.0 if view.ndim else 5.0
        if view.ndim:
            view[view > 110] = -3.0  # a boolean mask, written in place through the view
        return base.tolist(), base._version, view._version

    assert run(qilin) == run(torch)


def test_writing_an_expanded_view_is_refused():
    x = qilin.zeros(3).expand(2, 3)
    with pytest.raises(RuntimeError, match="single memory location"):
        x.add_(1.0)


COPIES = {
    "reshape_copies": lambda lib, x: x.transpose(0, 1).reshape(-1),
    "flatten_copies": lambda lib, x: x.permute(2, 0, 1).flatten(),
    "contiguous_copies": lambda lib, x: x.transpose(0, 1).contiguous(),
    "clone": lambda lib, x: x.clone(),
    "advanced_index": lambda lib, x: x[[1, 0]],
    "mask": lambda lib, x: x[x > 5],
    "index_select": lambda lib, x: x.index_select(1, lib.tensor([2, 0])),
    "flip": lambda lib, x: x.flip(0),
    "roll": lambda lib, x: x.roll(1, 2),
    "cat": lambda lib, x: lib.cat([x, x]),
    "stack": lambda lib, x: lib.stack([x]),
    "repeat": lambda lib, x: x.repeat(1, 1, 2),
    "diag_2d": lambda lib, x: lib.diag(x[0]),
    "to_other_dtype": lambda lib, x: x.to(lib.float64),
}


@pytest.mark.parametrize("name", list(COPIES))
def test_copies_do_not_share_storage_like_torch(name):
    def run(lib):
        base = _base(lib)
        copy = COPIES[name](lib, base)
        before = copy.tolist()
        base.add_(1.0)
        return (
            copy.tolist() == before,
            copy._base is base,
            copy._version,
            _strides(copy),
            copy.is_contiguous(),
        )

    assert run(qilin) == run(torch)


def test_to_same_dtype_and_contiguous_return_self():
    for lib in (qilin, torch):
        x = lib.ones(2, 3)
        assert x.to(lib.float32) is x and x.contiguous() is x
        assert x.t().contiguous() is not x


def test_view_on_non_contiguous_raises_torch_error():
    for lib in (qilin, torch):
        x = lib.arange(12.0).reshape(3, 4)
        with pytest.raises(
            RuntimeError, match="view size is not compatible with input tensor's size and stride"
        ):
            x.t().view(12)
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            x[:, :3].view(9)
        assert x[:, ::2].view(6).tolist() == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]  # evenly spaced
        # splitting or merging dims that stay contiguous is allowed, as in torch
        assert tuple(x.t().view(2, 2, 3).shape) == (2, 2, 3)
        assert tuple(x[:, 1:3].view(3, 2, 1).shape) == (3, 2, 1)


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.ones(2, 3, 4),
        lambda lib: lib.ones(2, 3, 4).transpose(0, 2),
        lambda lib: lib.ones(2, 3, 4)[:, ::2],
        lambda lib: lib.ones(2, 3, 4)[..., :1],
        lambda lib: lib.ones(4, 1).expand(4, 5),
        lambda lib: lib.ones(3, 1, 4)[:, :, 1:],
        lambda lib: lib.ones(1, 3)[:, None],
        lambda lib: lib.ones(()),
        lambda lib: lib.ones(2, 0, 3),
        lambda lib: lib.ones(5)[1:2],
        lambda lib: lib.ones(2, 3, 4).permute(1, 0, 2)[:1],
    ],
)
def test_strides_and_contiguity_match_torch(make):
    ours, theirs = make(qilin), make(torch)
    assert _strides(ours) == _strides(theirs)
    assert ours.is_contiguous() == theirs.is_contiguous()
    assert ours.storage_offset() == theirs.storage_offset()
    for dim in range(ours.ndim):
        if ours.shape[dim] > 1:
            assert ours.stride(dim) == theirs.stride(dim)


def test_version_counter_is_shared_and_bumps_once_per_inplace_op():
    def run(lib):
        x = lib.zeros(3, 4)
        versions = [x._version]
        row = x[1]
        col = x[:, 2]
        for step in (
            lambda: x.add_(1),
            lambda: row.mul_(2),
            lambda: col.zero_(),
            lambda: x.__setitem__(0, 3.0),
            lambda: row.fill_(5.0),
            lambda: x.copy_(lib.ones(3, 4)),
            lambda: x.t().sub_(1),
        ):
            step()
            versions.append((x._version, row._version, col._version))
        out_of_place = x + 1  # does not bump
        versions.append((x._version, out_of_place._version))
        return versions

    assert run(qilin) == run(torch)


def test_stale_saved_tensor_is_caught_after_writing_through_a_view():
    for lib in (qilin, torch):
        w = lib.ones(3, requires_grad=True)
        x = lib.arange(3.0) * 1
        y = (w * x).sum()  # saves x for the gradient of w
        x[:2].add_(1.0)  # x changed through a view: its version moved on
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_data_pointers_relate_like_torch():
    def run(lib):
        x = lib.arange(24.0).reshape(4, 6).clone()
        size = x.element_size()
        return [
            (v.data_ptr() - x.data_ptr()) // size
            for v in (x[1], x[:, 3], x[2:, 4:], x.t()[5], x.view(-1)[7:], x.diagonal(2))
        ]

    assert run(qilin) == run(torch)


def test_base_is_the_root_tensor():
    for lib in (qilin, torch):
        root = lib.zeros(4, 4)
        first = root[1:]
        second = first.t()[0]
        assert root._base is None and first._base is root and second._base is root
        assert root.clone()._base is None and root[[0, 1]]._base is None


def test_views_of_numpy_diagonal_are_writable():
    x = qilin.zeros(3, 3)
    x.diagonal().fill_(2.0)
    x.diagonal(1)[0] = 5.0
    np.testing.assert_array_equal(x.numpy(), np.array([[2, 5, 0], [0, 2, 0], [0, 0, 2.0]]))


def test_in_place_ops_on_views_with_autograd_history_match_torch():
    """A view of a non-leaf that is written in place: gradients flow to the written value."""

    def run(lib):
        v = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        x = lib.zeros(2, 3, dtype=lib.float64)
        x[:, 1] = v * 3  # x takes history from v
        (x * lib.arange(6.0, dtype=lib.float64).reshape(2, 3)).sum().backward()
        return v.grad.tolist()

    assert run(qilin) == run(torch)
