"""The eager dispatcher: one call per op application.

`apply` unwraps tensors, checks devices, runs the op's kernel, wraps the result and records an
autograd node only when an input needs a gradient and grad mode is on. The meta rule runs only
when the kernel fails (to turn a NumPy error into the op's own message) or when the record asks
for an eager check. This path is measured (benchmarks/eager_overhead.py): keep it short.
"""

from __future__ import annotations

import os
from threading import get_ident

import numpy as np

from . import dtypes
from .autograd import grad_mode, views
from .autograd.graph import Node, edge_of, set_history
from .device import CPU
from .dtypes import FLOATING_NUMPY
from .errors import located, user_location
from .tensor import Tensor, _wrap

__all__ = ["apply", "apply_inplace", "inplace", "write_out", "user_location", "explain_failure"]

_ndarray = np.ndarray
_grad_state = grad_mode.state
_verify = bool(os.environ.get("QILIN_VERIFY"))
_PACKAGE = os.path.dirname(os.path.abspath(__file__))
# The active qilin.compile tracer (compiler/trace.py) while a trace runs, else None: eager pays
# one global load and compare per op. It records only calls from the thread that traces.
_tracer = None


def apply(op, args: tuple, attrs: dict):
    if _tracer is not None and _tracer.thread == get_ident():
        return _tracer.apply(op, args, attrs)
    arrays = []
    needs_grad = False
    device = CPU
    for value in args:
        if isinstance(value, Tensor):
            arrays.append(value._data)
            if value._requires_grad:
                needs_grad = True
            if value._device is not CPU:
                device = _common_device(op, args)
        else:
            arrays.append(value)
    xp = np if device is CPU else device.backend.xp
    try:
        if op.eager_check:
            _check(op, args, attrs)
        out = op.kernel(xp, *arrays, **attrs)
    except Exception as error:
        raise explain_failure(op, args, attrs, error) from error

    if op.num_outputs == 1:
        if type(out) is not _ndarray and device is CPU:
            out = np.asarray(out)
        result = _wrap(out, device)
        outputs = (result,)
    else:
        outputs = result = tuple(
            _wrap(o if type(o) is _ndarray or device is not CPU else np.asarray(o), device)
            for o in out
        )
    if _verify:
        verify_meta(op, args, attrs, outputs)
    if op.view:
        _link_views(op, args, attrs, outputs)
    if needs_grad and _grad_state.enabled and op.vjp is not None:
        _record(op, args, attrs, outputs, device)
    return result


def _link_views(op, args: tuple, attrs: dict, outputs: tuple) -> None:
    """Views share their base's memory, version counter and root; each also keeps the chain of
    view ops that re-makes it from the root (in-place writes through it need it: views.py)."""
    base = args[0]
    counter = base._version_counter
    if counter is None:
        counter = base._version_counter = [0]
    root = base._base
    if root is None:
        root, chain = base, ()
    else:
        chain = base._view
        chain = chain[0] if chain else None
    single = op.num_outputs == 1
    for index, tensor in enumerate(outputs):
        tensor._version_counter = counter
        tensor._base = root
        if chain is not None:
            step = (op, args[1:], attrs, None if single else index)
            tensor._view = (chain + (step,), counter[0])


def set_verify(enabled: bool) -> None:
    """Check every op's output against its meta rule (on in tests; QILIN_VERIFY=1 elsewhere)."""
    global _verify
    _verify = bool(enabled)


def verify_meta(op, args: tuple, attrs: dict, outputs: tuple) -> None:
    expected = op.meta(*(_spec(a) for a in args), **attrs)
    expected = (
        expected if isinstance(expected, tuple) and not hasattr(expected, "shape") else (expected,)
    )
    if len(expected) != len(outputs):
        raise AssertionError(f"{op.name}: meta gave {len(expected)} outputs, kernel {len(outputs)}")
    for index, (spec, tensor) in enumerate(zip(expected, outputs)):
        shape = tuple(tensor._data.shape)
        same_shape = len(spec.shape) == len(shape) and all(
            a == b or a == -1 for a, b in zip(spec.shape, shape)
        )
        if not same_shape or spec.dtype is not tensor.dtype:
            raise AssertionError(
                f"{op.name}: output {index} is {shape} {tensor.dtype.name} but the meta rule says "
                f"{tuple(spec.shape)} {spec.dtype.name} (attrs {attrs})"
            )


def _record(op, args: tuple, attrs: dict, outputs: tuple, device) -> None:
    edges, needs, meta = [], [], []
    for value in args:
        if isinstance(value, Tensor):
            data = value._data
            meta.append((data.shape, data.dtype))
            if value._requires_grad:
                producer = value._node
                # edge_of also re-derives a view written through since it was made (views.py)
                edges.append(
                    (producer, value._out_index)
                    if producer is not None and value._base is None
                    else edge_of(value)
                )
                needs.append(True)
                continue
        else:
            meta.append(None)
        edges.append(None)
        needs.append(False)
    node = Node(op, attrs, args, tuple(edges), tuple(needs), tuple(meta), device)
    node.save_outputs(outputs)
    nondiff = op.nondiff_outputs
    for index, tensor in enumerate(outputs):
        if index not in nondiff and tensor._data.dtype in FLOATING_NUMPY:
            tensor._requires_grad = True
            tensor._node = node
            tensor._out_index = index


def apply_inplace(target: Tensor, op, args: tuple, attrs: dict) -> Tensor:
    """Run primitive `op` out of place and write the result into `target` (see `inplace`)."""
    return inplace(target, lambda: apply(op, args, attrs), op.name)


def inplace(target: Tensor, compute, name: str) -> Tensor:
    """Write the result of `compute()` into `target`'s memory, so that views see it.

    The autograd history of `target` moves onto the result's node, as in torch, and its version
    counter is bumped so that a stale saved copy is caught at backward time.
    """
    recording = _grad_state.enabled
    # Only views that know how they were made carry autograd to their root; detach() gives a
    # view that does not (writing into it leaves the root's history alone, as in torch).
    root = target._base if getattr(target, "_view", None) is not None else None
    if recording and target._requires_grad and target._node is None:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation. "
            f"(in {name}_ at {user_location()}; wrap parameter updates in qilin.no_grad())"
        )
    if recording and root is not None and root._requires_grad:
        if root._node is None:
            raise RuntimeError(
                "a view of a leaf Variable that requires grad is being used in an in-place "
                f"operation. (in {name}_ at {user_location()}; wrap parameter updates in "
                "qilin.no_grad())"
            )
        views.before_write(target)  # the root may have been written since this view was made
    result = compute()
    if result._data.shape != target._data.shape:
        raise RuntimeError(
            f"{name}_: output with shape {list(target.shape)} doesn't match the broadcast "
            f"shape {list(result.shape)} (at {user_location()})"
        )
    if result._data.dtype != target._data.dtype and not dtypes.can_cast(result.dtype, target.dtype):
        raise RuntimeError(
            f"{name}_: result type {result.dtype.name} can't be cast to the desired output "
            f"type {target.dtype.name} (at {user_location()})"
        )
    node = result._node
    if node is not None and node._inputs is not None:
        _snapshot_overwritten(node, target)
    write_into(target, result._data)
    if recording and root is not None and (root._requires_grad or result._requires_grad):
        if views.write_back(target, result):
            return target
    if recording and node is not None:
        set_history(target, node, result._out_index)
    elif recording and target._node is not None:
        views.overwrite(target, name)  # constants now: the history passes on zeros, as in torch
    return target


def _snapshot_overwritten(node, target: Tensor) -> None:
    """The node saved `target` (or a view sharing its memory) as an input, but that memory is
    about to change: keep the old values, with their old autograd identity, for the vjp."""
    counter = target._version_counter
    replaced = False
    inputs = list(node._inputs)
    versions = list(node._versions)
    for position, value in enumerate(inputs):
        if value is target or (
            isinstance(value, Tensor) and counter is not None and value._version_counter is counter
        ):
            snapshot = _wrap(value._data.copy(), value._device, value._requires_grad)
            snapshot._node, snapshot._out_index = value._node, value._out_index
            inputs[position], versions[position] = snapshot, 0
            replaced = True
    if replaced:
        node._inputs, node._versions = tuple(inputs), tuple(versions)


def write_out(result: Tensor, out: Tensor | None) -> Tensor:
    """torch's `out=` argument: the result is copied into `out`, which is resized (with torch's
    warning if it held elements) when its shape differs."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise located(TypeError(f"out= expects a Tensor, got {type(out).__name__}"))
    if result._data.dtype != out._data.dtype and not dtypes.can_cast(result.dtype, out.dtype):
        raise located(
            RuntimeError(
                f"result type {result.dtype.name} can't be cast to the desired output type "
                f"{out.dtype.name}"
            )
        )
    if out._data.shape != result._data.shape:
        if out._data.size:
            import warnings

            from .errors import user_stacklevel

            warnings.warn(
                f"An output with one or more elements was resized since it had shape "
                f"{list(out.shape)}, which does not match the required output shape "
                f"{list(result.shape)}.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        out._data = out._device.backend.xp.empty(result._data.shape, out._data.dtype)
    write_into(out, result._data)
    return out


def write_into(target: Tensor, data) -> None:
    """Copy `data` into `target`'s memory and bump its version."""
    if _tracer is not None:
        _tracer.check_write(target, data)  # in-place writes are not traced yet
    try:
        target._data[...] = data
    except ValueError as error:
        if "read-only" in str(error):
            raise RuntimeError(
                "unsupported operation: more than one element of the written-to tensor refers to "
                "a single memory location (it is an expanded view). Please clone() the tensor "
                f"before performing the operation (at {user_location()})"
            ) from None
        raise
    target._bump_version()


def _check(op, args: tuple, attrs: dict) -> None:
    op.meta(*(_spec(a) for a in args), **attrs)


def _spec(value):
    if isinstance(value, Tensor):
        return Spec(tuple(value._data.shape), value.dtype)
    return value


def explain_failure(op, args: tuple, attrs: dict, error: Exception) -> Exception:
    """Turn a kernel failure into the op's own message, pointing at the user's line."""
    if getattr(error, "_qilin_explained", False):
        return error
    complex_args = [a for a in args if type(a).__name__ == "ComplexTensor"]
    if complex_args:
        # Complex values live in a pair-of-reals wrapper with its own methods (z.abs(), z * w);
        # the primitives take real tensors only.
        return located(
            TypeError(
                f"{op.name}: complex tensors are not accepted here yet; use the complex "
                f"tensor's own methods (z.abs(), z.real, qilin.view_as_real(z)) instead"
            )
        )
    try:
        _check(op, args, attrs)
    except _USER_ERRORS as meta_error:
        return located(meta_error)
    # The meta rule accepted the inputs: keep the kernel's message and its type when that is
    # ours or built in (NumPy's own exception classes cannot be rebuilt from a message).
    kind = type(error)
    ours = kind.__module__ == "builtins" or kind.__module__.startswith("qilin")
    if not (ours and issubclass(kind, _USER_ERRORS)):
        kind = next((k for k in _USER_ERRORS if isinstance(error, k)), RuntimeError)
    return located(kind(f"{op.name}: {error}"))


_USER_ERRORS = (IndexError, TypeError, ValueError, RuntimeError)


def _common_device(op, args: tuple):
    """The one device of all tensor arguments (the slow path: some tensor is not on the CPU)."""
    devices = {a._device for a in args if isinstance(a, Tensor)}
    if len(devices) == 1:
        return devices.pop()
    devices = ", ".join(str(a._device) for a in args if isinstance(a, Tensor))
    raise RuntimeError(
        f"{op.name}: expected all tensors to be on the same device, but found tensors on "
        f"{devices} (at {user_location()})"
    )


from .ops.registry import Spec  # noqa: E402  (registry imports this module first)
