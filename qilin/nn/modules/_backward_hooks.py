"""Module backward hooks (`register_full_backward_hook`, `register_full_backward_pre_hook`).

A module call with backward hooks passes its tensor inputs and outputs through identity
Functions. In backward, the output identity sees the gradients with respect to the outputs
(grad_output: pre-hooks run there and may replace them); the input identity, reached after the
module's own graph, sees the gradients with respect to the inputs (grad_input: the full hooks
run there and may replace them). This is torch's scheme: hooks see exactly the module's
boundary, however many ops forward used.
"""

from __future__ import annotations

from ...autograd import grad_mode
from ...autograd.function import Function
from ...tensor import Tensor


class _BoundaryIdentity(Function):
    """Identity on a tuple of tensors whose backward hands the gradients to `on_backward`."""

    @staticmethod
    def forward(ctx, on_backward, *tensors):
        ctx.on_backward = on_backward
        ctx.set_materialize_grads(False)
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.on_backward(grads))


class BackwardHooks:
    """The state of one module call: where its tensors are, and grad_output once known."""

    def __init__(self, module):
        self.module = module
        self.input_count = 0
        self.input_positions = ()  # positions in args of the tensors that require grad
        self.grad_outputs = None

    def wrap_inputs(self, args: tuple) -> tuple:
        self.input_count = len(args)
        if not grad_mode.is_grad_enabled():
            return args
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        self.input_positions = tuple(positions)
        if not positions:
            return args
        wrapped = _BoundaryIdentity.apply(self._on_input_grads, *(args[i] for i in positions))
        args = list(args)
        for position, tensor in zip(positions, wrapped):
            args[position] = tensor
        return tuple(args)

    def wrap_outputs(self, output):
        if not grad_mode.is_grad_enabled():
            return output
        outputs = output if isinstance(output, tuple) else (output,)
        positions = [i for i, o in enumerate(outputs) if isinstance(o, Tensor) and o.requires_grad]
        if not positions:
            return output
        wrapped = _BoundaryIdentity.apply(self._on_output_grads, *(outputs[i] for i in positions))
        outputs = list(outputs)
        for position, tensor in zip(positions, wrapped):
            outputs[position] = tensor
        return tuple(outputs) if isinstance(output, tuple) else outputs[0]

    def _on_output_grads(self, grads: tuple) -> tuple:
        for hook in list(self.module._backward_pre_hooks.values()):
            result = hook(self.module, grads)
            if result is not None:
                result = result if isinstance(result, tuple) else (result,)
                if len(result) != len(grads):
                    raise RuntimeError(
                        "Backward pre hook returned an invalid number of grad_output, got "
                        f"{len(result)}, but expected {len(grads)}"
                    )
                grads = result
        self.grad_outputs = grads
        if not self.input_positions:  # no input identity will run: call the hooks now
            self._run_full_hooks((None,) * self.input_count, none_only=True)
        return grads

    def _on_input_grads(self, grads: tuple) -> tuple:
        grad_inputs = [None] * self.input_count
        for position, grad in zip(self.input_positions, grads):
            grad_inputs[position] = grad
        grad_inputs = self._run_full_hooks(tuple(grad_inputs))
        return tuple(grad_inputs[i] for i in self.input_positions)

    def _run_full_hooks(self, grad_inputs: tuple, none_only: bool = False) -> tuple:
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is None:
                continue
            result = result if isinstance(result, tuple) else (result,)
            if none_only and any(g is not None for g in result):
                raise RuntimeError(
                    "Backward hook for Modules where no input requires gradient should always "
                    "return None or None for all gradients."
                )
            if len(result) != len(grad_inputs):
                raise RuntimeError(
                    "Backward hook returned an invalid number of grad_input, got "
                    f"{len(result)}, but expected {len(grad_inputs)}"
                )
            grad_inputs = result
        return grad_inputs
