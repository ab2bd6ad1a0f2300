"""The eager dispatcher: one call per op application.

`apply` unwraps tensors, checks devices, runs the op's kernel, wraps the result and records an
autograd node only when an input needs a gradient and grad mode is on. The meta rule runs only
when the kernel fails (to turn a NumPy error into the op's own message) or when the record asks
for an eager check. This path is measured (benchmarks/eager_overhead.py): keep it short.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from . import dtypes
from .autograd import grad_mode
from .autograd.graph import Node, edge_of
from .device import CPU
from .tensor import Tensor, _wrap

__all__ = ["apply", "apply_inplace", "inplace", "user_location", "explain_failure"]

_ndarray = np.ndarray
_grad_state = grad_mode.state
_verify = bool(os.environ.get("QILIN_VERIFY"))
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def apply(op, args: tuple, attrs: dict):
    device = None
    arrays = []
    needs_grad = False
    for value in args:
        if isinstance(value, Tensor):
            if device is None:
                device = value._device
            elif value._device is not device:
                raise _device_mismatch(op, args)
            arrays.append(value._data)
            if value._requires_grad:
                needs_grad = True
        else:
            arrays.append(value)
    if device is None:
        device = CPU
    xp = np if device is CPU else device.backend.xp
    if op.eager_check:
        _check(op, args, attrs)
    try:
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
            for o in out)
    if _verify:
        verify_meta(op, args, attrs, outputs)
    if op.view:
        base = args[0]
        counter = base._shared_version_counter()
        root = base._base if base._base is not None else base
        for tensor in outputs:
            tensor._version_counter = counter
            tensor._base = root
    if needs_grad and _grad_state.enabled and op.vjp is not None:
        _record(op, args, attrs, outputs, device)
    return result


def set_verify(enabled: bool) -> None:
    """Check every op's output against its meta rule (on in tests; QILIN_VERIFY=1 elsewhere)."""
    global _verify
    _verify = bool(enabled)


def verify_meta(op, args: tuple, attrs: dict, outputs: tuple) -> None:
    expected = op.meta(*(_spec(a) for a in args), **attrs)
    expected = expected if isinstance(expected, tuple) and not hasattr(expected, "shape") else (
        expected,)
    if len(expected) != len(outputs):
        raise AssertionError(f"{op.name}: meta gave {len(expected)} outputs, kernel {len(outputs)}")
    for index, (spec, tensor) in enumerate(zip(expected, outputs)):
        shape = tuple(tensor._data.shape)
        same_shape = len(spec.shape) == len(shape) and all(
            a == b or a == -1 for a, b in zip(spec.shape, shape))
        if not same_shape or spec.dtype is not tensor.dtype:
            raise AssertionError(
                f"{op.name}: output {index} is {shape} {tensor.dtype.name} but the meta rule says "
                f"{tuple(spec.shape)} {spec.dtype.name} (attrs {attrs})")


def _record(op, args: tuple, attrs: dict, outputs: tuple, device) -> None:
    edges = tuple(
        edge_of(value) if isinstance(value, Tensor) and value._requires_grad else None
        for value in args)
    node = Node(op, attrs, args, edges, tuple(edge is not None for edge in edges), device)
    node.save_outputs(outputs)
    nondiff = op.nondiff_outputs
    for index, tensor in enumerate(outputs):
        if index not in nondiff and tensor._data.dtype in dtypes.FLOATING_NUMPY:
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
    if recording and target._requires_grad:
        if target._node is None:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation. "
                f"(in {name}_ at {user_location()}; wrap parameter updates in qilin.no_grad())")
        if target._base is not None and target._base._requires_grad:
            raise RuntimeError(
                f"in-place {name}_ on a view of a tensor that requires grad is not supported "
                f"(at {user_location()}); apply the op out of place, or to the base tensor")
    result = compute()
    if result._data.shape != target._data.shape:
        raise RuntimeError(
            f"{name}_: output with shape {list(target.shape)} doesn't match the broadcast "
            f"shape {list(result.shape)} (at {user_location()})")
    if result._data.dtype != target._data.dtype and not dtypes.can_cast(result.dtype, target.dtype):
        raise RuntimeError(
            f"{name}_: result type {result.dtype.name} can't be cast to the desired output "
            f"type {target.dtype.name} (at {user_location()})")
    node = result._node
    if node is not None and node._inputs is not None and any(a is target for a in node._inputs):
        # The node saved `target` as an input, but its memory is about to change: keep the old
        # values (with the old autograd identity) for the vjp.
        snapshot = _wrap(target._data.copy(), target._device, target._requires_grad)
        snapshot._node, snapshot._out_index = target._node, target._out_index
        node._inputs = tuple(snapshot if a is target else a for a in node._inputs)
        node._versions = tuple(0 if a is snapshot else v for a, v in zip(node._inputs, node._versions))
    write_into(target, result._data)
    if recording and node is not None:
        target._node, target._out_index, target._requires_grad = node, result._out_index, True
    elif recording and target._node is not None:
        target._node, target._requires_grad = None, False  # overwritten by a constant
    return target


def write_into(target: Tensor, data) -> None:
    """Copy `data` into `target`'s memory and bump its version."""
    try:
        target._data[...] = data
    except ValueError as error:
        if "read-only" in str(error):
            raise RuntimeError(
                "unsupported operation: more than one element of the written-to tensor refers to "
                "a single memory location (it is an expanded view). Please clone() the tensor "
                f"before performing the operation (at {user_location()})") from None
        raise
    target._bump_version()


def _check(op, args: tuple, attrs: dict) -> None:
    op.meta(*(_spec(a) for a in args), **attrs)


def _spec(value):
    from .ops.registry import Spec

    if isinstance(value, Tensor):
        return Spec(tuple(value._data.shape), value.dtype)
    return value


def explain_failure(op, args: tuple, attrs: dict, error: Exception) -> Exception:
    """Turn a kernel failure into the op's own message, pointing at the user's line."""
    if getattr(error, "_qilin_explained", False):
        return error
    try:
        _check(op, args, attrs)
    except (RuntimeError, ValueError, TypeError, IndexError) as meta_error:
        explained = meta_error
    else:
        kind = type(error) if isinstance(error, (RuntimeError, ValueError, TypeError, IndexError)) \
            else RuntimeError
        explained = kind(f"{op.name}: {error}")
    message = f"{explained} (at {user_location()})" if "(at " not in str(explained) else str(
        explained)
    result = type(explained)(message)
    result._qilin_explained = True
    return result


def user_location() -> str:
    """'file.py:12: code' for the innermost frame outside qilin — where the user called us."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    import linecache

    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    location = f"{frame.f_code.co_filename}:{frame.f_lineno}"
    return f"{location}: {line}" if line else location


def _device_mismatch(op, args: tuple) -> RuntimeError:
    devices = ", ".join(str(a._device) for a in args if isinstance(a, Tensor))
    return RuntimeError(
        f"{op.name}: expected all tensors to be on the same device, but found tensors on "
        f"{devices} (at {user_location()})")
