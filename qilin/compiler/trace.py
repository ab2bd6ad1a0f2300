"""Tracing: run a function once on stand-in tensors and record the primitives it applies.

    graph = trace(lambda x, w: (x @ w).relu(), x, w)

The tensor arguments are replaced by traced tensors: ordinary qilin Tensors whose `_data` is a
`TracedArray`, a placeholder that knows its shape and dtype but holds no values. Every op goes
through the same dispatcher as in eager mode; while a trace is active, `dispatch.apply` hands
the call to the `Tracer`, which asks the op's meta rule for the output shapes and dtypes, makes
traced outputs and appends a `Node` (no kernel runs). Tensor methods, properties, operators and
autograd work unchanged, since they only read shapes and dtypes or call ops. Autograd records its
nodes as in eager mode, so `qilin.autograd.grad` inside the traced function runs the vjp rules,
which are qilin ops, and they are traced too.

What cannot be captured raises a clear error naming the user's line: reading values (`.item()`,
`bool(t)`, printing), in-place writes and `out=` (not yet), random numbers drawn outside the
random ops (randint, randperm, normal, multinomial, poisson, in-place samplers: not yet), and
ops whose output shape depends on the values (nonzero, unique, masked_select). The random ops
(rand, randn, bernoulli: qilin/ops/random_ops.py) take a Generator, which the graph holds by
reference as a `State`, so running the graph draws from it as eager would. A traced tensor
kept past its trace (in a global, on self) raises TraceError wherever it is used later.
One thread traces at a time (`_TRACING`); other threads run eagerly meanwhile.
"""

from __future__ import annotations

import inspect
import linecache
import math
import os
import sys
import threading

import numpy as np

from .. import dispatch
from ..autograd import grad_mode
from ..device import CPU
from ..errors import located
from ..ops.registry import Spec
from ..random import Generator
from ..tensor import Tensor, _wrap
from .graph import Graph, Leaf, Node, State, Value, flatten, format_type, unflatten

__all__ = ["trace", "TracedArray", "TraceError", "is_traced"]

_PACKAGE_ROOT = dispatch._PACKAGE
_NUMPY_ROOT = os.path.dirname(np.__file__)

_OUT_OF_GRAPH = (
    "Python code that depends on a tensor's values cannot be captured in a graph. To choose "
    "between values, compute both and use qilin.where(condition, a, b); otherwise keep this "
    "part eager (outside the traced function)."
)

# What the user wrote, by the qilin entry point that ended up reading a traced tensor's data.
_READS = {
    "__bool__": "bool(tensor) (an `if` or `while` on a tensor)",
    "item": "tensor.item()",
    "tolist": "tensor.tolist()",
    "__float__": "float(tensor)",
    "__int__": "int(tensor)",
    "__index__": "using a tensor as a Python index",
    "__complex__": "complex(tensor)",
    "numpy": "tensor.numpy()",
    "__array__": "converting a tensor to a NumPy array",
    "__repr__": "printing a tensor",
    "__format__": "formatting a tensor",
    "data_ptr": "tensor.data_ptr()",
}

# Ops whose eager outputs are C-contiguous when their inputs are (reshape chooses a view or a
# copy by contiguity, so a traced value must know what eager would have held).
_CONTIGUOUS_FAMILIES = ("elementwise", "reduction")
_CONTIGUOUS_OPS = frozenset({"reshape", "cat", "copy", "cast", "matmul", "linear", "where"})


class TraceError(RuntimeError):
    """A traced function did something a graph cannot hold (it read a tensor's values)."""


def _caller() -> tuple[str, str]:
    """(entry, location): the outermost qilin function below the user's frame (what the user
    called) and the user's 'file:line: code'. NumPy frames in between (np.asarray reaching
    into a placeholder) count as qilin's, so the user's own line is found past them."""
    frame, entry = sys._getframe(1), ""
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_PACKAGE_ROOT):
            entry = frame.f_code.co_name
        elif not filename.startswith(_NUMPY_ROOT):
            break
        frame = frame.f_back
    if frame is None:
        return entry, "<unknown>"
    code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
    return entry, f"{where}: {code}" if code else where


def _at_user_line(error: BaseException) -> BaseException:
    _, where = _caller()
    error.args = (f"{error} (at {where})",)
    return located(error)  # marks it, so the dispatcher passes it on unchanged


def _read_error() -> BaseException:
    name, where = _caller()
    what = _READS.get(name, f"reading a traced tensor's values (in {name})")
    return _at_user_line(
        TraceError(
            f"qilin.compile: {what} is not allowed while tracing. {_OUT_OF_GRAPH} (at {where})"
        )
    )


def _escaped_error() -> BaseException:
    return _at_user_line(
        TraceError(
            "qilin.compile: this tensor is a traced stand-in from a trace that has ended (it "
            "escaped the traced function: kept in a global, a list or on self); it holds no "
            "values. Return it from the traced function instead"
        )
    )


def _value_error(tracer: Tracer) -> BaseException:
    """Reading a traced tensor's values: refused while its trace runs, and meaningless after
    (a leaked traced tensor used eagerly must not reach NumPy as an unknown object)."""
    return _read_error() if tracer.active else _escaped_error()


def _accumulate_error() -> BaseException:
    # `real_grad._data += traced_grad._data`: backward() accumulating into a parameter.
    return _at_user_line(
        NotImplementedError(
            "qilin.compile: loss.backward() accumulating into the .grad of a tensor that is "
            "not a traced argument (a parameter) is not supported yet; use "
            "qilin.autograd.grad(loss, params) inside the traced function"
        )
    )


def _inplace_error(what: str) -> BaseException:
    return _at_user_line(
        NotImplementedError(
            f"qilin.compile: {what} on a traced tensor is not supported yet; write it out of "
            "place (y = x + 1 instead of x += 1; no out=) or keep this part eager"
        )
    )


class _Flags:
    __slots__ = ("c_contiguous", "writeable", "owndata")

    def __init__(self, contiguous: bool):
        self.c_contiguous = contiguous
        self.writeable = False  # direct writes (setitem's fast path) go through write_into
        self.owndata = True


class TracedArray:
    """Stands in for a backend array inside a traced tensor: shape and dtype, no values.

    It answers what the Tensor class and composite ops read about an array (shape, dtype, ndim,
    size, itemsize, flags, strides); reading values raises `TraceError` at the user's line;
    writing into it raises NotImplementedError. It is immutable, so `copy()` is itself.
    """

    __slots__ = ("value", "shape", "dtype", "ndim", "size", "flags", "tracer")
    base = None

    def __init__(self, value: Value, tracer: Tracer):
        self.value = value
        self.tracer = tracer
        self.shape = value.shape
        self.dtype = value.dtype.numpy
        self.ndim = len(value.shape)
        self.size = math.prod(value.shape)
        self.flags = _Flags(value.contiguous)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def strides(self) -> tuple:
        if not self.value.contiguous:
            raise _value_error(self.tracer)
        steps, step = [], self.dtype.itemsize
        for size in reversed(self.shape):
            steps.append(step)
            step *= max(size, 1)
        return tuple(reversed(steps))

    def copy(self, order="C"):
        return self

    def reshape(self, *shape, order="C", copy=None):
        if copy is False and not self.value.contiguous:
            raise ValueError("a non-contiguous traced value is not reshaped as a view")
        return self  # only reached on the way to reading values (item), which raises

    def __array__(self, dtype=None, copy=None):
        raise _value_error(self.tracer)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # NumPy hands here every ufunc that meets a placeholder: a composite computing on
        # `_data`, a kernel run eagerly on a leaked traced tensor, or backward() adding a traced
        # gradient into a real `.grad` (`grad._data += traced`, an ufunc with out=).
        if self.tracer.active and any(type(o) is not TracedArray for o in kwargs.get("out", ())):
            raise _accumulate_error()
        raise _value_error(self.tracer)

    def item(self, *args, **kwargs):
        raise _value_error(self.tracer)

    # What ndarray methods a composite might call on `_data` to read values.
    tolist = __float__ = __int__ = __index__ = __bool__ = __iter__ = item
    sum = min = max = any = all = mean = prod = argmax = argmin = nonzero = item
    astype = ravel = flatten = view = tobytes = __len__ = __getitem__ = item
    __invert__ = __neg__ = __abs__ = __add__ = __sub__ = __mul__ = __truediv__ = item
    __lt__ = __le__ = __gt__ = __ge__ = __and__ = __or__ = __xor__ = __rsub__ = __rmul__ = item
    __radd__ = __rtruediv__ = __matmul__ = __rmatmul__ = __pow__ = __rpow__ = item
    __eq__ = __ne__ = item  # not identity: `data == 0` compares values
    __hash__ = object.__hash__

    @property
    def __array_interface__(self):
        raise _value_error(self.tracer)

    def __setitem__(self, key, value):
        raise _inplace_error("an in-place write") if self.tracer.active else _escaped_error()

    def __iadd__(self, other):
        raise _inplace_error("an in-place update") if self.tracer.active else _escaped_error()

    __isub__ = __imul__ = __itruediv__ = __iadd__

    def __repr__(self) -> str:
        return f"<traced {self.value.name}: {self.value.type_text}>"


def is_traced(tensor) -> bool:
    return isinstance(tensor, Tensor) and type(tensor._data) is TracedArray


class Tracer:
    """Records the ops applied while `trace` runs a function (on the thread that started it)."""

    def __init__(self):
        self.graph = Graph()
        self.thread = threading.get_ident()
        self.active = True  # False once trace() returns: its traced tensors are then leaks
        self._captured: dict[int, Value] = {}
        self._states: dict[int, State] = {}
        self._counter = 0
        self.grads_before: dict[int, object] = {}

    # ----- values ----------------------------------------------------------------------------
    def new_input(self, example: Tensor, name: str) -> Tensor:
        data = example._data
        contiguous = bool(getattr(getattr(data, "flags", None), "c_contiguous", True))
        value = Value(
            name,
            tuple(data.shape),
            example.dtype,
            example._device,
            kind="input",
            contiguous=contiguous,
        )
        self.graph.inputs.append(value)
        return _wrap(TracedArray(value, self), example._device, example._requires_grad)

    def value_of(self, tensor: Tensor) -> Value:
        data = tensor._data
        if type(data) is TracedArray:
            if data.tracer is self:
                return data.value
            if not data.tracer.active:
                raise _escaped_error()
            raise _at_user_line(
                NotImplementedError(
                    "qilin.compile: a traced tensor of an enclosing trace was used inside a "
                    "nested trace without being passed to it as an argument; pass it in"
                )
            )
        found = self._captured.get(id(tensor))
        if found is None:
            # A real tensor read by the function: lifted as an extra input, held by reference.
            found = Value(
                f"c{len(self.graph.captured)}",
                tuple(data.shape),
                tensor.dtype,
                tensor._device,
                kind="captured",
                contiguous=bool(data.flags.c_contiguous),
            )
            self._captured[id(tensor)] = found
            self.graph.captured.append((found, tensor))
            self.grads_before[id(tensor)] = tensor._grad  # for the escape check in trace()
        return found

    def state_of(self, generator: Generator) -> State:
        """A Generator an op draws from: held by reference, one State per generator."""
        found = self._states.get(id(generator))
        if found is None:
            found = self._states[id(generator)] = State(f"g{len(self._states)}", generator)
            self.graph.states.append(found)
        return found

    def _to_graph(self, item):
        if isinstance(item, Tensor):
            return self.value_of(item)
        if isinstance(item, Generator):
            return self.state_of(item)
        if isinstance(item, (tuple, list)):
            return type(item)(self._to_graph(part) for part in item) if item else item
        return item

    # ----- the dispatcher's hook -------------------------------------------------------------
    def apply(self, op, args: tuple, attrs: dict):
        """`dispatch.apply` while tracing: meta rule, traced outputs, a Node; no kernel."""
        inputs = tuple(self._to_graph(a) for a in args)
        device = next((a._device for a in args if isinstance(a, Tensor)), CPU)
        node = self._add_node(op, inputs, attrs, _output_specs(op, args, attrs), device)
        outputs = tuple(_wrap(TracedArray(v, self), device) for v in node.outputs)
        if (
            grad_mode.state.enabled
            and op.vjp is not None
            and any(isinstance(a, Tensor) and a._requires_grad for a in args)
        ):
            dispatch._record(op, args, attrs, outputs, device)
        return outputs[0] if op.num_outputs == 1 else outputs

    def _add_node(self, op, inputs: tuple, attrs: dict, specs: tuple, device) -> Node:
        contiguous = self._output_contiguity(op, inputs)
        node = Node(op, inputs, dict(attrs))
        values = []
        for index, spec in enumerate(specs):
            name = f"%{self._counter}"
            self._counter += 1
            values.append(
                Value(
                    name,
                    tuple(spec.shape),
                    spec.dtype,
                    device,
                    producer=node,
                    index=index,
                    contiguous=contiguous,
                )
            )
        node.outputs = tuple(values)
        self.graph.nodes.append(node)
        return node

    @staticmethod
    def _output_contiguity(op, inputs: tuple) -> bool:
        tensors = [v for v in inputs if isinstance(v, Value)]
        inputs_contiguous = all(v.contiguous for v in tensors)
        if op.view:
            return op.name in ("view", "bitcast") and inputs_contiguous
        if op.family in _CONTIGUOUS_FAMILIES or op.name in _CONTIGUOUS_OPS:
            return inputs_contiguous
        return False

    def check_write(self, target: Tensor, data) -> None:
        """`dispatch.write_into` while tracing: writes into traced or captured tensors, or of
        traced values, cannot be recorded yet."""
        if threading.get_ident() != self.thread:
            return
        if (
            type(target._data) is TracedArray
            or type(data) is TracedArray
            or id(target) in self._captured
        ):
            raise _inplace_error("an in-place write (an in-place op, out=, or .grad accumulation)")

    def random_error(self) -> BaseException:
        return _at_user_line(
            NotImplementedError(
                "qilin.compile: random numbers other than rand, randn and bernoulli (randint, "
                "randperm, normal, multinomial, poisson, in-place samplers such as normal_) "
                "inside a traced function are not supported yet; draw them outside and pass "
                "them in, or keep this part eager"
            )
        )


def _output_specs(op, args: tuple, attrs: dict) -> tuple:
    """The op's output Specs from its meta rule; a size of -1 there means it depends on the
    values (nonzero, unique), which a graph of fixed shapes cannot hold."""
    try:
        expected = op.meta(*(_spec(a) for a in args), **attrs)
    except dispatch._USER_ERRORS as error:
        raise located(error) from None
    expected = (expected,) if isinstance(expected, Spec) else tuple(expected)
    for spec in expected:
        if any(size < 0 for size in spec.shape):
            raise _at_user_line(
                NotImplementedError(
                    f"qilin.compile: {op.name}'s output shape depends on the input values "
                    f"({tuple(spec.shape)}), which a graph of fixed shapes cannot hold yet; "
                    "keep this part eager"
                )
            )
    return expected


def _spec(item):
    if isinstance(item, Tensor):
        return Spec(tuple(item._data.shape), item.dtype)
    if isinstance(item, (tuple, list)):
        return type(item)(_spec(part) for part in item)
    return item


# ----- the entry point ---------------------------------------------------------------------
# dispatch._tracer is one global (eager pays a single load for it), so one thread traces at a
# time: a second thread's trace waits here. Re-entrant, for a trace inside a traced function.
_TRACING = threading.RLock()


def trace(fn, *example_args) -> Graph:
    """Run `fn(*example_args)` once with traced tensors in place of the tensor arguments (also
    inside tuples, lists and dicts) and return the recorded Graph. No kernel runs."""
    tracer = Tracer()
    leaves, skeleton = flatten(example_args, lambda item: isinstance(item, Tensor))
    names = _argument_names(fn, example_args, skeleton)
    traced = [tracer.new_input(t, name) for t, name in zip(leaves, names)]
    tracer.graph.input_structure = skeleton
    arguments = unflatten(skeleton, traced)
    with _TRACING:
        previous = dispatch._tracer
        dispatch._tracer = tracer
        try:
            result = fn(*arguments)
            outputs, structure = flatten(result, lambda item: isinstance(item, Tensor))
            output_values = [tracer.value_of(t) for t in outputs]
        finally:
            dispatch._tracer = previous
            tracer.active = False
            escaped = _restore_captured_grads(tracer)
    if escaped:
        raise NotImplementedError(
            "qilin.compile: loss.backward() into tensors that are not traced arguments ("
            + ", ".join(escaped)
            + ") is not supported yet; use qilin.autograd.grad(loss, params) in the traced "
            "function and return the gradients"
        )
    tracer.graph.outputs = output_values
    tracer.graph.output_structure = structure
    return tracer.graph


def _restore_captured_grads(tracer: Tracer) -> list:
    """Put back the .grad of captured tensors that a traced backward() set (a traced gradient
    must not outlive its trace); return the names of those tensors."""
    escaped = []
    for value, tensor in tracer.graph.captured:
        grad = tensor._grad
        if grad is not None and is_traced(grad):
            tensor._grad = tracer.grads_before.get(id(tensor))
            escaped.append(f"{value.name}: {format_type(value.shape, value.dtype)}")
    return escaped


def _argument_names(fn, example_args: tuple, skeleton) -> list:
    """Graph input names from fn's parameter names: `x`, `pair_0`, `args_2`, ..."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    names = []
    for position, argument in enumerate(skeleton):
        if position < len(parameters) and parameters[position].kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            base = parameters[position].name
        elif parameters and parameters[-1].kind is inspect.Parameter.VAR_POSITIONAL:
            base = f"{parameters[-1].name}_{position}"
        else:
            base = f"arg{position}"
        count = len(flatten(argument, lambda item: isinstance(item, Leaf))[0])
        if isinstance(argument, Leaf):
            names.append(base)
        else:
            names.extend(f"{base}_{i}" for i in range(count))
    return names
