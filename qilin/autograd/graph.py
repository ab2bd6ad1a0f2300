"""The autograd graph and the engine that walks it backward.

A `Node` is recorded by the dispatcher for each op whose inputs need gradients: it keeps the op
record, the attributes, what the op's vjp rule needs (inputs and/or outputs, with their version
numbers) and an edge to the producer of each input. Leaves that require grad end in an
`AccumulateGrad` node that adds into `.grad`. Because vjp rules are written in qilin ops, running
the backward pass with grad mode on (create_graph=True) records a graph of its own, which is how
gradients of gradients work.
"""

from __future__ import annotations

import weakref

from ..dtypes import FLOATING_NUMPY
from ..tensor import Tensor, _wrap
from . import anomaly, grad_mode

__all__ = [
    "Node",
    "AccumulateGrad",
    "run_backward",
    "accumulator_of",
    "RemovableHandle",
    "set_history",
]

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)


class RemovableHandle:
    """Returned by register_hook; `.remove()` unregisters the hook."""

    def __init__(self, hooks: list, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()


class _HookMixin:
    """Hooks on a node: per-output tensor hooks, retain_grad, and node-level hooks."""

    __slots__ = ()

    def add_tensor_hook(self, index: int, hook) -> RemovableHandle:
        if self._tensor_hooks is None:
            self._tensor_hooks = {}
        hooks = self._tensor_hooks.setdefault(index, [])
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def run_tensor_hooks(self, index: int, grad: Tensor) -> Tensor:
        for hook in self._tensor_hooks.get(index, ()):
            result = hook(grad)
            if result is not None:
                if not isinstance(result, Tensor) or result.shape != grad.shape:
                    raise RuntimeError(
                        f"hook '{getattr(hook, '__name__', hook)}' returned "
                        f"{type(result).__name__} {getattr(result, 'shape', '')}; expected a "
                        f"Tensor of shape {tuple(grad.shape)} or None"
                    )
                grad = result
        return grad

    def register_hook(self, hook) -> RemovableHandle:
        """`hook(grad_inputs, grad_outputs)` runs after this node computes its input grads."""
        return self._add_node_hook("post", hook)

    def register_prehook(self, hook) -> RemovableHandle:
        """`hook(grad_outputs)` runs before this node; it may return replacement grads."""
        return self._add_node_hook("pre", hook)

    def _add_node_hook(self, kind: str, hook) -> RemovableHandle:
        if self._tensor_hooks is None:
            self._tensor_hooks = {}
        hooks = self._tensor_hooks.setdefault(kind, [])
        hooks.append(hook)
        return RemovableHandle(hooks, hook)


_NEVER_WRITTEN = (0,)  # the version of a tensor without a counter yet


class Node(_HookMixin):
    """One recorded op application: `op.vjp(node, grad)` turns output grads into input grads."""

    __slots__ = (
        "op",
        "attrs",
        "next_edges",
        "needs_grad",
        "input_meta",
        "_output_meta",
        "_device",
        "__dict__",  # the rarely set attributes below (class defaults keep recording short)
        "__weakref__",
    )
    _inputs = _versions = None  # what the vjp reads, when the op record saves inputs
    _outputs = None  # saved outputs: (array, version counter, version) each
    _tensor_hooks = None
    _retained = None
    _freed = False
    trace = None  # the user's forward stack, under detect_anomaly

    def __init__(self, op, attrs, inputs, next_edges, needs_grad, input_meta, device):
        self.op = op
        self.attrs = attrs
        self.next_edges = next_edges
        self.needs_grad = needs_grad
        self.input_meta = input_meta  # (shape, numpy dtype) per input, None for non-tensors
        if op.save_inputs:
            self._inputs = inputs
            self._versions = tuple(
                [
                    (a._version_counter or _NEVER_WRITTEN)[0] if isinstance(a, Tensor) else 0
                    for a in inputs
                ]
            )
        self._output_meta = None
        self._device = device
        if anomaly.state.enabled:
            self.trace = anomaly.current_trace()

    # ----- what vjp rules read ---------------------------------------------------------------
    @property
    def inputs(self) -> tuple:
        if self._inputs is None:
            raise RuntimeError(
                _FREED
                if self._freed
                else f"{self.name()} did not save its inputs (op record says save_inputs=False)"
            )
        for value, version in zip(self._inputs, self._versions):
            if isinstance(value, Tensor) and value._version != version:
                # As in torch, the error comes only if the vjp reads the stale values (index
                # saves its input for the shape, but reads only the indices).
                return tuple(
                    _StaleInput.of(v, self, saved)
                    if isinstance(v, Tensor) and v._version != saved
                    else v
                    for v, saved in zip(self._inputs, self._versions)
                )
        return self._inputs

    @property
    def out(self) -> Tensor:
        return self.outs[0]

    @property
    def outs(self) -> tuple:
        if self._outputs is None:
            raise RuntimeError(
                _FREED
                if self._freed
                else f"{self.name()} did not save its outputs (op record says save_outputs=False)"
            )
        tensors = []
        for index, (data, counter, version) in enumerate(self._outputs):
            if counter[0] != version:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [{_type_name(data)} {list(data.shape)}], which is output "
                    f"{index} of {self.name()}, is at version {counter[0]}; expected version "
                    f"{version} instead. Hint: the backtrace further above shows the operation "
                    "that failed to compute its gradient."
                )
            # Rebuilt with this node as grad_fn so higher-order gradients flow through it.
            tensor = _wrap(data, self._device)
            if data.dtype in FLOATING_NUMPY and index not in self.op.nondiff_outputs:
                tensor._requires_grad, tensor._node, tensor._out_index = True, self, index
            tensor._version_counter = counter
            tensors.append(tensor)
        return tuple(tensors)

    def save_outputs(self, outputs: tuple) -> None:
        if len(outputs) == 1:
            data = outputs[0]._data
            self._output_meta = ((data.shape, data.dtype),)
        else:
            self._output_meta = tuple([(t._data.shape, t._data.dtype) for t in outputs])
        if self.op.save_outputs:
            self._outputs = tuple(
                [(t._data, t._shared_version_counter(), t._version) for t in outputs]
            )

    def add_retain_grad(self, tensor: Tensor) -> None:
        if self._retained is None:
            self._retained = {}
        self._retained[tensor._out_index] = weakref.ref(tensor)

    def release(self) -> None:
        if self._inputs is not None or self._outputs is not None:
            self._freed = True
        self._inputs = self._outputs = None

    # ----- the backward step -----------------------------------------------------------------
    def apply(self, grads: list, create_graph: bool) -> tuple:
        if self._freed:
            raise RuntimeError(_FREED)
        meta = self._output_meta
        if len(grads) == 1:
            incoming = grads[0]
        else:
            incoming = tuple(
                g if g is not None else _zeros(meta[i], self._device) for i, g in enumerate(grads)
            )
        # Record the vjp's own ops only for create_graph (saved and restored by hand: this runs
        # once per node, and a context-manager object per node is measurable).
        state = grad_mode.state
        enabled = state.enabled
        state.enabled = create_graph
        try:
            result = self.op.vjp(self, incoming)
            if not isinstance(result, tuple):
                result = (result,)
            return tuple([self._conform(i, g) for i, g in enumerate(result)])
        finally:
            state.enabled = enabled

    def _conform(self, index: int, grad):
        """Give an input's grad the input's dtype; a wrong shape is a bug in a vjp rule."""
        if grad is None or not self.needs_grad[index]:
            return None
        shape, dtype = self.input_meta[index]
        if grad._data.dtype != dtype:
            grad = grad.to(dtype=dtype)
        if grad._data.shape != shape:
            raise RuntimeError(
                f"{self.name()}: the vjp of '{self.op.name}' returned a gradient of shape "
                f"{tuple(grad.shape)} for input {index}, whose shape is {tuple(shape)}"
            )
        return grad

    def name(self) -> str:
        return self.op.backward_name

    @property
    def next_functions(self) -> tuple:
        return tuple(edge if edge is not None else (None, 0) for edge in self.next_edges)

    @property
    def metadata(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"


class AccumulateGrad(_HookMixin):
    """The sink for a leaf tensor: adds the incoming gradient into `tensor.grad`."""

    __slots__ = ("tensor_ref", "_tensor_hooks", "_post_hooks", "__weakref__")
    next_edges = ()

    def __init__(self, tensor: Tensor):
        self.tensor_ref = weakref.ref(tensor)
        self._tensor_hooks = None
        self._post_hooks = None

    @property
    def variable(self) -> Tensor:
        return self.tensor_ref()

    def accumulate(self, grad: Tensor, create_graph: bool, owned: set) -> None:
        tensor = self.tensor_ref()
        if tensor is None:
            return
        current = tensor._grad
        if current is None:
            if not create_graph:
                data = grad._data
                # Store a private copy unless this array is fresh and used nowhere else, so that
                # `p.grad.zero_()` can never write into another tensor's gradient.
                if id(data) in owned or data.base is not None or not data.flags.writeable:
                    data = data.copy()
                owned.add(id(data))
                grad = _wrap(data, grad._device)
            tensor._grad = grad
        elif create_graph or current._requires_grad:
            tensor._grad = current + grad
        else:
            current._data += grad._data
            current._bump_version()
        for hook in self._post_hooks or ():
            hook(tensor)

    def add_post_hook(self, hook) -> RemovableHandle:
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(hook)
        return RemovableHandle(self._post_hooks, hook)

    def name(self) -> str:
        return "AccumulateGrad"

    next_functions = ()

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {hex(id(self))}>"


def accumulator_of(tensor: Tensor) -> AccumulateGrad:
    found = tensor._accumulator
    if found is None:
        found = tensor._accumulator = AccumulateGrad(tensor)
    return found


def set_history(tensor: Tensor, node, index: int) -> None:
    """Give `tensor` a new producer after an in-place write. As in torch, retain_grad moves to
    the new producer, while hooks registered earlier stay with the old one."""
    old_node, old_index = tensor._node, tensor._out_index
    tensor._node, tensor._out_index, tensor._requires_grad = node, index, True
    if tensor._retains_grad:
        if old_node is not None and getattr(old_node, "_retained", None):
            old_node._retained.pop(old_index, None)
        node.add_retain_grad(tensor)


def edge_of(tensor: Tensor):
    """The (node, output index) that a gradient for `tensor` flows into."""
    if tensor._base is not None and getattr(tensor, "_view", None) is not None:
        from .views import refresh

        refresh(tensor)  # its root may have been written in place since it was made
    if tensor._node is not None:
        return (tensor._node, tensor._out_index)
    return (accumulator_of(tensor), 0)


def run_backward(
    roots: list,
    root_grads: list,
    *,
    retain_graph: bool,
    create_graph: bool,
    capture: list | None = None,
    accumulate_into: set | None = None,
    targets: set | None = None,
) -> list | None:
    """Propagate `root_grads` from the `roots` edges to the leaves.

    capture: edges whose incoming gradient is returned (autograd.grad); then nothing is
    accumulated into `.grad`. accumulate_into: if given, only these AccumulateGrad nodes add.
    targets: nodes that must run (backward(inputs=...)). With capture or targets, only the part
    of the graph that leads to them runs, as in torch: other hooks do not fire.
    """
    dependencies, parents = _dependencies(
        roots, track_parents=capture is not None or targets is not None
    )
    execute = reach = None
    if parents is not None:
        goals = set(targets or ()) | {node for node, _ in capture or ()}
        reach = _reaching(goals, parents)
        execute = {
            node
            for node in reach
            if node in (targets or ())
            or any(edge is not None and edge[0] in reach for edge in node.next_edges)
        }

    buffers: dict = {}
    for (node, index), grad in zip(roots, root_grads):
        _add_to_buffer(buffers, node, index, grad)
    captured = {edge: None for edge in capture} if capture is not None else None
    owned: set = set(id(g._data) for g in root_grads)
    ready = [node for node in dict.fromkeys(node for node, _ in roots) if node not in dependencies]
    while ready:
        node = ready.pop()
        grads = buffers.pop(node, None)
        if reach is not None and node not in reach:
            continue  # leads to nothing asked for; its children are not reached either
        runs = execute is None or node in execute
        input_grads = ()
        if grads is not None:
            input_grads = _run_node(
                node, grads, create_graph, captured, accumulate_into, owned, runs
            )
            if runs and not retain_graph and isinstance(node, Node):
                node.release()
        if not runs:
            continue
        for position, edge in enumerate(node.next_edges):
            if edge is None:
                continue
            child, index = edge
            grad = input_grads[position] if input_grads else None
            if grad is not None:
                _add_to_buffer(buffers, child, index, grad)
            remaining = dependencies[child] - 1
            dependencies[child] = remaining
            if remaining == 0:
                ready.append(child)
    if captured is not None:
        return [captured[edge] for edge in capture]
    return None


def _dependencies(roots: list, track_parents: bool) -> tuple:
    """How many edges point at each node reachable from `roots` (and, if asked, from where)."""
    dependencies: dict = {}
    parents: dict | None = {} if track_parents else None
    stack = list(dict.fromkeys(node for node, _ in roots))  # two roots may share a node
    seen = set(stack)
    while stack:
        node = stack.pop()
        for edge in node.next_edges:
            if edge is None:
                continue
            child = edge[0]
            dependencies[child] = dependencies.get(child, 0) + 1
            if parents is not None:
                parents.setdefault(child, []).append(node)
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return dependencies, parents


def _reaching(goals: set, parents: dict) -> set:
    """The goals and every node with a path to one of them."""
    reach = set(goals)
    stack = list(goals)
    while stack:
        for parent in parents.get(stack.pop(), ()):
            if parent not in reach:
                reach.add(parent)
                stack.append(parent)
    return reach


def _run_node(
    node, grads: list, create_graph: bool, captured, accumulate_into, owned, runs: bool = True
) -> tuple:
    """Hooks, retained and captured grads, then (if `runs`) the node itself; torch's order."""
    hooks = node._tensor_hooks
    if hooks:
        for index, grad in enumerate(grads):
            if grad is not None and index in hooks:
                grads[index] = node.run_tensor_hooks(index, grad)
    if isinstance(node, Node) and node._retained:
        for index, ref in node._retained.items():
            tensor = ref()
            if tensor is not None and grads[index] is not None:
                grad = grads[index] if create_graph else grads[index].detach()
                tensor._grad = grad if tensor._grad is None else tensor._grad + grad
    if captured is not None:
        for index, grad in enumerate(grads):
            if (node, index) in captured and grad is not None:
                previous = captured[(node, index)]
                captured[(node, index)] = grad if previous is None else previous + grad
    if not runs:
        return ()
    if hooks and "pre" in hooks:
        for hook in hooks["pre"]:
            replaced = hook(tuple(grads))
            if replaced is not None:
                grads = list(replaced)
    if isinstance(node, AccumulateGrad):
        if captured is None and (accumulate_into is None or node in accumulate_into):
            node.accumulate(grads[0], create_graph, owned)
        input_grads = ()
    elif anomaly.state.enabled:
        try:
            input_grads = node.apply(grads, create_graph)
        except Exception as error:
            anomaly.annotate(error, node)  # show the forward line that made this node
            raise
    else:
        input_grads = node.apply(grads, create_graph)
    if hooks and "post" in hooks:
        for hook in hooks["post"]:
            replaced = hook(input_grads, tuple(grads))
            if replaced is not None:
                input_grads = tuple(replaced)
    if anomaly.state.enabled:
        anomaly.check_grads(node, input_grads)
    return input_grads


def _add_to_buffer(buffers: dict, node, index: int, grad: Tensor) -> None:
    slots = buffers.get(node)
    if slots is None:
        count = len(node._output_meta) if isinstance(node, Node) and node._output_meta else 1
        slots = buffers[node] = [None] * max(count, index + 1)
    previous = slots[index]
    slots[index] = grad if previous is None else previous + grad


def _zeros(meta, device) -> Tensor:
    shape, dtype = meta
    return _wrap(device.backend.xp.zeros(shape, dtype=dtype), device)


def _type_name(data) -> str:
    from .. import dtypes

    name = dtypes.from_numpy(data.dtype).name
    return "qilin." + {
        "float32": "FloatTensor",
        "float64": "DoubleTensor",
        "int64": "LongTensor",
        "float16": "HalfTensor",
        "bool": "BoolTensor",
    }.get(name, name + "Tensor")


def _stale_error(value: Tensor, node: Node, version: int) -> RuntimeError:
    data = value._data
    which = (
        ""
        if value._node is None
        else (f", which is output {value._out_index} of {value._node.name()}")
    )
    where = ""
    if getattr(node, "trace", None):
        frame = node.trace[-1]
        where = f" It was saved by this forward line: {frame.filename}:{frame.lineno}: {frame.line}"
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [{_type_name(data)} {list(data.shape)}]{which}, is at version "
        f"{value._version}; expected version {version} instead (it is an input of "
        f"{node.name()}).{where or _ANOMALY_HINT}"
    )


_ANOMALY_HINT = (
    " Hint: enable anomaly detection to find the forward line that saved it, with "
    "qilin.autograd.set_detect_anomaly(True)."
)


class _StaleInput(Tensor):
    """A saved input that was modified in place after it was saved: reading its values (which
    any op does through `_data`) raises torch's error; unused, it is harmless."""

    __slots__ = ("_source", "_saved_by", "_saved_version")

    @classmethod
    def of(cls, value: Tensor, node: Node, version: int) -> _StaleInput:
        stale = object.__new__(cls)
        for name in Tensor.__slots__:
            if name not in ("_data", "__weakref__") and hasattr(value, name):
                setattr(stale, name, getattr(value, name))
        stale._source, stale._saved_by, stale._saved_version = value, node, version
        return stale

    @property
    def _data(self):
        raise _stale_error(self._source, self._saved_by, self._saved_version)
