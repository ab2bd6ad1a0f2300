"""Binds the op functions to Tensor as methods, operators and in-place variants.

Every method here is the same function as `qilin.X` (defined once, in `qilin/ops/`); only
methods whose torch signature differs from the function's (`view(*shape)`, `to(...)`,
`size(dim)`) are written out.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import dtypes
from . import random as _random
from .device import Device, resolve
from .dispatch import apply, inplace, write_into
from .ops import (
    composite,
    creation,
    elementwise,
    gamma,
    indexing,
    linalg,
    movement,
    reduction,
    softmax,
    sorting,
    statistics,
    windows,
)
from .ops.movement import CAST
from .tensor import Tensor, _wrap

# Functions bound as methods under the same name: `t.exp()` is `qilin.exp(t)`.
_SAME_NAME = {
    elementwise: elementwise.__all__,
    reduction: [n for n in reduction.__all__ if n != "sum_to"],
    movement: [
        n
        for n in movement.__all__
        if n
        not in (
            "broadcast_tensors",
            "broadcast_shapes",
            "cat",
            "concat",
            "concatenate",
            "stack",
            "hstack",
            "vstack",
            "dstack",
            "column_stack",
            "meshgrid",
            "atleast_1d",
            "atleast_2d",
            "atleast_3d",
        )
    ],
    indexing: [n for n in indexing.__all__ if n not in ("getitem", "setitem", "ReturnTypes")],
    linalg: [n for n in linalg.__all__ if n not in ("einsum", "chain_matmul")],
    sorting: sorting.__all__,
    composite: composite.__all__,
    softmax: softmax.__all__,
    gamma: gamma.__all__,
    statistics: statistics.__all__,
}

# In-place variants `x.add_(y)`: computed out of place, written into x's memory.
_INPLACE = [
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "neg",
    "abs",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "sqrt",
    "rsqrt",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    "sinh",
    "cosh",
    "tanh",
    "sigmoid",
    "erf",
    "erfinv",
    "floor",
    "ceil",
    "round",
    "trunc",
    "frac",
    "sign",
    "square",
    "reciprocal",
    "clamp",
    "clip",
    "clamp_min",
    "clamp_max",
    "fmod",
    "remainder",
    "lerp",
    "relu",
    "nan_to_num",
    "floor_divide",
    "masked_fill",
    "index_fill",
    "index_add",
    "index_copy",
    "index_put",
    "masked_scatter",
    "scatter",
    "scatter_add",
    "scatter_reduce",
    "logical_not",
    "logical_and",
    "logical_or",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_not",
    "hypot",
    "xlogy",
    "copysign",
    "deg2rad",
    "rad2deg",
    "tril",
    "triu",
    "maximum",
    "minimum",
    "subtract",
    "multiply",
    "divide",
    "true_divide",
    "negative",
    "absolute",
    "arcsin",
    "arccos",
    "arctan",
    "arctan2",
    "fix",
    "sgn",
    "addmm",
    "baddbmm",
    "addmv",
    "addbmm",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "addcmul",
    "addcdiv",
    "logit",
    "sinc",
    "heaviside",
    "lgamma",
    "digamma",
    "polygamma",
    "mvlgamma",
    "i0",
]


def _bind_same_name() -> None:
    for module, names in _SAME_NAME.items():
        for name in names:
            if name not in Tensor.__dict__:
                setattr(Tensor, name, getattr(module, name))


def _make_inplace(name: str, function):
    def method(self, *args, **kwargs):
        return inplace(self, lambda: function(self, *args, **kwargs), name)

    method.__name__ = method.__qualname__ = name + "_"
    return method


def _bind_inplace() -> None:
    for name in _INPLACE:
        function = getattr(Tensor, name)
        setattr(Tensor, name + "_", _make_inplace(name, function))


# ----- operators ---------------------------------------------------------------------------------
_OPERAND_TYPES = (Tensor, float, int, bool, numbers.Number, np.generic)  # cheap checks first
_NO_ATTRS: dict = {}


def _binary_operator(op, reflected: bool = False):
    """`t + other` calls the dispatcher directly; unknown operand types get NotImplemented so
    that Python can try the other operand's reflected method."""
    if reflected:

        def operator(self, other):
            if isinstance(other, _OPERAND_TYPES):
                return apply(op, (other, self), _NO_ATTRS)
            return NotImplemented
    else:

        def operator(self, other):
            if isinstance(other, _OPERAND_TYPES):
                return apply(op, (self, other), _NO_ATTRS)
            return NotImplemented

    return operator


def _matmul_operator(self, other):
    return linalg.matmul(self, other) if isinstance(other, Tensor) else NotImplemented


def _rmatmul_operator(self, other):
    return linalg.matmul(other, self) if isinstance(other, Tensor) else NotImplemented


def _invert(self):
    return (
        elementwise.logical_not(self)
        if self.dtype is dtypes.bool
        else elementwise.bitwise_not(self)
    )


_OPERATORS = {
    "add": elementwise.ADD,
    "sub": elementwise.SUB,
    "mul": elementwise.MUL,
    "truediv": elementwise.DIV,
    "floordiv": elementwise.FLOOR_DIVIDE,
    "mod": elementwise.REMAINDER,
    "pow": elementwise.POW,
    "and": elementwise.BITWISE_AND,
    "or": elementwise.BITWISE_OR,
    "xor": elementwise.BITWISE_XOR,
    "lshift": elementwise.LEFT_SHIFT,
    "rshift": elementwise.RIGHT_SHIFT,
}
_COMPARISONS = {
    "eq": elementwise.EQ,
    "ne": elementwise.NE,
    "lt": elementwise.LT,
    "le": elementwise.LE,
    "gt": elementwise.GT,
    "ge": elementwise.GE,
}


def _bind_operators() -> None:
    for name, op in _OPERATORS.items():
        setattr(Tensor, f"__{name}__", _binary_operator(op))
        setattr(Tensor, f"__r{name}__", _binary_operator(op, reflected=True))
        setattr(Tensor, f"__i{name}__", _make_inplace(name, _binary_operator(op)))
    for name, op in _COMPARISONS.items():
        setattr(Tensor, f"__{name}__", _binary_operator(op))
    Tensor.__matmul__ = _matmul_operator
    Tensor.__rmatmul__ = _rmatmul_operator
    Tensor.__neg__ = elementwise.NEG
    Tensor.__pos__ = elementwise.positive
    Tensor.__abs__ = elementwise.ABS
    Tensor.__invert__ = _invert
    Tensor.__getitem__ = indexing.getitem
    Tensor.__setitem__ = indexing.setitem
    Tensor.__hash__ = lambda self: id(self)


# ----- methods whose signature differs from the function -------------------------------------
def _parse_to(args, kwargs):
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    for value in args:
        if isinstance(value, Tensor):
            device, dtype = value.device, value.dtype
        elif isinstance(value, (str, Device)):
            device = value
        elif value is not None:
            dtype = value
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    return (
        resolve(device) if device is not None else None,
        dtypes.to_dtype(dtype) if dtype is not None else None,
        copy,
    )


def to(self, *args, **kwargs) -> Tensor:
    """`to(dtype)`, `to(device)`, `to(device, dtype)`, `to(other)`; returns self if unchanged."""
    device, dtype, copy = _parse_to(args, kwargs)
    result = self
    if dtype is not None and dtype is not self.dtype:
        result = CAST(result, dtype=dtype)
    if device is not None and device is not self._device:
        result = _to_device(result, device)
    if copy and result is self:
        result = movement.clone(self)
    return result


def _to_device(tensor: Tensor, device: Device) -> Tensor:
    host = tensor._device.backend.to_host(tensor._data)
    moved = _wrap(device.backend.from_host(host), device)
    if tensor._requires_grad:
        return _DeviceCopy.apply(tensor, device)
    return moved


def _make_device_copy():
    from .autograd.function import Function

    class DeviceCopy(Function):
        @staticmethod
        def forward(ctx, tensor, device):
            ctx.source = tensor.device
            host = tensor._device.backend.to_host(tensor._data)
            return _wrap(device.backend.from_host(host), device)

        @staticmethod
        def backward(ctx, grad):
            return grad.to(ctx.source), None

    return DeviceCopy


def _conversion(dtype):
    def method(self, memory_format=None):
        return to(self, dtype)

    return method


def type_(self, dtype=None, non_blocking=False, **kwargs):
    """`t.type()` names the tensor type as torch does ('torch.FloatTensor'); `t.type(dtype)`,
    `t.type('torch.DoubleTensor')` and `t.type(qilin.DoubleTensor)` convert.

    The name keeps torch's prefix on purpose: scripts compare it with literals written for
    torch (`x.type() == 'torch.cuda.FloatTensor'`), and run unchanged under `import qilin as
    torch`; every spelling of the name is accepted back as a type argument.
    """
    from .tensor_types import TYPE_NAMES, dtype_of_type_name

    if dtype is None:
        where = "cuda." if self._device.type == "cuda" else ""
        return f"torch.{where}{TYPE_NAMES[self.dtype.name]}"
    if isinstance(dtype, str):
        dtype = dtype_of_type_name(dtype)
    elif isinstance(getattr(dtype, "dtype", None), dtypes.DType):
        dtype = dtype.dtype  # a legacy type: qilin.DoubleTensor
    return to(self, dtypes.to_dtype(dtype))


def _copy_(self, src, non_blocking=False):
    if not isinstance(src, Tensor):
        src = creation.tensor(src, dtype=self.dtype)

    def compute():
        value = src.to(self.dtype)
        if value.device is not self.device:
            value = value.to(self.device)
        if tuple(value.shape) != tuple(self.shape):
            value = movement.expand(value, tuple(self.shape))
        return value if value._node is not None or not value._requires_grad else value

    from .autograd import grad_mode

    # Fast path: nothing to record. Otherwise even a constant source changes the history of
    # self (or of the tensor self is a view of), as in torch.
    base = self._base
    if not grad_mode.state.enabled or not (
        src._requires_grad or self._requires_grad or (base is not None and base._requires_grad)
    ):
        value = compute()
        if self._requires_grad and self._node is None and grad_mode.state.enabled:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."
            )
        write_into(self, value._data)
        return self
    return inplace(self, lambda: movement.COPY(compute()), "copy")


def _fill_(self, value):
    if isinstance(value, Tensor):
        value = value.item()
    return inplace(self, lambda: creation.full_like(self, value), "fill")


def _zero_(self):
    return inplace(self, lambda: creation.zeros_like(self), "zero")


def _new_factory(factory):
    def method(self, *size, dtype=None, device=None, requires_grad=False, **kwargs):
        return factory(
            *size,
            dtype=dtype or self.dtype,
            device=device or self.device,
            requires_grad=requires_grad,
        )

    return method


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    return creation.full(
        tuple(size),
        fill_value,
        dtype=dtype or self.dtype,
        device=device or self.device,
        requires_grad=requires_grad,
    )


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    return creation.tensor(
        data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad
    )


def _expand(self, *sizes):
    return movement.expand(self, *sizes)


def _repeat(self, *sizes):
    return movement.repeat(self, *sizes)


def _permute(self, *dims):
    return movement.permute(self, *dims)


def _flip(self, *dims):
    return movement.flip(self, dims[0] if len(dims) == 1 and not isinstance(dims[0], int) else dims)


def _cpu(self):
    return to(self, "cpu")


def _cuda(self, device=None, non_blocking=False):
    return to(
        self,
        Device("cuda", device if isinstance(device, int) else None)
        if not isinstance(device, (str, Device))
        else device,
    )


def _bind_specials() -> None:
    from . import special

    Tensor.i0 = special.i0
    Tensor.to = to
    Tensor.type = type_
    Tensor.unfold = windows.unfold
    Tensor.view = movement.view
    Tensor.reshape = movement.reshape
    Tensor.expand = _expand
    Tensor.repeat = _repeat
    Tensor.permute = _permute
    Tensor.flip = _flip
    Tensor.copy_ = _copy_
    Tensor.where = lambda self, condition, other: elementwise.where(condition, self, other)
    Tensor.fill_ = _fill_
    Tensor.zero_ = _zero_
    for name in (
        "uniform_",
        "normal_",
        "exponential_",
        "log_normal_",
        "cauchy_",
        "geometric_",
        "random_",
        "bernoulli_",
        "bernoulli",
        "multinomial",
    ):
        setattr(Tensor, name, getattr(_random, name))
    Tensor.new_zeros = _new_factory(creation.zeros)
    Tensor.new_ones = _new_factory(creation.ones)
    Tensor.new_empty = _new_factory(creation.empty)
    Tensor.new_full = _new_full
    Tensor.new_tensor = _new_tensor
    Tensor.cpu = _cpu
    Tensor.cuda = _cuda
    Tensor.clone = movement.clone
    Tensor.contiguous = movement.contiguous
    Tensor.T = property(lambda self: movement.permute(self, tuple(range(self.ndim))[::-1]))
    Tensor.mT = property(movement.matrix_transpose)
    Tensor.H = Tensor.T
    Tensor.mH = Tensor.mT
    Tensor.view_as = lambda self, other: movement.view(self, tuple(other.shape))
    Tensor.reshape_as = lambda self, other: movement.reshape(self, tuple(other.shape))
    Tensor.type_as = lambda self, other: to(self, other.dtype)
    Tensor.transpose_ = lambda self, d0, d1: _rebind_shape(self, movement.transpose(self, d0, d1))
    Tensor.t_ = lambda self: _rebind_shape(self, movement.t(self))
    Tensor.unsqueeze_ = lambda self, dim: _rebind_shape(self, movement.unsqueeze(self, dim))
    Tensor.squeeze_ = lambda self, dim=None: _rebind_shape(self, movement.squeeze(self, dim))
    for name, dtype in (
        ("float", dtypes.float32),
        ("double", dtypes.float64),
        ("half", dtypes.float16),
        ("bfloat16", dtypes.bfloat16),
        ("long", dtypes.int64),
        ("int", dtypes.int32),
        ("short", dtypes.int16),
        ("char", dtypes.int8),
        ("byte", dtypes.uint8),
        ("bool", dtypes.bool),
    ):
        setattr(Tensor, name, _conversion(dtype))


def _rebind_shape(self, view):
    """Shape-changing in-place methods (t_, unsqueeze_): self takes the view's metadata."""
    if self._requires_grad and self._node is None:
        from .autograd import grad_mode

        if grad_mode.state.enabled:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."
            )
    self._data = view._data
    if view._node is not None:
        self._node, self._out_index = view._node, view._out_index
    return self


def bind() -> None:
    global _DeviceCopy
    _bind_specials()
    _bind_same_name()
    _bind_operators()
    _bind_inplace()
    _DeviceCopy = _make_device_copy()


_DeviceCopy = None
