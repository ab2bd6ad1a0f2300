"""Custom differentiable functions, as torch.autograd.Function.

Subclass `Function` with static `forward(ctx, *args)` and `backward(ctx, *grad_outputs)` (or
`forward(*args)` plus `setup_context(ctx, inputs, output)`), then call `MyFunction.apply(...)`.
Forward runs with grad mode off; backward runs with grad mode on only under create_graph=True,
so a backward written in qilin ops can itself be differentiated.
"""

from __future__ import annotations

import functools
import weakref

from ..tensor import Tensor, _wrap
from . import grad_mode
from .graph import _FREED, Node, _stale_error, _zeros, edge_of, set_history

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class _SavedOutput:
    """An output saved for backward, kept without its grad_fn so that the node and the output do
    not hold each other (torch does the same); rebuilt with the node as grad_fn on access."""

    __slots__ = ("index", "data", "counter")

    def __init__(self, index: int, tensor: Tensor):
        self.index, self.data = index, tensor._data
        self.counter = tensor._shared_version_counter()

    def rebuild(self, node) -> Tensor:
        tensor = _wrap(self.data, node._device)
        tensor._version_counter = self.counter
        if node is not None:
            tensor._requires_grad, tensor._node, tensor._out_index = True, node, self.index
        return tensor


class FunctionCtx:
    """The `ctx` passed to forward, setup_context and backward."""

    def __init__(self):
        self._saved = ()
        self._saved_versions = None  # taken when apply() finishes, as torch does
        self._node_ref = None
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._non_differentiable = set()
        self._dirty = set()

    def save_for_backward(self, *tensors) -> None:
        for value in tensors:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    "save_for_backward can only save variables, but argument "
                    f"{tensors.index(value)} is of type {type(value).__name__}"
                )
        self._saved = tensors

    def save_for_forward(self, *tensors) -> None:
        self._saved_for_forward = tensors

    @property
    def saved_tensors(self) -> tuple:
        if self._saved is None:
            raise RuntimeError(_FREED)
        node = self._node_ref() if self._node_ref is not None else None
        result = []
        for position, value in enumerate(self._saved):
            if isinstance(value, _SavedOutput):
                value = value.rebuild(node)
            if self._saved_versions is not None and isinstance(value, Tensor):
                expected = self._saved_versions[position]
                if value._version != expected:
                    raise _stale_error(value, node, expected)
            result.append(value)
        return tuple(result)

    saved_variables = saved_tensors

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors) -> None:
        self._dirty.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)


class _FunctionOp:
    """Stands in for an op record on a custom Function's node."""

    save_inputs = False
    save_outputs = False
    nondiff_outputs = frozenset()
    vjp = None  # FunctionNode.apply calls the class's backward itself

    def __init__(self, function_class):
        self.name = function_class.__name__
        self.backward_name = function_class.__name__ + "Backward"
        self.function_class = function_class


class FunctionNode(Node):
    """The node of one Function.apply: runs the user's backward and checks what it returns."""

    __slots__ = ()

    def apply(self, grads: list, create_graph: bool) -> tuple:
        ctx = self.attrs["ctx"]
        meta = self._output_meta
        if ctx.materialize_grads:
            grads = [
                g if g is not None or meta[i] is None else _zeros(meta[i], self._device)
                for i, g in enumerate(grads)
            ]
        with grad_mode.set_grad_enabled(create_graph):
            result = self.op.function_class.backward(ctx, *grads)
            return self._check(result if isinstance(result, tuple) else (result,))

    def _check(self, result: tuple) -> tuple:
        name = self.name()
        expected = len(self.needs_grad)
        if len(result) != expected and (
            len(result) < expected or any(g is not None for g in result[expected:])
        ):
            raise RuntimeError(
                f"function {name} returned an incorrect number of gradients "
                f"(expected {expected}, got {len(result)})"
            )
        checked = []
        for index in range(expected):
            grad, meta = result[index], self.input_meta[index]
            if meta is None and grad is not None:
                raise RuntimeError(
                    f"function {name} returned a gradient different than None at position "
                    f"{index + 1}, but the corresponding forward input was not a Variable"
                )
            if grad is None or not self.needs_grad[index]:
                checked.append(None)
                continue
            if not isinstance(grad, Tensor):
                raise TypeError(
                    f"function {name} returned a gradient of type "
                    f"{type(grad).__name__} at position {index + 1}; expected a "
                    "Tensor or None"
                )
            checked.append(_fit(grad, meta, name, index))
        return tuple(checked)

    def release(self) -> None:
        ctx = self.attrs["ctx"]
        if ctx._saved:
            ctx._saved = None  # saved_tensors now raises the freed-graph error
        super().release()


def _fit(grad: Tensor, meta: tuple, name: str, index: int) -> Tensor:
    """Reduce a broadcast grad to the input's shape and cast it to the input's dtype."""
    shape, dtype = meta
    if grad._data.shape != shape:
        if not _expandable(shape, grad._data.shape):
            raise RuntimeError(
                f"Function {name} returned an invalid gradient at index {index} - got "
                f"{list(grad.shape)} but expected shape compatible with {list(shape)}"
            )
        from ..ops.reduction import sum_to

        grad = sum_to(grad, shape)
    if grad._data.dtype != dtype:
        grad = grad.to(dtype=_dtype(dtype))
    return grad


def _dtype(numpy_dtype):
    from .. import dtypes

    return dtypes.from_numpy(numpy_dtype)


def _expandable(shape: tuple, target: tuple) -> bool:
    if len(shape) > len(target):
        return False
    return all(size in (1, other) for size, other in zip(reversed(shape), reversed(target)))


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grad_outputs)`."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        with grad_mode.no_grad():
            if cls.setup_context is Function.setup_context:
                outputs = cls.forward(ctx, *args, **kwargs)
            else:
                outputs = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, outputs)
        single = not isinstance(outputs, tuple)
        outputs = (outputs,) if single else tuple(outputs)
        if grad_mode.state.enabled and any(ctx.needs_input_grad):
            outputs = _connect(cls, ctx, args, outputs)
        elif ctx._dirty:
            for value in args:
                if id(value) in ctx._dirty:
                    value._bump_version()
        return outputs[0] if single else outputs


def _connect(cls, ctx: FunctionCtx, args: tuple, outputs: tuple) -> tuple:
    """Record the Function's node and make its tensor outputs point at it."""
    op = cls.__dict__.get("_qilin_op")
    if op is None:
        op = _FunctionOp(cls)
        cls._qilin_op = op
    edges = tuple(edge_of(a) if needs else None for a, needs in zip(args, ctx.needs_input_grad))
    meta = tuple((a._data.shape, a._data.dtype) if isinstance(a, Tensor) else None for a in args)
    device = next(a._device for a in args if isinstance(a, Tensor))
    node = FunctionNode(op, {"ctx": ctx}, args, edges, ctx.needs_input_grad, meta, device)
    node._output_meta = tuple(
        (o._data.shape, o._data.dtype) if isinstance(o, Tensor) else None for o in outputs
    )
    ctx._node_ref = weakref.ref(node)
    results = []
    for index, output in enumerate(outputs):
        if isinstance(output, Tensor):
            output = _connect_output(ctx, node, args, index, output)
        results.append(output)
    _freeze_saved(ctx, results)
    return tuple(results)


def _connect_output(
    ctx: FunctionCtx, node: FunctionNode, args: tuple, index: int, output: Tensor
) -> Tensor:
    dirty = id(output) in ctx._dirty
    if dirty:
        if output._requires_grad and output._node is None:
            raise RuntimeError(
                "a leaf Variable that requires grad has been used in an in-place operation."
            )
        output._bump_version()
    elif any(output is a for a in args):
        # Returning an input unchanged: the caller gets a new tensor sharing its memory.
        output = output.detach()
    differentiable = id(output) not in ctx._non_differentiable and output.is_floating_point()
    if not differentiable:
        return output
    if dirty and output._base is not None:  # written through a view: the root changes too
        from . import views

        carrier = _wrap(output._data, output._device, True)
        carrier._node, carrier._out_index = node, index
        if views.write_back(output, carrier):
            return output
    if dirty:
        set_history(output, node, index)  # retain_grad follows the in-place write
    else:
        output._requires_grad, output._node, output._out_index = True, node, index
    return output


def _freeze_saved(ctx: FunctionCtx, outputs: list) -> None:
    """Take the saved tensors' versions now, and keep saved outputs without a grad_fn."""
    if not ctx._saved:
        return
    saved = []
    for value in ctx._saved:
        for index, output in enumerate(outputs):
            if value is output and isinstance(output, Tensor) and output._node is not None:
                value = _SavedOutput(index, output)
                break
        saved.append(value)
    ctx._saved = tuple(saved)
    ctx._saved_versions = tuple(
        v.counter[0] if isinstance(v, _SavedOutput) else v._version if isinstance(v, Tensor) else 0
        for v in saved
    )


class _DelayedError(Function):
    """Marks grads computed by a @once_differentiable backward: differentiating them fails."""

    @staticmethod
    def forward(ctx, *grads):
        return tuple(g.detach() if g is not None else None for g in grads)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(
            "trying to differentiate twice a function that was marked with @once_differentiable"
        )


def once_differentiable(function):
    """Decorate a Function's backward that is not itself differentiable: it runs without
    recording, and differentiating its result (create_graph=True) raises."""

    @functools.wraps(function)
    def wrapper(ctx, *grads):
        with grad_mode.no_grad():
            outputs = function(ctx, *grads)
        if not grad_mode.state.enabled or not any(
            isinstance(g, Tensor) and g._requires_grad for g in grads
        ):
            return outputs
        single = not isinstance(outputs, tuple)
        values = (outputs,) if single else outputs
        marked = tuple(
            v.detach().requires_grad_(True)
            if isinstance(v, Tensor) and v.is_floating_point()
            else v
            for v in values
        )
        errors = _DelayedError.apply(*marked)
        errors = errors if isinstance(errors, tuple) else (errors,)
        return errors[0] if single else errors

    return wrapper
