"""Family constructors: they fill the standard parts of an op record so each record is short.

- `unary`: elementwise x -> f(x); integer inputs of float-valued functions become the default
  float dtype, as in torch.
- `binary`: elementwise (a, b) -> f(a, b) with broadcasting and torch's type promotion; the
  vjp's gradients are summed back to each input's shape.
- `reduction`: reduce over `dim` (a tuple, or None for all) with `keepdim`.
- `define`: any other op (movement, indexing, library calls) written out in full.
"""

from __future__ import annotations

from numpy import ndarray

from .. import dtypes
from .registry import Op, Spec, register


def _no_promotion(a, b, exact_float: bool) -> bool:
    """True when (a, b) already have the result dtype: equal array dtypes, or a weak Python
    scalar that an array of its kind absorbs. The hot path of every binary op."""
    if type(a) is ndarray:
        kind = a.dtype.kind
        if type(b) is ndarray:
            return a.dtype == b.dtype and (kind == "f" or not exact_float)
        array, other = a, type(b)
    elif type(b) is ndarray:
        array, other = b, type(a)
        kind = b.dtype.kind
    else:
        return False
    if kind == "f":
        # Not float16: its math takes a float32 scalar, as torch's does (dtypes.cast_operand).
        return (other is float or other is int) and array.itemsize > 2
    # Only int64 takes a Python int exactly; narrower types wrap it first, as torch does.
    return kind == "i" and other is int and not exact_float and array.itemsize == 8


__all__ = [
    "define",
    "unary",
    "binary",
    "reduction",
    "broadcast_shapes",
    "reduced_shape",
    "unbroadcast",
    "restore_reduced",
]


def define(name: str, **parts) -> Op:
    return register(Op(name, **parts))


def _family_record(
    name, family, meta, kernel, vjp, lowering, save, saves_inputs_as, differentiable, doc
) -> Op:
    """The record a family constructor builds; `save` names what the vjp reads ("input" or
    "inputs" as the family spells it, "output", or None)."""
    return define(
        name,
        meta=meta,
        kernel=kernel,
        vjp=vjp if differentiable else None,
        family=family,
        lowering=lowering,
        save_inputs=save == saves_inputs_as,
        save_outputs=save == "output",
        differentiable=differentiable,
        doc=doc,
    )


# ----- unary ---------------------------------------------------------------------------------
def unary(
    name: str,
    kernel,
    grad=None,
    *,
    c: str | None = None,
    to_float: bool = True,
    out_dtype=None,
    save: str | None = "input",
    differentiable: bool = True,
    doc: str = "",
) -> Op:
    """`kernel(xp, x)`; `grad(g, x, out)` gets the saved input or output (the other is None)."""
    integer_kinds = "biu"

    def run(xp, x):
        if to_float and x.dtype.kind in integer_kinds:
            x = x.astype(dtypes.get_default_dtype().numpy)
        return kernel(xp, x)

    def meta(x):
        dtype = x.dtype
        if out_dtype is not None:
            dtype = out_dtype
        elif to_float and not dtype.is_floating_point:
            dtype = dtypes.get_default_dtype()
        return Spec(x.shape, dtype)

    def vjp(node, g):
        x = node.inputs[0] if save == "input" else None
        out = node.out if save == "output" else None
        return (grad(g, x, out),)

    return _family_record(
        name,
        "elementwise",
        meta,
        run,
        vjp,
        {"c": c} if c else {},
        save,
        "input",
        differentiable,
        doc,
    )


# ----- binary --------------------------------------------------------------------------------
def binary(
    name: str,
    kernel,
    grad=None,
    *,
    c: str | None = None,
    result: str = "promote",
    save: str | None = "inputs",
    differentiable: bool = True,
    doc: str = "",
) -> Op:
    """`kernel(xp, a, b)` on operands already cast to the result dtype.

    result: "promote" (torch's result_type), "float" (integers become the default float, as
    true division does) or "bool" (comparisons: computed in the promoted type, bool out).
    `grad(g, a, b, out)` returns the two input gradients before un-broadcasting; a pair of such
    functions, one per operand, lets the vjp compute only the gradients that are needed.
    """

    def compute_dtype(a, b):
        dtype = dtypes.result_type(a, b)
        if result == "float" and not dtype.is_floating_point:
            dtype = dtypes.get_default_dtype()
        return dtype

    exact_float = result == "float"

    def run(xp, a, b):
        if _no_promotion(a, b, exact_float):
            try:
                return kernel(xp, a, b)
            except OverflowError:  # a Python int outside the array's range: wrap it, as torch
                pass
        dtype = compute_dtype(a, b).numpy
        out = kernel(xp, dtypes.cast_operand(a, dtype), dtypes.cast_operand(b, dtype))
        # A float32 scalar in half/bfloat16 math widens NumPy's result: round it back.
        return out if result == "bool" or out.dtype == dtype else out.astype(dtype)

    def meta(a, b):
        shapes = [v.shape for v in (a, b) if isinstance(v, Spec)]
        shape = broadcast_shapes(*shapes, op=name)
        dtype = dtypes.bool if result == "bool" else compute_dtype(a, b)
        return Spec(shape, dtype)

    def vjp(node, g):
        a, b = node.inputs if save == "inputs" else (None, None)
        out = node.out if save == "output" else None
        if isinstance(grad, tuple):  # one rule per operand: compute only the grads needed
            need_a, need_b = node.needs_grad
            grad_a = grad[0](g, a, b, out) if need_a else None
            grad_b = grad[1](g, a, b, out) if need_b else None
        else:
            grad_a, grad_b = grad(g, a, b, out)
        meta_a, meta_b = node.input_meta
        return (
            unbroadcast(grad_a, meta_a[0]) if meta_a is not None else None,
            unbroadcast(grad_b, meta_b[0]) if meta_b is not None else None,
        )

    return _family_record(
        name,
        "elementwise",
        meta,
        run,
        vjp,
        {"c": c} if c else {},
        save,
        "inputs",
        differentiable,
        doc,
    )


def broadcast_shapes(*shapes, op: str = "broadcast") -> tuple:
    """NumPy/torch broadcasting of shapes, with a message naming both shapes and the dim."""
    ndim = max((len(s) for s in shapes), default=0)
    result = []
    for axis in range(-ndim, 0):
        size = 1
        for shape in shapes:
            if len(shape) >= -axis:
                current = shape[axis]
                if current != 1:
                    if size not in (1, current):
                        listed = " and ".join(str(tuple(s)) for s in shapes)
                        raise RuntimeError(
                            f"{op}: shapes {listed} cannot be broadcast: the size of dimension "
                            f"{axis} is {size} in one and {current} in the other (sizes must "
                            "match or be 1)"
                        )
                    size = current
        result.append(size)
    return tuple(result)


def unbroadcast(grad, shape: tuple):
    """Sum `grad` down to `shape`, undoing broadcasting (the vjp of broadcast_to)."""
    if grad is None or tuple(grad.shape) == tuple(shape):
        return grad
    from .reduction import sum_to

    return sum_to(grad, shape)


# ----- reductions ----------------------------------------------------------------------------
def reduced_shape(shape: tuple, dim: tuple | None, keepdim: bool) -> tuple:
    if dim is None:
        return (1,) * len(shape) if keepdim else ()
    if keepdim:
        return tuple(1 if axis in dim else size for axis, size in enumerate(shape))
    return tuple(size for axis, size in enumerate(shape) if axis not in dim)


def restore_reduced(grad, shape: tuple, dim: tuple | None, keepdim: bool):
    """Broadcast a reduction's output gradient back over the input's shape."""
    from .movement import expand, reshape

    if not keepdim:
        grad = reshape(grad, reduced_shape(shape, dim, True))
    return expand(grad, shape)


def reduction(
    name: str,
    kernel,
    grad=None,
    *,
    result: str = "same",
    save: str | None = "input",
    differentiable: bool = True,
    identity: str | None = None,
    doc: str = "",
) -> Op:
    """`kernel(xp, x, dim, keepdim)`; `grad(g, x, out, dim, keepdim)` with g already restored
    to the input's shape when `restore=True` is implied (g has the keepdim shape, expanded).

    result: "same" (keeps the dtype), "sum" (bool/int -> int64), "float" (floating input
    required), "bool" or "int64" (fixed output dtype).
    """

    def out_dtype(dtype):
        if result == "sum" and not dtype.is_floating_point:
            return dtypes.int64
        if result == "bool":
            return dtypes.bool
        if result == "int64":
            return dtypes.int64
        if result == "float" and not dtype.is_floating_point:
            raise RuntimeError(
                f"{name}(): could not infer output dtype. Input dtype must be either a floating "
                f"point or complex dtype. Got: {dtype.name}"
            )
        return dtype

    keeps_float = result in ("same", "sum", "float")

    def run(xp, x, dim=None, keepdim=False):
        if keeps_float and x.dtype.kind == "f":  # the hot path: the result keeps the dtype
            return kernel(xp, x, dim, keepdim)
        dtype = out_dtype(dtypes.from_numpy(x.dtype))
        value = kernel(xp, x, dim, keepdim)
        if value.dtype != dtype.numpy:
            value = value.astype(dtype.numpy)
        return value

    def meta(x, dim=None, keepdim=False):
        if dim is not None:
            for axis in dim:
                if not 0 <= axis < max(len(x.shape), 1):
                    raise IndexError(f"{name}: dim {axis} is out of range for shape {x.shape}")
        return Spec(reduced_shape(x.shape, dim, keepdim), out_dtype(x.dtype))

    def vjp(node, g):
        x = node.inputs[0] if save == "input" else None
        out = node.out if save == "output" else None
        shape = node.input_meta[0][0]
        dim, keepdim = node.attrs.get("dim"), node.attrs.get("keepdim", False)
        return (grad(g, x, out, shape, dim, keepdim),)

    return _family_record(
        name,
        "reduction",
        meta,
        run,
        vjp,
        {"identity": identity} if identity else {},
        save,
        "input",
        differentiable,
        doc,
    )
