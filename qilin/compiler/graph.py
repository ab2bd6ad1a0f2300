"""The compiler's IR: a flat list of primitive applications over named values.

A `Graph` is what `trace` records from one call of a function: its tensor arguments become
named input `Value`s, real tensors that the function read (parameters, constants) become
captured inputs held by reference, and every primitive the dispatcher ran becomes a `Node`
whose `op` is the same registry record that eager runs. Passes and backends walk this.

    graph(x: f32[4, 3], w: f32[3, 2]):
      %0: f32[4, 2] = matmul(x, w)
      %1: f32[4, 2] = relu(%0)
      return (%1,)
"""

from __future__ import annotations

from typing import Any

from .. import dtypes
from ..ops.registry import Op, Spec

__all__ = ["Value", "State", "Node", "Graph", "flatten", "unflatten", "format_type"]

_SHORT_NAMES = {
    "float32": "f32",
    "float64": "f64",
    "float16": "f16",
    "bfloat16": "bf16",
    "int64": "i64",
    "int32": "i32",
    "int16": "i16",
    "int8": "i8",
    "uint8": "u8",
    "bool": "b8",
}


def format_type(shape: tuple, dtype: dtypes.DType) -> str:
    """`f32[4, 3]`: the dtype's short name and the shape."""
    return f"{_SHORT_NAMES.get(dtype.name, dtype.name)}[{', '.join(str(n) for n in shape)}]"


class Value:
    """One tensor-valued result in a graph: a graph input, a captured tensor or a node output."""

    __slots__ = ("name", "shape", "dtype", "device", "producer", "index", "kind", "contiguous")

    def __init__(
        self,
        name: str,
        shape: tuple,
        dtype: dtypes.DType,
        device,
        *,
        kind: str = "node",  # "input" | "captured" | "node"
        producer: Node | None = None,
        index: int = 0,
        contiguous: bool = True,
    ):
        self.name = name
        self.shape = tuple(shape)
        self.dtype = dtype
        self.device = device
        self.producer = producer  # the node that computes it (kind "node" only)
        self.index = index  # which of the producer's outputs it is
        self.kind = kind
        # Whether eager would hold it C-contiguous (reshape picks a view or a copy by it).
        self.contiguous = contiguous

    @property
    def spec(self) -> Spec:
        return Spec(self.shape, self.dtype)

    @property
    def type_text(self) -> str:
        return format_type(self.shape, self.dtype)

    def __repr__(self) -> str:
        return f"<Value {self.name}: {self.type_text}>"


class State:
    """A stateful object an op reads and advances, held by reference (a random Generator):
    the graph draws from its state at the time it runs, as eager code would."""

    __slots__ = ("name", "target")

    def __init__(self, name: str, target):
        self.name = name
        self.target = target

    @property
    def type_text(self) -> str:
        return type(self.target).__name__

    def __repr__(self) -> str:
        return f"<State {self.name}: {self.type_text}>"


class Node:
    """One primitive application: `outputs = op(*inputs, **attrs)`.

    `inputs` holds Values and Python literals (numbers, None, dtypes, slices, tuples of these),
    in the positions the op's kernel and meta rule take them.
    """

    __slots__ = ("op", "inputs", "attrs", "outputs")

    def __init__(self, op: Op, inputs: tuple, attrs: dict, outputs: tuple = ()):
        self.op = op
        self.inputs = inputs
        self.attrs = attrs
        self.outputs = outputs

    def input_values(self) -> list:
        """The Values among the inputs (also inside tuples), in order."""
        found: list = []
        _collect_values(self.inputs, found)
        return found

    def __str__(self) -> str:
        targets = ", ".join(f"{v.name}: {v.type_text}" for v in self.outputs)
        arguments = [_format_literal(a) for a in self.inputs]
        arguments += [f"{key}={_format_literal(value)}" for key, value in self.attrs.items()]
        return f"{targets} = {self.op.name}({', '.join(arguments)})"

    __repr__ = __str__


def _collect_values(item, found: list) -> None:
    if isinstance(item, Value):
        found.append(item)
    elif isinstance(item, (tuple, list)):
        for part in item:
            _collect_values(part, found)


def _format_literal(item) -> str:
    if isinstance(item, (Value, State)):
        return item.name
    if isinstance(item, tuple):
        inside = ", ".join(_format_literal(part) for part in item)
        return f"({inside},)" if len(item) == 1 else f"({inside})"
    if isinstance(item, list):
        return "[" + ", ".join(_format_literal(part) for part in item) + "]"
    return repr(item)


class Graph:
    """A traced function: inputs, captured tensors, nodes in topological order, outputs.

    `captured` pairs each captured Value with the real qilin Tensor it stands for; the tensor is
    held by reference, so running the graph later reads its values at that time; `states` are
    the stateful objects (random Generators) that nodes take, also held by reference. `outputs` is
    the flat list of output Values; `output_structure` rebuilds the function's return value
    from them (see `unflatten`). `input_structure` does the same for the arguments, so that an
    executor can find the tensors among the arguments it is given.
    """

    def __init__(self):
        self.inputs: list[Value] = []
        self.captured: list[tuple[Value, Any]] = []
        self.states: list[State] = []
        self.nodes: list[Node] = []
        self.outputs: list[Value] = []
        self.output_structure: Any = None
        self.input_structure: Any = None

    def __str__(self) -> str:
        header = ", ".join(f"{v.name}: {v.type_text}" for v in self.inputs)
        lines = [f"graph({header}):"]
        lines += [f"  captured {v.name}: {v.type_text}" for v, _ in self.captured]
        lines += [f"  state {s.name}: {s.type_text}" for s in self.states]
        lines += [f"  {node}" for node in self.nodes]
        names = ", ".join(v.name for v in self.outputs)
        lines.append(f"  return ({names},)" if len(self.outputs) == 1 else f"  return ({names})")
        return "\n".join(lines)

    __repr__ = __str__

    # ----- walking and rewriting (for passes) -------------------------------------------------
    def users(self, value: Value) -> list[Node]:
        """The nodes that read `value`, in graph order (each once). A scan: passes that query
        many values build their own map once."""
        return [node for node in self.nodes if any(v is value for v in node.input_values())]

    def replace_uses(self, old: Value, new: Value) -> None:
        """Make every node input and graph output that reads `old` read `new` instead."""
        for node in self.nodes:
            node.inputs = _replaced(node.inputs, old, new)
        self.outputs = [new if v is old else v for v in self.outputs]

    def remove_node(self, node: Node) -> None:
        """Drop `node`; its outputs must be unused (replace their uses first)."""
        produced = {id(v) for v in node.outputs}
        readers = [
            other
            for other in self.nodes
            if other is not node and any(id(v) in produced for v in other.input_values())
        ]
        if readers or any(id(v) in produced for v in self.outputs):
            where = f"by {readers[0]}" if readers else "as a graph output"
            raise ValueError(f"graph.remove_node: {node}: its outputs are still used {where}")
        self.nodes.remove(node)

    def verify(self) -> None:
        """Check the graph is well formed: every value defined before use, and every node's
        recorded outputs exactly what its op's meta rule gives for its inputs."""
        defined = {id(v) for v in self.inputs} | {id(v) for v, _ in self.captured}
        for node in self.nodes:
            for value in node.input_values():
                if id(value) not in defined:
                    raise AssertionError(
                        f"graph.verify: {node}: {value.name} is used before it is set"
                    )
            try:
                expected = node.op.meta(*_specs(node.inputs), **node.attrs)
            except Exception as error:
                raise AssertionError(
                    f"graph.verify: {node}: the meta rule raised {error!r}"
                ) from error
            expected = (expected,) if isinstance(expected, Spec) else tuple(expected)
            if len(expected) != len(node.outputs):
                raise AssertionError(
                    f"graph.verify: {node}: the meta rule gives {len(expected)} outputs, the "
                    f"node has {len(node.outputs)}"
                )
            for spec, value in zip(expected, node.outputs):
                if tuple(spec.shape) != value.shape or spec.dtype is not value.dtype:
                    raise AssertionError(
                        f"graph.verify: {node}: the meta rule gives "
                        f"{format_type(tuple(spec.shape), spec.dtype)} for {value.name}"
                    )
                if value.producer is not node:
                    raise AssertionError(
                        f"graph.verify: {node}: {value.name} names another producer"
                    )
                defined.add(id(value))
        for value in self.outputs:
            if id(value) not in defined:
                raise AssertionError(f"graph.verify: output {value.name} is never set")


def _replaced(item, old: Value, new: Value):
    if item is old:
        return new
    if isinstance(item, (tuple, list)):
        return type(item)(_replaced(part, old, new) for part in item)
    return item


def _specs(inputs: tuple) -> tuple:
    return tuple(_spec_of(item) for item in inputs)


def _spec_of(item):
    if isinstance(item, Value):
        return item.spec
    if isinstance(item, (tuple, list)):
        return type(item)(_spec_of(part) for part in item)
    return item


# ----- nested structures of tensors and literals ---------------------------------------------
class Leaf:
    """Where the i-th flattened tensor goes back in a rebuilt structure."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index

    def __repr__(self) -> str:
        return f"Leaf({self.index})"


def flatten(structure, is_leaf) -> tuple[list, Any]:
    """(leaves, skeleton): the items for which `is_leaf` holds, in order, and `structure` with
    each replaced by a `Leaf`. Tuples, lists and dicts are walked; anything else is a literal."""
    leaves: list = []

    def walk(item):
        if is_leaf(item):
            leaves.append(item)
            return Leaf(len(leaves) - 1)
        if isinstance(item, tuple) and hasattr(item, "_fields"):
            return _same_tuple(item, [walk(part) for part in item])
        if isinstance(item, (tuple, list)):
            return type(item)(walk(part) for part in item)
        if isinstance(item, dict):
            return {key: walk(part) for key, part in item.items()}
        return item

    return leaves, walk(structure)


def unflatten(skeleton, leaves: list):
    """The inverse of `flatten`: `skeleton` with each `Leaf(i)` replaced by `leaves[i]`."""
    if isinstance(skeleton, Leaf):
        return leaves[skeleton.index]
    if isinstance(skeleton, tuple) and hasattr(skeleton, "_fields"):
        return _same_tuple(skeleton, [unflatten(part, leaves) for part in skeleton])
    if isinstance(skeleton, (tuple, list)):
        return type(skeleton)(unflatten(part, leaves) for part in skeleton)
    if isinstance(skeleton, dict):
        return {key: unflatten(part, leaves) for key, part in skeleton.items()}
    return skeleton


def _same_tuple(template: tuple, parts: list) -> tuple:
    """A named tuple like `template` holding `parts`: a NamedTuple, or qilin's ReturnTypes
    (torch.return_types: `max(x, 0)` gives (values, indices))."""
    if hasattr(template, "_make"):
        return template._make(parts)
    return type(template)(template._name, **dict(zip(template._fields, parts)))
