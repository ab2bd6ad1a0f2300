"""Autograd for in-place writes through views (torch's CopySlices).

A view records how it was made from its root tensor: a chain of view ops (`Tensor._view`, set by
the dispatcher). When an op writes in place into a view, the root's history becomes

    root_new = root_old * keep + scatter(result)        keep: 0 inside the view, 1 outside

so the root's gradient flows to its old history outside the written region and to the in-place
result inside it; the view itself is then re-derived from the new root by replaying the chain.
A view whose root changed since its history was set is re-derived the same way before it is
used (`refresh`), so `x[0].mul_(2)` is seen by an older view `x[:, 0]`, as in torch.
"""

from __future__ import annotations

from ..tensor import Tensor
from . import grad_mode
from .graph import Node, edge_of, set_history

__all__ = ["write_back", "before_write", "refresh", "replay", "overwrite"]


def replay(chain: tuple, tensor: Tensor) -> Tensor:
    """Apply a view chain ((op, extra_args, attrs, output_index), ...) to `tensor`."""
    for op, extra, attrs, index in chain:
        tensor = op(tensor, *extra, **attrs)
        if index is not None:
            tensor = tensor[index]
    return tensor


def _same_memory(a: Tensor, b: Tensor) -> bool:
    return (
        a.data_ptr() == b.data_ptr()
        and a._data.strides == b._data.strides
        and a._data.shape == b._data.shape
    )


class _CopySlices:
    """Stands in for an op record on the node that writes a view's result into its root."""

    name = "copy_slices"
    backward_name = "CopySlices"
    save_inputs = False
    save_outputs = False
    nondiff_outputs = frozenset()

    @staticmethod
    def vjp(node, grad):
        keep, chain = node.attrs["keep"], node.attrs["chain"]
        grad_root = grad * keep if node.needs_grad[0] else None
        grad_result = None
        if node.needs_grad[1]:
            # View ops such as `view` need a layout they can view; the incoming grad may be an
            # expanded broadcast.
            grad_result = replay(chain, grad.contiguous())
        return grad_root, grad_result


COPY_SLICES = _CopySlices()


class _Overwritten:
    """Stands in for an op record on the node of a tensor overwritten with constants
    (`y.zero_()`, `y.fill_(1)`): as in torch it stays in the graph, and its history gets zeros."""

    name = "overwrite"
    save_inputs = False
    save_outputs = False
    nondiff_outputs = frozenset()

    def __init__(self, name: str):
        self.backward_name = "".join(part.title() for part in name.split("_")) + "Backward0"

    @staticmethod
    def vjp(node, grad):
        from ..ops.creation import zeros_like

        return (zeros_like(grad),)


def overwrite(target: Tensor, name: str) -> None:
    """`target`, which had a history, now holds values that do not depend on anything."""
    meta = ((target._data.shape, target._data.dtype),)
    node = Node(
        _Overwritten(name), {}, (target,), (edge_of(target),), (True,), meta, target._device
    )
    node.save_outputs((target,))
    set_history(target, node, 0)


def write_back(view: Tensor, result: Tensor) -> bool:
    """Record that `result` was written into `view`; False if `view` shares no memory with its
    root after all (a reshape that had to copy), so the caller treats it as an ordinary tensor."""
    root = view._base
    chain = view._view[0]  # the dispatcher sends only views that know their chain
    with grad_mode.no_grad():
        region = replay(chain, root)
        if not _same_memory(region, view):
            return False
        keep = _keep_mask(chain, root)
    _refuse_multi_output(chain)
    needs = (root._requires_grad, result._requires_grad)
    edges = tuple(edge_of(t) if need else None for t, need in zip((root, result), needs))
    meta = tuple((t._data.shape, t._data.dtype) for t in (root, result))
    node = Node(
        COPY_SLICES,
        {"keep": keep, "chain": chain},
        (root, result),
        edges,
        needs,
        meta,
        root._device,
    )
    node.save_outputs((root,))
    set_history(root, node, 0)
    _rederive(view, chain)
    return True


def _keep_mask(chain: tuple, root: Tensor) -> Tensor:
    from ..ops.creation import ones_like

    keep = ones_like(root)
    replay(chain, keep)._data[...] = 0
    return keep


def _rederive(view: Tensor, chain: tuple) -> None:
    with grad_mode.enable_grad():
        fresh = replay(chain, view._base)
    if fresh._node is not None:
        set_history(view, fresh._node, fresh._out_index)
    view._view = (chain, view._version)


def _refuse_multi_output(chain: tuple) -> None:
    for op, _, _, index in chain:
        if index is not None:
            raise RuntimeError(
                f"Output {index} of {op.name} is a view and is being modified inplace. This view "
                "is the output of a function that returns multiple views. Such functions do not "
                "allow the output views to be modified inplace. You should replace the inplace "
                "operation by an out-of-place one."
            )


def before_write(view: Tensor) -> None:
    """Checks and refresh before an in-place write into a view whose root requires grad."""
    _refuse_multi_output(view._view[0])
    refresh(view)


def refresh(view: Tensor) -> None:
    """Re-derive a view's history from its root if the root was written since it was set."""
    recorded = getattr(view, "_view", None)
    if recorded is None or recorded[1] == view._version or not view._base._requires_grad:
        return
    with grad_mode.no_grad():
        if not _same_memory(replay(recorded[0], view._base), view):
            view._view = None
            return
    _rederive(view, recorded[0])
