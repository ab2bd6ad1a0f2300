"""Custom differentiable functions: subclass Function with forward(ctx, ...) and
backward(ctx, *grads), as torch.autograd.Function."""

from __future__ import annotations

from ..tensor import Tensor
from . import grad_mode
from .graph import Node, edge_of


class FunctionCtx:
    """The `ctx` passed to forward and backward."""

    def __init__(self):
        self._saved = ()
        self._saved_versions = ()
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._non_differentiable = set()
        self._dirty = ()

    def save_for_backward(self, *tensors) -> None:
        self._saved = tensors
        self._saved_versions = tuple(t._version if isinstance(t, Tensor) else 0 for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        if self._saved is None:
            from .graph import _FREED

            raise RuntimeError(_FREED)
        for value, version in zip(self._saved, self._saved_versions):
            if isinstance(value, Tensor) and value._version != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: a tensor saved by save_for_backward is at version "
                    f"{value._version}; expected version {version} instead.")
        return self._saved

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors) -> None:
        self._dirty = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value


class _FunctionOp:
    """Stands in for an op record on a custom Function's node."""

    save_inputs = False
    save_outputs = False
    nondiff_outputs = frozenset()

    def __init__(self, function_class):
        self.name = function_class.__name__
        self.backward_name = function_class.__name__ + "Backward"
        self.function_class = function_class

    def vjp(self, node, grads):
        ctx = node.attrs["ctx"]
        grads = grads if isinstance(grads, tuple) else (grads,)
        result = self.function_class.backward(ctx, *grads)
        result = result if isinstance(result, tuple) else (result,)
        expected = len(node.next_edges)
        if len(result) < expected:
            raise RuntimeError(
                f"function {self.backward_name} returned an incorrect number of gradients "
                f"(expected {expected}, got {len(result)})")
        return tuple(result[:expected])


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grad_outputs)`."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement forward")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("Function subclasses must implement backward")

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        with grad_mode.no_grad():
            outputs = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(outputs, tuple)
        outputs_tuple = (outputs,) if single else outputs
        if grad_mode.is_grad_enabled() and any(ctx.needs_input_grad):
            op = cls.__dict__.get("_op") or _FunctionOp(cls)
            cls._op = op
            edges = tuple(edge_of(a) if needs else None
                          for a, needs in zip(args, ctx.needs_input_grad))
            inputs = tuple(args)
            node = Node(op, {"ctx": ctx}, inputs, edges, ctx.needs_input_grad,
                        next(a.device for a in args if isinstance(a, Tensor)))
            tensors = [o for o in outputs_tuple if isinstance(o, Tensor)]
            node.save_outputs(tuple(tensors))
            fresh = []
            for index, output in enumerate(outputs_tuple):
                if not isinstance(output, Tensor):
                    fresh.append(output)
                    continue
                if any(output is a for a in args) and output not in ctx._dirty:
                    output = output.view_as(output)  # returning an input: give it its own node
                if id(output) not in ctx._non_differentiable and output.is_floating_point():
                    output._requires_grad, output._node, output._out_index = True, node, index
                fresh.append(output)
            outputs_tuple = tuple(fresh)
        return outputs_tuple[0] if single else outputs_tuple


class once_differentiable:  # noqa: N801 (torch's name)
    """Decorator kept for compatibility: backward runs without building a graph."""

    def __new__(cls, function):
        def wrapper(ctx, *grads):
            with grad_mode.no_grad():
                return function(ctx, *grads)

        return wrapper
