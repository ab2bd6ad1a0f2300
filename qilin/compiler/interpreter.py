"""The NumPy graph executor: run a Graph's nodes with their ops' eager kernels.

    outputs = eval_graph(graph, x, w)   # same arguments as the traced function

Each node runs `op.kernel(xp, *arrays, **attrs)`, exactly as the eager dispatcher would, so a
graph gives eager's results bit for bit. Captured tensors (parameters, constants) are read when
the graph runs, so updates made to them since the trace are seen; random Generators (graph
states) likewise: each run draws from the generator's current state and advances it. No
autograd is recorded: gradients are part of the graph when the traced function computed them.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, _wrap
from .graph import Graph, State, Value, flatten, format_type, unflatten

__all__ = ["eval_graph"]


def eval_graph(graph: Graph, *args):
    """Run `graph` on `args` (the traced function's arguments; their tensors are the inputs)
    and return its outputs as qilin tensors, in the function's return structure."""
    tensors, _ = flatten(args, lambda item: isinstance(item, Tensor))
    if len(tensors) != len(graph.inputs):
        raise TypeError(
            f"eval_graph: the graph takes {len(graph.inputs)} tensor arguments "
            f"({', '.join(v.name for v in graph.inputs)}), got {len(tensors)}"
        )
    env: dict[int, object] = {}
    for value, tensor in zip(graph.inputs, tensors):
        env[id(value)] = _checked(value, tensor)
    for value, tensor in graph.captured:
        env[id(value)] = _checked(value, tensor)
    for node in graph.nodes:
        arrays = [_resolve(item, env) for item in node.inputs]
        xp = _backend(node.outputs[0].device if node.outputs else None)
        out = node.op.kernel(xp, *arrays, **node.attrs)
        if node.op.num_outputs == 1:
            out = (out,)
        for value, array in zip(node.outputs, out):
            # As the dispatcher does: NumPy reductions may give scalars, not arrays.
            env[id(value)] = (
                array if type(array) is np.ndarray or xp is not np else np.asarray(array)
            )
    return unflatten(graph.output_structure, _output_tensors(graph, tensors, env))


def _output_tensors(graph: Graph, inputs: list, env: dict) -> list:
    """One tensor per output Value, as eager would return them: an argument or captured tensor
    returned as is comes back as that same object, and a value returned twice is one tensor."""
    known = {id(v): t for v, t in zip(graph.inputs, inputs)}
    known.update((id(v), t) for v, t in graph.captured)
    results = []
    for value in graph.outputs:
        if id(value) not in known:
            known[id(value)] = _wrap(env[id(value)], value.device)
        results.append(known[id(value)])
    return results


def _checked(value: Value, tensor: Tensor):
    data = tensor._data
    if tuple(data.shape) != value.shape or tensor.dtype is not value.dtype:
        raise TypeError(
            f"eval_graph: {value.name} was traced as {value.type_text}, got "
            f"{format_type(tuple(data.shape), tensor.dtype)}"
        )
    if value.contiguous and type(data) is np.ndarray and not data.flags.c_contiguous:
        # The trace chose views (reshape) assuming eager's contiguous layout.
        data = np.ascontiguousarray(data)
    return data


def _resolve(item, env: dict):
    if isinstance(item, Value):
        return env[id(item)]
    if isinstance(item, State):
        return item.target  # drawn from (and advanced) as the graph runs
    if isinstance(item, (tuple, list)) and item:
        return type(item)(_resolve(part, env) for part in item)
    return item


def _backend(device):
    if device is None or device.type == "cpu":
        return np
    return device.backend.xp
