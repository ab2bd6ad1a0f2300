"""Automatic differentiation: backward(), grad(), grad modes, custom Functions, hooks."""

from __future__ import annotations

from ..errors import located
from ..tensor import Tensor, _wrap
from . import graph
from .anomaly import (
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
)
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)

__all__ = [
    "backward",
    "grad",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
    "is_anomaly_check_nan_enabled",
    "Function",
    "Variable",
    "functional",
    "graph",
]


def _as_tuple(value) -> tuple:
    if value is None:
        return ()
    return (value,) if isinstance(value, Tensor) else tuple(value)


def _root_grads(outputs: tuple, grad_outputs: tuple, create_graph: bool) -> list:
    grads = []
    for index, output in enumerate(outputs):
        given = grad_outputs[index] if index < len(grad_outputs) else None
        if not output._requires_grad:
            raise located(
                RuntimeError(
                    f"element {index} of tensors does not require grad and does not have a grad_fn"
                )
            )
        if given is None:
            if output.numel() != 1:
                raise located(
                    RuntimeError(
                        f"grad can be implicitly created only for scalar outputs (output {index} "
                        f"has shape {list(output.shape)}); pass `gradient=` with that shape"
                    )
                )
            given = _wrap(
                output._device.backend.xp.ones(output._data.shape, output._data.dtype),
                output._device,
            )
        elif not isinstance(given, Tensor):
            from ..ops.creation import tensor

            given = tensor(given, dtype=output.dtype)
        elif tuple(given.shape) != tuple(output.shape):
            raise located(
                RuntimeError(
                    f"Mismatch in shape: grad_output[{index}] has a shape of "
                    f"{list(given.shape)} and output[{index}] has a shape of "
                    f"{list(output.shape)}."
                )
            )
        grads.append(given if create_graph else given.detach())
    return grads


def backward(
    tensors,
    grad_tensors=None,
    retain_graph=None,
    create_graph=False,
    grad_variables=None,
    inputs=None,
):
    """Accumulate d(tensors)/d(leaf) into each leaf's `.grad` (only into `inputs`, if given)."""
    if grad_variables is not None:  # torch's deprecated name for grad_tensors
        grad_tensors = grad_variables if grad_tensors is None else grad_tensors
    outputs = _as_tuple(tensors)
    grads = _root_grads(outputs, _as_tuple(grad_tensors), create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    if create_graph:
        import warnings

        warnings.warn(
            "Using backward() with create_graph=True will create a reference cycle between the "
            "parameter and its gradient which can cause a memory leak. We recommend using "
            "autograd.grad when creating the graph to avoid this. If you have to use this "
            "function, make sure to reset the .grad fields of your parameters to None after use "
            "to break the cycle and avoid the leak.",
            UserWarning,
            stacklevel=3,
        )
    accumulate_into = targets = None
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("backward(): 'inputs' argument to backward() cannot be empty.")
        accumulate_into = {graph.accumulator_of(t) for t in inputs if t._node is None}
        targets = set(accumulate_into)
        for t in inputs:
            if t._node is not None:
                t.retain_grad()  # as torch does: the grad of a non-leaf input lands in .grad
                targets.add(t._node)
    graph.run_backward(
        [graph.edge_of(o) for o in outputs],
        grads,
        retain_graph=retain_graph,
        create_graph=create_graph,
        accumulate_into=accumulate_into,
        targets=targets,
    )


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    only_inputs=True,
    allow_unused=None,
    is_grads_batched=False,
    materialize_grads=False,
):
    """The gradients of `outputs` with respect to `inputs`, returned (not accumulated).

    `inputs` may be a dict of tensors (the result is then a dict with the same keys).
    is_grads_batched: the first dimension of each grad_output is a batch of vectors, and each
    result gains that leading dimension (computed one vector at a time).
    """
    if isinstance(inputs, dict):
        keys = list(inputs)
        values = grad(
            outputs,
            [inputs[k] for k in keys],
            grad_outputs,
            retain_graph,
            create_graph,
            only_inputs,
            allow_unused,
            is_grads_batched,
            materialize_grads,
        )
        return dict(zip(keys, values))
    if materialize_grads and allow_unused is False:
        raise ValueError(
            "Expected allow_unused to be True or not passed when materialize_grads="
            "True, but got: allow_unused=False."
        )
    if is_grads_batched:
        return _batched_grad(
            outputs,
            inputs,
            grad_outputs,
            retain_graph,
            create_graph,
            allow_unused,
            materialize_grads,
        )
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    for index, value in enumerate(inputs):
        if not value._requires_grad:
            raise located(
                RuntimeError(
                    f"One of the differentiated Tensors (input {index}) does not require grad"
                )
            )
    grads = _root_grads(outputs, _as_tuple(grad_outputs), create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    capture = [graph.edge_of(t) for t in inputs]
    result = graph.run_backward(
        [graph.edge_of(o) for o in outputs],
        grads,
        retain_graph=retain_graph,
        create_graph=create_graph,
        capture=capture,
    )
    for index, value in enumerate(result):
        if value is None:
            if materialize_grads:
                from ..ops.creation import zeros_like

                result[index] = zeros_like(inputs[index])
            elif not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (input {index}) appears to not have been "
                    "used in the graph. Set allow_unused=True if this is the desired behavior."
                )
    return tuple(result)


def _batched_grad(
    outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, materialize_grads
) -> tuple:
    from ..ops.movement import stack

    batches = _as_tuple(grad_outputs)
    if not batches:
        raise RuntimeError(
            "is_grads_batched=True needs grad_outputs with a leading batch dimension"
        )
    size = batches[0].shape[0]
    rows = []
    for k in range(size):
        keep = True if k < size - 1 else retain_graph
        rows.append(
            grad(
                outputs,
                inputs,
                [b[k] for b in batches],
                keep,
                create_graph,
                allow_unused=allow_unused,
                materialize_grads=materialize_grads,
            )
        )
    return tuple(None if row[0] is None else stack(list(row)) for row in zip(*rows))


class _VariableType(type):
    def __instancecheck__(cls, instance) -> bool:
        return isinstance(instance, Tensor)


class Variable(metaclass=_VariableType):
    """torch's pre-0.4 wrapper, kept for old scripts: `Variable(t, requires_grad=True)` is a new
    leaf sharing t's data, and every tensor counts as a Variable."""

    def __new__(cls, data, requires_grad: bool = False, volatile: bool = False):
        return data.detach().requires_grad_(requires_grad)


from . import functional  # noqa: E402
from .function import Function  # noqa: E402
