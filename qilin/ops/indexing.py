"""Indexing: `t[key]`, `t[key] = v`, gather/scatter and friends.

A user key is parsed, with torch's rules, into a hashable pair `(basic, advanced)`:

- `basic` holds ints, slices and None (Ellipsis already expanded). It is applied first and gives
  a view, as torch's `select`/`slice`/`unsqueeze` do;
- `advanced` lists, for each dim of that view, FULL (`:`) or TENSOR (an integer or boolean index
  tensor, passed as an op input). NumPy's rule on where the indexed dims go then applies to this
  second step only, which is torch's rule (ints do not count as advanced indices in torch).

Boolean masks become integer index arrays (`mask.nonzero()`) inside the kernels, so that every
index array can be bounds-checked with torch's message and accumulated with `ufunc.at`.
"""

from __future__ import annotations

import operator
import warnings

import numpy as np

from .. import dtypes
from ..errors import located, user_stacklevel
from ..tensor import Tensor, _normalize_dim
from .families import broadcast_shapes, define, unbroadcast
from .registry import Spec

__all__ = [
    "index_select",
    "gather",
    "scatter",
    "scatter_add",
    "scatter_reduce",
    "index_add",
    "index_copy",
    "index_fill",
    "index_put",
    "masked_fill",
    "masked_select",
    "masked_scatter",
    "take",
    "take_along_dim",
    "nonzero",
    "argwhere",
    "getitem",
    "setitem",
    "ReturnTypes",
]

FULL = ":"  # a whole dim in a key template
TENSOR = "<tensor>"  # an index tensor in a key template


class IndexOutOfRange(IndexError, RuntimeError):
    """An index value outside its dim: torch raises IndexError for t[i] and RuntimeError for
    gather/scatter/index_select; this is both, so either `except` clause catches it."""


class ReturnTypes(tuple):
    """A named tuple of results, e.g. torch.max(x, 0) -> (values, indices)."""

    def __new__(cls, name: str, **fields):
        self = super().__new__(cls, fields.values())
        self._name, self._fields = name, tuple(fields)
        for field, value in fields.items():
            setattr(self, field, value)
        return self

    def __repr__(self) -> str:
        inner = ",\n".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"qilin.return_types.{self._name}(\n{inner})"


# ----- parsing a key -------------------------------------------------------------------------
def _sequence_as_tuple(key: list) -> bool:
    """torch's legacy rule: a short list holding slices, None, ... or sequences is a tuple."""
    if len(key) >= 32:
        return False
    return any(
        isinstance(p, (list, tuple, slice, Tensor, range)) or p is None or p is Ellipsis
        for p in key
    )


def _slice_bound(value):
    return None if value is None else operator.index(value)


def _classify(part, device):
    """One key entry as a token: ("none",), ("ellipsis",), ("int", i), ("slice", a, b, c),
    ("tensor", t) for an integer index tensor, ("mask", t) for a boolean one, ("bool", b)."""
    if part is None:
        return ("none",)
    if part is Ellipsis:
        return ("ellipsis",)
    if isinstance(part, (bool, np.bool_)):
        return ("bool", bool(part))
    if isinstance(part, (int, np.integer)):
        return ("int", int(part))
    if isinstance(part, slice):
        start, stop, step = (_slice_bound(v) for v in (part.start, part.stop, part.step))
        if step is not None and step <= 0:
            raise ValueError("step must be greater than zero")
        return ("slice", start, stop, step)
    if isinstance(part, Tensor):
        return _classify_tensor(part)
    if isinstance(part, (list, tuple, range, np.ndarray)):
        array = np.asarray(part)
        if array.size == 0 and array.dtype.kind == "f":
            array = array.astype(np.int64)  # [] is an empty integer index, as in torch
        if array.dtype.kind not in "biu":
            raise IndexError(
                "tensors used as indices must be long, int, byte or bool tensors "
                f"(got a sequence of {array.dtype})"
            )
        from .creation import tensor

        if array.dtype.kind != "b":
            array = array.astype(np.int64)
        return _classify_tensor(tensor(array, device=device))
    raise IndexError(
        "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
        f"indices (got {type(part).__name__})"
    )


def _classify_tensor(part: Tensor):
    dtype = part.dtype
    if dtype is dtypes.uint8:
        warnings.warn(
            "indexing with dtype qilin.uint8 is now deprecated, please use a dtype "
            "qilin.bool instead.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
        part, dtype = part.to(dtypes.bool), dtypes.bool
    if dtype is dtypes.bool:
        return ("bool", bool(part.item())) if part.ndim == 0 else ("mask", part)
    if dtype not in (dtypes.int64, dtypes.int32):
        raise IndexError(
            f"tensors used as indices must be long, int, byte or bool tensors (got {dtype.name})"
        )
    return ("int", int(part.item())) if part.ndim == 0 else ("tensor", part)


def parse_key(shape: tuple, key, device):
    """(template, index tensors) for `tensor[key]` on a tensor of `shape` (torch's rules)."""
    try:
        return _parse_key(shape, key, device)
    except (IndexError, TypeError, ValueError) as error:  # a bad key: point at the user's line
        raise located(error) from None


def _parse_key(shape: tuple, key, device):
    if isinstance(key, list) and _sequence_as_tuple(key):
        warnings.warn(
            "Using a non-tuple sequence for multidimensional indexing is deprecated; "
            "use x[tuple(seq)] instead of x[seq]",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
        key = tuple(key)
    tokens = [_classify(part, device) for part in (key if isinstance(key, tuple) else (key,))]
    ndim = len(shape)
    consumed = sum(
        1 if t[0] in ("int", "slice", "tensor") else t[1].ndim if t[0] == "mask" else 0
        for t in tokens
    )
    ellipses = sum(1 for t in tokens if t[0] == "ellipsis")
    if ellipses > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consumed > ndim:
        if ndim == 0 and tokens[0][0] == "int":
            raise IndexError(
                "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number"
            )
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    basic, advanced, tensors = [], [], []
    axis = 0
    for token in tokens:
        kind = token[0]
        if kind == "ellipsis":
            rest = ndim - consumed
            basic += [FULL] * rest
            advanced += [FULL] * rest
            axis += rest
        elif kind == "none":
            basic.append(None)
            advanced.append(FULL)
        elif kind == "int":
            size = shape[axis]
            if not -size <= token[1] < size:
                raise IndexError(
                    f"index {token[1]} is out of bounds for dimension {axis} with size {size}"
                )
            basic.append(token[1])
            axis += 1
        elif kind == "slice":
            basic.append(FULL if token[1:] == (None, None, None) else token)
            advanced.append(FULL)
            axis += 1
        elif kind == "tensor":
            basic.append(FULL)
            advanced.append(TENSOR)
            tensors.append(token[1])
            axis += 1
        elif kind == "mask":
            mask = token[1]
            _check_mask(mask.shape, shape, axis)
            basic += [FULL] * mask.ndim
            advanced.append(TENSOR)
            tensors.append(mask)
            axis += mask.ndim
        else:  # a boolean scalar: a new dim of size 1, indexed by [0] (True) or [] (False)
            from .creation import tensor

            basic.append(None)
            advanced.append(TENSOR)
            tensors.append(tensor([0] if token[1] else [], dtype=dtypes.int64, device=device))
    return (_strip(basic), _strip(advanced) if tensors else ()), tensors


def _fast_key(shape: tuple, key):
    """The template of the most common keys, `t[i]` and `t[a:b]`, without a full parse (the
    result is the one parse_key gives); None for anything else."""
    kind = type(key)
    if kind is int and shape and -shape[0] <= key < shape[0]:
        return ((key,), ())
    if kind is slice and shape:
        start, stop, step = key.start, key.stop, key.step
        if (
            (start is None or type(start) is int)
            and (stop is None or type(stop) is int)
            and (step is None or (type(step) is int and step > 0))
        ):
            if start is None and stop is None and step is None:
                return ((), ())
            return ((("slice", start, stop, step),), ())
    return None


def _check_mask(mask_shape, shape, axis: int) -> None:
    for offset, size in enumerate(mask_shape):
        if size != shape[axis + offset]:
            raise IndexError(
                f"The shape of the mask {list(mask_shape)} at index {offset} does not match the "
                f"shape of the indexed tensor {list(shape)} at index {axis + offset}"
            )


def _strip(template: list) -> tuple:
    """Drop trailing FULL entries (they select nothing)."""
    end = len(template)
    while end and template[end - 1] == FULL:
        end -= 1
    return tuple(template[:end])


# ----- applying a parsed key to arrays -------------------------------------------------------
def _basic_key(basic: tuple) -> tuple:
    # The trailing Ellipsis makes NumPy return a view even when every dim gets an int.
    return tuple(
        slice(None) if p == FULL else slice(*p[1:]) if isinstance(p, tuple) else p for p in basic
    ) + (Ellipsis,)


def _advanced_key(advanced: tuple, arrays, shape: tuple, check: bool = True) -> tuple:
    """NumPy's key for the advanced step; masks become their nonzero() index arrays."""
    arrays = iter(arrays)
    key, axis = [], 0
    for part in advanced:
        if part == FULL:
            key.append(slice(None))
            axis += 1
            continue
        array = next(arrays)
        if array.dtype == np.bool_:
            key.extend(array.nonzero())
            axis += array.ndim
            continue
        if check:
            _check_values(array, shape[axis], axis)
        key.append(array)
        axis += 1
    return tuple(key)


def _check_values(array, size: int, axis: int, low: int | None = None) -> None:
    """Raise torch's message for the first index outside [low, size); low defaults to -size."""
    low = -size if low is None else low
    if array.size and (array.min() < low or array.max() >= size):
        flat = array.reshape(-1)
        bad = flat[(flat < low) | (flat >= size)][0]
        raise located(
            IndexOutOfRange(
                f"index {int(bad)} is out of bounds for dimension {axis} with size {size}"
            )
        )


def _select(x, arrays, key):
    basic, advanced = key
    view = x[_basic_key(basic)]
    return view[_advanced_key(advanced, arrays, view.shape)] if advanced else view


def _index_meta(x, *indices, key):
    return Spec(_indexed_shape(x.shape, [(i.shape, i.dtype) for i in indices], key), x.dtype)


def _indexed_shape(shape, indices, key) -> tuple:
    """Shape of x[key]; a dim whose size depends on a mask's contents is -1."""
    basic, advanced = key
    view = np.broadcast_to(np.empty((), np.bool_), shape)[_basic_key(basic)]
    if not advanced:
        return view.shape
    outcomes, error = [], None
    for count in (0, 1, 2):  # masks with 0, 1 and 2 true entries: the dims that vary are -1
        arrays = []
        for index_shape, dtype in indices:
            if dtype is dtypes.bool:
                mask = np.zeros(int(np.prod(index_shape)), np.bool_)
                mask[:count] = True
                arrays.append(mask.reshape(index_shape))
            else:
                arrays.append(np.zeros(index_shape, np.int64))
        try:
            outcomes.append(view[_advanced_key(advanced, arrays, view.shape, check=False)].shape)
        except IndexError as caught:
            error = caught
        if not any(i[1] is dtypes.bool for i in indices):
            break
    if not outcomes:
        raise IndexError(str(error).replace("arrays", "tensors"))
    return tuple(a if all(o[i] == a for o in outcomes) else -1 for i, a in enumerate(outcomes[0]))


def _write(xp, target, values, arrays, key, accumulate: bool) -> None:
    """target[key] = values (or += with repeated indices adding up), in place."""
    basic, advanced = key
    view = target[_basic_key(basic)]
    if hasattr(values, "astype") and values.dtype != target.dtype:
        values = values.astype(target.dtype)
    if advanced:
        full = _advanced_key(advanced, arrays, view.shape)
        if accumulate:
            xp.add.at(view, full, values)
        else:
            view[full] = values
    elif accumulate:
        view += values
    else:
        view[...] = values


# ----- records -------------------------------------------------------------------------------
def _index_kernel(xp, x, *indices, key):
    return _select(x, indices, key)


def _advanced_index_kernel(xp, x, *indices, key):
    # NumPy may lay out a gathered result in another order; torch's is row-major.
    return xp.asarray(_select(x, indices, key), order="C")  # (ascontiguousarray makes 0-d 1-d)


def _take_back(g, indices, key, shape):
    """The vjp of indexing: g scattered (added) into zeros of the input's shape."""
    from .creation import zeros

    base = zeros(shape, dtype=g.dtype, device=g.device)
    return INDEX_PUT(base, g, *indices, key=key, accumulate=True)


BASIC_INDEX = define(
    "basic_index",
    meta=_index_meta,
    kernel=_index_kernel,
    vjp=lambda node, g: (_take_back(g, (), node.attrs["key"], node.input_meta[0][0]),),
    family="indexing",
    save_inputs=False,
    view=True,
)
INDEX = define(
    "index",
    meta=_index_meta,
    kernel=_advanced_index_kernel,
    vjp=lambda node, g: (
        (_take_back(g, node.inputs[1:], node.attrs["key"], node.input_meta[0][0]),)
        + (None,) * (len(node.inputs) - 1)
    ),
    family="indexing",
)


def _index_put_meta(x, values, *indices, key, accumulate):
    if isinstance(values, Spec):
        target = _indexed_shape(x.shape, [(i.shape, i.dtype) for i in indices], key)
        value_shape = tuple(values.shape)
        while len(value_shape) > len(target) and value_shape[0] == 1:
            value_shape = value_shape[1:]  # extra leading 1s are allowed, as in torch
        if len(value_shape) > len(target) or any(
            v not in (1, t) and t != -1 for v, t in zip(value_shape[::-1], target[::-1])
        ):
            raise located(  # also raised outside the dispatcher (setitem's direct write)
                RuntimeError(
                    f"shape mismatch: value tensor of shape {list(values.shape)} cannot "
                    f"be broadcast to indexing result of shape {list(target)}"
                )
            )
    return Spec(x.shape, x.dtype)


def _index_put_kernel(xp, x, values, *indices, key, accumulate):
    out = x.copy()
    _write(xp, out, values, indices, key, accumulate)
    return out


def _index_put_vjp(node, g):
    inputs = node.inputs
    indices = inputs[2:]
    key = node.attrs["key"]
    grad_x = g
    if not node.attrs["accumulate"]:  # overwritten entries get no gradient
        grad_x = INDEX_PUT(g, g.new_zeros(()), *indices, key=key, accumulate=False)
    grad_values = None
    if node.needs_grad[1]:
        picked = INDEX(g, *indices, key=key) if indices else BASIC_INDEX(g, key=key)
        shape = node.input_meta[1][0]
        if len(shape) > picked.ndim:
            picked = picked.reshape((1,) * (len(shape) - picked.ndim) + tuple(picked.shape))
        grad_values = unbroadcast(picked, shape)
    return (grad_x, grad_values) + (None,) * len(indices)


INDEX_PUT = define(
    "index_put",
    meta=_index_put_meta,
    kernel=_index_put_kernel,
    vjp=_index_put_vjp,
    family="indexing",
)


def getitem(tensor: Tensor, key):
    fast = _fast_key(tensor._data.shape, key)
    if fast is not None:
        return BASIC_INDEX(tensor, key=fast)
    key, indices = parse_key(tuple(tensor.shape), key, tensor.device)
    if indices:
        return INDEX(tensor, *indices, key=key)
    return BASIC_INDEX(tensor, key=key)


def setitem(tensor: Tensor, key, value) -> None:
    """`tensor[key] = value`: written in place (views see it), recorded for autograd."""
    from ..autograd import grad_mode
    from ..dispatch import apply_inplace, write_into

    key, indices = parse_key(tuple(tensor.shape), key, tensor.device)
    if not isinstance(value, Tensor):
        from .creation import tensor as make

        value = make(value, dtype=tensor.dtype, device=tensor.device)
    base = tensor._base
    if grad_mode.state.enabled and (
        tensor._requires_grad or value._requires_grad or (base is not None and base._requires_grad)
    ):
        apply_inplace(
            tensor, INDEX_PUT, (tensor, value, *indices), {"key": key, "accumulate": False}
        )
        return
    # Nothing to record: write straight into the tensor's memory (no copy of the whole tensor).
    _index_put_meta(
        Spec(tuple(tensor.shape), tensor.dtype),
        Spec(tuple(value.shape), value.dtype),
        *(Spec(tuple(i.shape), i.dtype) for i in indices),
        key=key,
        accumulate=False,
    )
    xp = tensor._device.backend.xp
    if not tensor._data.flags.writeable:
        write_into(tensor, tensor._data)  # raises the expanded-view error
    _write(xp, tensor._data, value._data, [i._data for i in indices], key, False)
    tensor._bump_version()


# ----- gather / scatter ----------------------------------------------------------------------
def _check_index_dtype(index, op: str) -> None:
    if index.dtype not in (dtypes.int64, dtypes.int32):
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index, got {index.dtype.name}")


def _gather_meta(x, index, dim):
    _check_index_dtype(index, "gather")
    if len(index.shape) != len(x.shape) and not (len(x.shape) == 0 and len(index.shape) <= 1):
        raise RuntimeError(
            f"Index tensor must have the same number of dimensions as input tensor "
            f"(got index {list(index.shape)} and input {list(x.shape)})"
        )
    for axis, (size, limit) in enumerate(zip(index.shape, x.shape)):
        if axis != dim and size > limit:
            raise RuntimeError(
                f"Size does not match at dimension {axis} expected index {list(index.shape)} to be "
                f"smaller than self {list(x.shape)} apart from dimension {dim}"
            )
    return Spec(index.shape, x.dtype)


def _gather_kernel(xp, x, index, dim):
    if x.ndim == 0:
        x = x.reshape(1)
    _check_values(index, x.shape[dim], dim, low=0)
    sliced = x[
        tuple(slice(0, index.shape[a]) if a != dim else slice(None) for a in range(index.ndim))
    ]
    return xp.take_along_axis(
        sliced,
        index.reshape(sliced.shape[:dim] + index.shape[dim : dim + 1] + sliced.shape[dim + 1 :]),
        axis=dim,
    )


def _gather_vjp(node, g):
    from .creation import zeros

    base = zeros(node.input_meta[0][0], dtype=g.dtype, device=g.device)
    return (SCATTER_ADD(base, node.inputs[1], g, dim=node.attrs["dim"]), None)


GATHER = define(
    "gather",
    meta=_gather_meta,
    kernel=_gather_kernel,
    vjp=_gather_vjp,
    family="indexing",
    eager_check=True,
)


def _scatter_meta(x, index, src, dim, **attrs):
    _check_index_dtype(index, "scatter")
    if len(index.shape) != len(x.shape):
        raise RuntimeError(
            f"Index tensor must have the same number of dimensions as self tensor "
            f"(got index {list(index.shape)} and self {list(x.shape)})"
        )
    if isinstance(src, Spec):
        if src.dtype is not x.dtype:
            raise RuntimeError(
                f"scatter(): Expected self.dtype to be equal to src.dtype (got "
                f"{x.dtype.name} and {src.dtype.name})"
            )
        if len(src.shape) != len(x.shape):
            raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    for axis, size in enumerate(index.shape):
        too_big = (axis != dim and size > x.shape[axis]) or (
            isinstance(src, Spec) and size > src.shape[axis]
        )
        if too_big:
            raise RuntimeError(
                f"Expected index {list(index.shape)} to be smaller than self {list(x.shape)} apart "
                f"from dimension {dim}"
                + (
                    f" and to be smaller size than src {list(src.shape)}"
                    if isinstance(src, Spec)
                    else ""
                )
            )
    return Spec(x.shape, x.dtype)


def _scatter_key(xp, index, dim):
    grids = list(xp.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


def _src_part(src, index):
    """The part of `src` that `index` covers (src may be larger); a scalar stays a scalar."""
    if not hasattr(src, "shape"):
        return src
    return src[tuple(slice(0, s) for s in index.shape)]


def _scatter_kernel(xp, x, index, src, dim):
    _check_values(index, x.shape[dim], dim, low=0)
    out = x.copy()
    out[_scatter_key(xp, index, dim)] = _src_part(src, index)
    return out


def _scatter_add_kernel(xp, x, index, src, dim):
    _check_values(index, x.shape[dim], dim, low=0)
    out = x.copy()
    xp.add.at(out, _scatter_key(xp, index, dim), _src_part(src, index))
    return out


def _scatter_vjp(node, g):
    _, index, src = node.inputs
    dim = node.attrs["dim"]
    grad_src = None
    if isinstance(src, Tensor) and node.needs_grad[2]:
        grad_src = _pad_to(GATHER(g, index, dim=dim), tuple(src.shape))
    return (SCATTER(g, index, 0.0, dim=dim), None, grad_src)


def _scatter_add_vjp(node, g):
    _, index, src = node.inputs
    grad_src = None
    if node.needs_grad[2]:
        grad_src = _pad_to(GATHER(g, index, dim=node.attrs["dim"]), tuple(src.shape))
    return (g, None, grad_src)


def _pad_to(grad, shape):
    """src may be larger than index: the unused part of src gets zero gradient."""
    if tuple(grad.shape) == shape:
        return grad
    from .creation import zeros

    base = zeros(shape, dtype=grad.dtype, device=grad.device)
    key = (tuple(("slice", 0, s, None) for s in grad.shape), ())
    return INDEX_PUT(base, grad, key=key, accumulate=False)


SCATTER = define(
    "scatter",
    meta=_scatter_meta,
    kernel=_scatter_kernel,
    vjp=_scatter_vjp,
    family="indexing",
    eager_check=True,
)
SCATTER_ADD = define(
    "scatter_add",
    meta=_scatter_meta,
    kernel=_scatter_add_kernel,
    vjp=_scatter_add_vjp,
    family="indexing",
    eager_check=True,
)


def _identity(reduce: str, dtype):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    return info.min if reduce == "amax" else info.max


def _scatter_reduce_kernel(xp, x, index, src, dim, reduce, include_self):
    """Entries that receive no src keep their value; the others reduce src (and x if
    include_self). `mean` divides by the count (with floor division for integers, as torch)."""
    _check_values(index, x.shape[dim], dim, low=0)
    key = _scatter_key(xp, index, dim)
    values = _src_part(src, index)
    out = x.copy()
    if not include_self:
        out[key] = _identity(reduce, x.dtype)
    ufunc = {
        "sum": xp.add,
        "mean": xp.add,
        "prod": xp.multiply,
        "amax": xp.maximum,
        "amin": xp.minimum,
    }[reduce]
    ufunc.at(out, key, values)
    if reduce == "mean":
        counts = xp.full(x.shape, 1 if include_self else 0, dtype=np.int64)
        xp.add.at(counts, key, 1)
        counts = xp.maximum(counts, 1)
        out = out // counts if x.dtype.kind in "iub" else (out / counts).astype(x.dtype)
    return out


def _scatter_reduce_vjp(node, g):
    """Gradients of sum/mean/prod/amax/amin; ties of amax/amin share the gradient evenly."""
    from .creation import zeros_like

    x, index, src = node.inputs
    out = node.out
    dim, reduce = node.attrs["dim"], node.attrs["reduce"]
    part = _src_part(src, index)
    hits = SCATTER_ADD(zeros_like(g), index, g.new_ones(tuple(index.shape)), dim=dim)
    # x takes part where it is included or where no src arrived (those keep their value).
    own = _as(hits == 0, g) if not node.attrs["include_self"] else g.new_ones(())
    if reduce == "sum":
        grad_x, grad_src = g * own, GATHER(g, index, dim=dim)
    elif reduce == "mean":
        share = g / (hits + own)
        grad_x, grad_src = share * own, GATHER(share, index, dim=dim)
    elif reduce in ("amax", "amin"):
        own = own * _as(x == out, g)
        chosen = _as(part == GATHER(out, index, dim=dim), g)
        share = g / (own + SCATTER_ADD(zeros_like(g), index, chosen, dim=dim)).clamp(min=1)
        grad_x, grad_src = share * own, GATHER(share, index, dim=dim) * chosen
    else:
        grad_x, grad_src = _prod_grads(node, g, part, own)
    return grad_x, None, _pad_to(grad_src, tuple(src.shape))


def _prod_grads(node, g, part, own):
    """d out / d e is the product of the other entries of e's group; with one zero in the
    group only that zero gets a gradient (the product of the rest), with two none does."""
    from .creation import zeros_like
    from .elementwise import WHERE

    x, index, _ = node.inputs
    dim = node.attrs["dim"]
    zero_x, zero_src = (x == 0) & (own != 0), part == 0  # zeros that take part
    zeros = _as(zero_x, g) + SCATTER_ADD(zeros_like(g), index, _as(zero_src, g), dim=dim)
    safe_x, safe_src = WHERE(x == 0, 1.0, x), WHERE(zero_src, 1.0, part)
    rest = SCATTER_REDUCE(safe_x, index, safe_src, **node.attrs)  # product of non-zero entries
    out = node.out

    def others(value, zero, count, product, total):
        return WHERE(count == 0, total / value, WHERE(zero & (count == 1), product, 0.0))

    grad_x = g * own * others(safe_x, zero_x, zeros, rest, out)
    gathered = [GATHER(t, index, dim=dim) for t in (zeros, rest, out)]
    grad_src = GATHER(g, index, dim=dim) * others(safe_src, zero_src, *gathered)
    return grad_x, grad_src


def _as(mask, like):
    return mask.to(like.dtype)


SCATTER_REDUCE = define(
    "scatter_reduce",
    meta=_scatter_meta,
    kernel=_scatter_reduce_kernel,
    vjp=_scatter_reduce_vjp,
    family="indexing",
    eager_check=True,
    save_outputs=True,
)


def _nonzero_kernel(xp, x):
    if x.ndim == 0:
        return xp.zeros((int(bool(x)), 0), dtype=np.int64)
    return xp.stack(xp.nonzero(x), axis=1).astype(np.int64)


NONZERO = define(
    "nonzero",
    meta=lambda x: Spec((-1, len(x.shape)), dtypes.int64),
    kernel=_nonzero_kernel,
    vjp=None,
    family="indexing",
    differentiable=False,
)


# ----- public functions ----------------------------------------------------------------------
def _along(dim: int) -> tuple:
    """The key of `x[:, ..., :, index]` with the index tensor at `dim`."""
    return ((), (FULL,) * dim + (TENSOR,))


def _index_vector(index, op: str):
    if not isinstance(index, Tensor):
        raise located(TypeError(f"{op}(): index must be a Tensor, got {type(index).__name__}"))
    if index.ndim > 1:
        raise located(
            IndexError(f"{op}(): Index is supposed to be a vector, got a {index.ndim}-D tensor")
        )
    if index.dtype not in (dtypes.int64, dtypes.int32):
        raise located(
            RuntimeError(f"{op}(): Expected dtype int32/int64 for index, got {index.dtype.name}")
        )
    return index.reshape(-1)


def index_select(input, dim, index):
    dim = _normalize_dim(dim, input.ndim, "index_select")
    return INDEX(
        input.reshape(1) if input.ndim == 0 else input,
        _index_vector(index, "index_select"),
        key=_along(dim),
    ).reshape(() if input.ndim == 0 else (*input.shape[:dim], -1, *input.shape[dim + 1 :]))


def gather(input, dim, index, *, sparse_grad=False):
    return GATHER(input, index, dim=_normalize_dim(dim, input.ndim, "gather"))


def _scatter_args(input, dim, index, src, value, op: str):
    source = src if src is not None else value
    if source is None:
        raise TypeError(f"{op}(): expected a src tensor or a value")
    if not isinstance(source, Tensor):
        source = float(source) if input.dtype.is_floating_point else source
    return _normalize_dim(dim, input.ndim, op), source


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    dim, source = _scatter_args(input, dim, index, src, value, "scatter")
    if reduce is None:
        return SCATTER(input, index, source, dim=dim)
    if reduce not in ("add", "multiply"):
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce!r}")
    if not isinstance(source, Tensor):
        source = input.new_full(tuple(index.shape), source)
    return SCATTER_REDUCE(
        input,
        index,
        source,
        dim=dim,
        reduce="sum" if reduce == "add" else "prod",
        include_self=True,
    )


def scatter_add(input, dim, index, src):
    return SCATTER_ADD(input, index, src, dim=_normalize_dim(dim, input.ndim, "scatter_add"))


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Reduce `src` into `input` at `index` along `dim` (sum, prod, mean, amax or amin)."""
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(
            f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}"
        )
    return SCATTER_REDUCE(
        input,
        index,
        src,
        dim=_normalize_dim(dim, input.ndim, "scatter_reduce"),
        reduce=reduce,
        include_self=bool(include_self),
    )


def _check_source(input, dim, index, source, op: str) -> None:
    expected = list(input.shape)
    if input.ndim:
        expected[dim] = index.numel()
    if list(source.shape) != expected and not (source.ndim == 0 and index.numel() == 1):
        raise RuntimeError(
            f"{op}(): source tensor shape must match self tensor shape, excluding the specified "
            f"dimension. Got self.shape = {list(input.shape)} source.shape = {list(source.shape)} "
            f"(index has {index.numel()} entries along dim {dim})"
        )


def index_add(input, dim, index, source, *, alpha=1):
    dim = _normalize_dim(dim, input.ndim, "index_add")
    index = _index_vector(index, "index_add")
    _check_source(input, dim, index, source, "index_add")
    if alpha != 1:
        source = source * alpha
    return INDEX_PUT(input, source, index, key=_along(dim), accumulate=True)


def index_copy(input, dim, index, source):
    dim = _normalize_dim(dim, input.ndim, "index_copy")
    index = _index_vector(index, "index_copy")
    _check_source(input, dim, index, source, "index_copy")
    return INDEX_PUT(input, source, index, key=_along(dim), accumulate=False)


def index_fill(input, dim, index, value):
    dim = _normalize_dim(dim, input.ndim, "index_fill")
    index = _index_vector(index, "index_fill")
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(
                f"index_fill_ only supports a 0-dimensional value tensor, but got "
                f"tensor with {value.ndim} dimension(s)."
            )
        value = value.to(input.dtype)
    else:
        value = input.new_full((), value)
    return INDEX_PUT(input, value, index, key=_along(dim), accumulate=False)


def index_put(input, indices, values, accumulate=False):
    key, tensors = parse_key(tuple(input.shape), tuple(indices), input.device)
    if not isinstance(values, Tensor):
        from .creation import tensor

        values = tensor(values, dtype=input.dtype, device=input.device)
    return INDEX_PUT(input, values, *tensors, key=key, accumulate=bool(accumulate))


def masked_fill(input, mask, value):
    from .elementwise import WHERE

    if mask.dtype is not dtypes.bool:
        raise located(
            RuntimeError(
                "masked_fill_ only supports boolean masks, but got mask with dtype "
                f"{mask.dtype.name}"
            )
        )
    if isinstance(value, Tensor):
        if value.ndim:
            raise located(
                RuntimeError(
                    f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                    f"tensor with {value.ndim} dimension(s)."
                )
            )
        value = value.to(input.dtype)
    else:
        value = input.new_full((), value)
    if mask._data.shape != input._data.shape:
        _check_mask_broadcasts(tuple(mask.shape), tuple(input.shape))
    return WHERE(mask, value, input)


def _check_mask_broadcasts(mask_shape: tuple, shape: tuple) -> None:
    """Name masked_fill (not the `where` it runs) when the mask does not fit the input."""
    try:
        broadcast = broadcast_shapes(mask_shape, shape, op="masked_fill")
    except RuntimeError as error:
        raise located(error) from None
    if broadcast != shape:
        raise located(
            RuntimeError(
                f"masked_fill: the mask of shape {list(mask_shape)} must broadcast to "
                f"the input's shape {list(shape)}"
            )
        )


def masked_select(input, mask):
    from .movement import broadcast_tensors

    if mask.dtype is not dtypes.bool:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {mask.dtype.name}")
    input, mask = broadcast_tensors(input, mask)
    return INDEX(input, mask, key=((), (TENSOR,)))


def masked_scatter(input, mask, source):
    from .movement import expand

    if mask.dtype is not dtypes.bool:
        raise RuntimeError(
            f"masked_scatter_ only supports boolean masks, but got mask with dtype "
            f"{mask.dtype.name}"
        )
    mask = expand(mask, tuple(input.shape))
    count = int(mask._host().sum())
    if source.numel() < count:
        raise RuntimeError(
            f"masked_scatter: Number of elements of source ({source.numel()}) < "
            f"number of ones in mask ({count})"
        )
    values = source.reshape(-1)[:count]
    return INDEX_PUT(input, values, mask, key=((), (TENSOR,)), accumulate=False)


def take(input, index):
    flat = input.reshape(-1)
    _check_values(index._host(), flat.shape[0], 0)
    return INDEX(flat, index, key=((), (TENSOR,)))


def take_along_dim(input, indices, dim=None):
    if dim is None:
        return GATHER(input.reshape(-1), indices.reshape(-1), dim=0)
    from .movement import broadcast_shapes, expand

    dim = _normalize_dim(dim, input.ndim, "take_along_dim")
    if indices.ndim != input.ndim:
        raise RuntimeError(
            f"take_along_dim(): input and indices should have the same number of "
            f"dimensions, but got {input.ndim} dimensions for input, and "
            f"{indices.ndim} dimensions for indices"
        )
    shape_in, shape_idx = list(input.shape), list(indices.shape)
    shape_in[dim] = shape_idx[dim] = 1
    common = list(broadcast_shapes(tuple(shape_in), tuple(shape_idx), op="take_along_dim"))
    target_in, target_idx = list(common), list(common)
    target_in[dim], target_idx[dim] = input.shape[dim], indices.shape[dim]
    return GATHER(expand(input, tuple(target_in)), expand(indices, tuple(target_idx)), dim=dim)


def nonzero(input, *, as_tuple=False):
    result = NONZERO(input)
    if not as_tuple:
        return result
    if input.ndim == 0:  # torch gives one index tensor: [0] if the value is nonzero, else []
        return (result.new_zeros((result.shape[0],)),)
    return tuple(result[:, i] for i in range(result.shape[1]))


def argwhere(input):
    return NONZERO(input)
