"""Indexing: `t[key]`, `t[key] = v`, gather/scatter and friends.

A key is split into its basic part (ints, slices, None, Ellipsis: a view) and its tensor parts
(integer or boolean index tensors: a copy, as in NumPy). The key travels as a hashable template
in which each index tensor is the marker TENSOR and the tensors themselves are op inputs.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..tensor import Tensor, _normalize_dim
from .families import define
from .registry import Spec

__all__ = ["index_select", "gather", "scatter", "scatter_add", "scatter_reduce", "index_add",
           "index_copy", "index_fill", "index_put", "masked_fill", "masked_select",
           "masked_scatter", "take", "take_along_dim", "nonzero", "argwhere", "getitem",
           "setitem", "ReturnTypes"]

TENSOR = "<tensor>"  # marks where an index tensor sits in a key template


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


# ----- key handling --------------------------------------------------------------------------
def _split_key(key, device):
    """(template, index tensors) for a user key; lists and arrays become int64 tensors."""
    if not isinstance(key, tuple):
        key = (key,)
    template, tensors = [], []
    for part in key:
        if isinstance(part, slice):
            template.append(("slice", _int_or_none(part.start), _int_or_none(part.stop),
                             _int_or_none(part.step)))
        elif part is None or part is Ellipsis:
            template.append(part)
        elif isinstance(part, bool):
            template.append(TENSOR)
            tensors.append(_index_tensor(np.asarray(part), device))
        elif isinstance(part, (int, np.integer)):
            template.append(int(part))
        elif isinstance(part, Tensor):
            if part.ndim == 0 and part.dtype.category == dtypes.INTEGER:
                template.append(int(part.item()))
                continue
            if part.dtype.is_floating_point:
                raise IndexError(
                    "tensors used as indices must be long, int, byte or bool tensors, got "
                    f"{part.dtype.name}")
            template.append(TENSOR)
            tensors.append(part)
        elif isinstance(part, (list, np.ndarray, range)):
            array = np.asarray(part)
            if array.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            template.append(TENSOR)
            tensors.append(_index_tensor(array, device))
        else:
            raise IndexError(
                f"only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                f"are valid indices (got {type(part).__name__})")
    return tuple(template), tensors


def _int_or_none(value):
    return None if value is None else int(value)


def _index_tensor(array, device):
    from .creation import tensor

    return tensor(array if array.dtype == np.bool_ else array.astype(np.int64), device=device)


def _build_key(template, arrays):
    arrays = iter(arrays)
    key = []
    for part in template:
        if part == TENSOR:
            key.append(next(arrays))
        elif isinstance(part, tuple):
            key.append(slice(part[1], part[2], part[3]))
        else:
            key.append(part)
    return tuple(key)


def _check_bounds(shape, template, arrays, xp):
    """IndexError like torch's for out-of-range integer indices (NumPy's message differs)."""
    axis = 0
    for part in template:
        if part is None:
            continue
        if part is Ellipsis:
            consumed = sum(1 for p in template if p is not None and p is not Ellipsis)
            axis += len(shape) - consumed
            continue
        if axis >= len(shape):
            raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
        size = shape[axis]
        if isinstance(part, int) and not -size <= part < size:
            raise IndexError(
                f"index {part} is out of bounds for dimension {axis} with size {size}")
        axis += 1


def _meta_of_index(x, *indices, key):
    dummy = np.empty(x.shape, dtype=np.bool_)
    arrays = [np.zeros(i.shape, dtype=np.bool_ if i.dtype is dtypes.bool else np.int64)
              for i in indices]
    try:
        shape = dummy[_build_key(key, arrays)].shape
    except IndexError as error:
        raise IndexError(f"index: {error}") from None
    return Spec(shape, x.dtype)


def _index_kernel(xp, x, *indices, key):
    _check_bounds(x.shape, key, indices, xp)
    try:
        return x[_build_key(key, indices)]
    except IndexError as error:
        raise IndexError(str(error).replace("axis", "dimension")) from None


def _index_vjp(node, g):
    indices = node.inputs[1:]
    shape, dtype = node.input_meta[0]
    from .creation import zeros

    base = zeros(shape, dtype=dtypes.from_numpy(dtype), device=g.device)
    return (INDEX_PUT(base, g, *indices, key=node.attrs["key"], accumulate=True),) + (None,) * len(
        indices)


def _basic_index_vjp(node, g):
    shape, dtype = node.input_meta[0]
    from .creation import zeros

    base = zeros(shape, dtype=dtypes.from_numpy(dtype), device=g.device)
    return (INDEX_PUT(base, g, key=node.attrs["key"], accumulate=False),)


BASIC_INDEX = define("basic_index", meta=_meta_of_index, kernel=_index_kernel,
                     vjp=_basic_index_vjp, family="indexing", save_inputs=False, view=True)
INDEX = define("index", meta=_meta_of_index, kernel=_index_kernel, vjp=_index_vjp,
               family="indexing")


def _index_put_kernel(xp, x, values, *indices, key, accumulate):
    out = x.copy()
    full_key = _build_key(key, indices)
    values = values.astype(x.dtype, copy=False) if hasattr(values, "astype") else values
    if accumulate:
        if xp is np:
            np.add.at(out, full_key, values)
        else:
            xp.add.at(out, full_key, values)
    else:
        out[full_key] = values
    return out


def _index_put_vjp(node, g):
    inputs = node.inputs
    indices = inputs[2:]
    key, accumulate = node.attrs["key"], node.attrs["accumulate"]
    grad_x = g
    if not accumulate:
        grad_x = INDEX_PUT(g, g.new_zeros(()), *indices, key=key, accumulate=False)
    grad_values = None
    if node.needs_grad[1]:
        picked = INDEX(g, *indices, key=key) if indices else BASIC_INDEX(g, key=key)
        from .families import unbroadcast

        grad_values = unbroadcast(picked, node.input_meta[1][0])
    return (grad_x, grad_values) + (None,) * len(indices)


INDEX_PUT = define(
    "index_put", meta=lambda x, values, *indices, key, accumulate: Spec(x.shape, x.dtype),
    kernel=_index_put_kernel, vjp=_index_put_vjp, family="indexing")


def getitem(tensor: Tensor, key):
    template, indices = _split_key(key, tensor.device)
    if indices:
        return INDEX(tensor, *indices, key=template)
    return BASIC_INDEX(tensor, key=template)


def setitem(tensor: Tensor, key, value) -> None:
    """`tensor[key] = value`: written in place (views see it), recorded for autograd."""
    from ..dispatch import apply_inplace

    template, indices = _split_key(key, tensor.device)
    if not isinstance(value, Tensor):
        from .creation import tensor as make

        value = make(value, dtype=tensor.dtype, device=tensor.device)
    apply_inplace(tensor, INDEX_PUT, (tensor, value, *indices),
                  {"key": template, "accumulate": False})


# ----- gather / scatter ----------------------------------------------------------------------
def _gather_meta(x, index, dim):
    if len(index.shape) != len(x.shape):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    if index.dtype is not dtypes.int64:
        raise RuntimeError(f"gather(): Expected dtype int64 for index, got {index.dtype.name}")
    return Spec(index.shape, x.dtype)


def _gather_kernel(xp, x, index, dim):
    size = x.shape[dim]
    if index.size and (index.min() < -size or index.max() >= size):
        raise IndexError(f"gather: index {int(index.max())} is out of bounds for dimension {dim} "
                         f"with size {size}")
    for axis in range(x.ndim):
        if axis != dim and index.shape[axis] > x.shape[axis]:
            raise RuntimeError(
                f"Size does not match at dimension {axis} expected index {list(index.shape)} to be "
                f"smaller than self {list(x.shape)} apart from dimension {dim}")
    sliced = x[tuple(slice(0, index.shape[a]) if a != dim else slice(None)
                     for a in range(x.ndim))]
    return xp.take_along_axis(sliced, index, axis=dim)


def _gather_vjp(node, g):
    x, index = node.inputs
    from .creation import zeros

    base = zeros(node.input_meta[0][0], dtype=g.dtype, device=g.device)
    return (SCATTER_ADD(base, index, g, dim=node.attrs["dim"]), None)


GATHER = define("gather", meta=_gather_meta, kernel=_gather_kernel, vjp=_gather_vjp,
                family="indexing", eager_check=True)


def _scatter_key(xp, index, dim):
    grids = list(xp.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


def _scatter_kernel(xp, x, index, src, dim, reduce=None):
    out = x.copy()
    key = _scatter_key(xp, index, dim)
    values = src[tuple(slice(0, s) for s in index.shape)] if hasattr(src, "shape") and src.ndim else src
    if hasattr(values, "astype"):
        values = values.astype(x.dtype, copy=False)
    if reduce is None:
        out[key] = values
    elif reduce in ("add", "sum"):
        xp.add.at(out, key, values)
    elif reduce in ("multiply", "prod"):
        xp.multiply.at(out, key, values)
    elif reduce == "amax":
        xp.maximum.at(out, key, values)
    elif reduce == "amin":
        xp.minimum.at(out, key, values)
    else:
        raise RuntimeError(f"scatter: unknown reduce {reduce!r}")
    return out


def _scatter_vjp(node, g):
    x, index, src = node.inputs
    dim = node.attrs["dim"]
    grad_x = SCATTER(g, index, 0.0, dim=dim)
    grad_src = None
    if isinstance(src, Tensor) and node.needs_grad[2]:
        grad_src = _pad_to(GATHER(g, index, dim=dim), tuple(src.shape))
    return (grad_x, None, grad_src)


def _scatter_add_vjp(node, g):
    x, index, src = node.inputs
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
    key = tuple(("slice", 0, s, None) for s in grad.shape)
    return INDEX_PUT(base, grad, key=key, accumulate=False)


def _scatter_meta(x, index, src, dim, reduce=None):
    if index.dtype is not dtypes.int64:
        raise RuntimeError(f"scatter(): Expected dtype int64 for index, got {index.dtype.name}")
    return Spec(x.shape, x.dtype)


SCATTER = define("scatter", meta=_scatter_meta, kernel=_scatter_kernel, vjp=_scatter_vjp,
                 family="indexing", eager_check=True)
SCATTER_ADD = define("scatter_add",
                     meta=_scatter_meta,
                     kernel=lambda xp, x, index, src, dim: _scatter_kernel(xp, x, index, src, dim,
                                                                           "add"),
                     vjp=_scatter_add_vjp, family="indexing", save_inputs=True, eager_check=True)


def _nonzero_kernel(xp, x):
    return xp.stack(xp.nonzero(x), axis=1).astype(np.int64) if x.ndim else xp.zeros(
        (int(bool(x)), 0), dtype=np.int64)


NONZERO = define("nonzero", meta=lambda x: Spec((-1, len(x.shape)), dtypes.int64),
                 kernel=_nonzero_kernel, vjp=None, family="indexing", differentiable=False)


# ----- public functions ----------------------------------------------------------------------
def index_select(input, dim, index):
    dim = _normalize_dim(dim, input.ndim, "index_select")
    if index.ndim > 1:
        raise IndexError(f"index_select(): Index is supposed to be a vector, got {index.ndim}-D")
    if index.dtype.category != dtypes.INTEGER:
        raise RuntimeError(f"index_select(): Expected dtype int32/int64 for index, got "
                           f"{index.dtype.name}")
    key = (("slice", None, None, None),) * dim + (TENSOR,)
    return INDEX(input, index.reshape(-1), key=key)


def gather(input, dim, index, *, sparse_grad=False):
    return GATHER(input, index, dim=_normalize_dim(dim, input.ndim, "gather"))


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    source = src if src is not None else value
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError(f"scatter(): reduce argument must be either add or multiply, got "
                           f"{reduce!r}")
    if reduce == "add":
        return scatter_add(input, dim, index, source if isinstance(source, Tensor) else
                           input.new_full(index.shape, source))
    return SCATTER(input, index, source, dim=_normalize_dim(dim, input.ndim, "scatter"),
                   **({"reduce": reduce} if reduce else {}))


def scatter_add(input, dim, index, src):
    return SCATTER_ADD(input, index, src, dim=_normalize_dim(dim, input.ndim, "scatter_add"))


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """sum / prod / amax / amin / mean reduction of `src` into `input` (no gradient for prod)."""
    dim = _normalize_dim(dim, input.ndim, "scatter_reduce")
    if reduce == "sum":
        base = input if include_self else SCATTER(input, index, 0.0, dim=dim)
        return scatter_add(base, dim, index, src)
    if reduce == "mean":
        from .creation import ones_like

        total = scatter_reduce(input, dim, index, src, "sum", include_self=include_self)
        counts = scatter_add(ones_like(input) if include_self else input * 0, dim, index,
                             ones_like(src))
        return total / counts.clamp(min=1)
    if reduce in ("prod", "amax", "amin"):
        from ..autograd.grad_mode import no_grad

        identity = {"prod": 1.0, "amax": -np.inf, "amin": np.inf}[reduce]
        with no_grad():
            base = input if include_self else SCATTER(input, index, identity, dim=dim)
            return SCATTER(base, index, src, dim=dim, reduce=reduce)
    raise RuntimeError(f"scatter_reduce: reduce must be one of sum, prod, mean, amax, amin, got "
                       f"{reduce!r}")


def index_add(input, dim, index, source, *, alpha=1):
    dim = _normalize_dim(dim, input.ndim, "index_add")
    key = (("slice", None, None, None),) * dim + (TENSOR,)
    if alpha != 1:
        source = source * alpha
    return INDEX_PUT(input, source, index, key=key, accumulate=True)


def index_copy(input, dim, index, source):
    dim = _normalize_dim(dim, input.ndim, "index_copy")
    key = (("slice", None, None, None),) * dim + (TENSOR,)
    return INDEX_PUT(input, source, index, key=key, accumulate=False)


def index_fill(input, dim, index, value):
    dim = _normalize_dim(dim, input.ndim, "index_fill")
    key = (("slice", None, None, None),) * dim + (TENSOR,)
    if not isinstance(value, Tensor):
        value = input.new_full((), value)
    return INDEX_PUT(input, value, index, key=key, accumulate=False)


def index_put(input, indices, values, accumulate=False):
    template = tuple(TENSOR for _ in indices)
    return INDEX_PUT(input, values, *indices, key=template, accumulate=accumulate)


def masked_fill(input, mask, value):
    from .elementwise import where

    if mask.dtype is not dtypes.bool:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype.name}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value.ndim} dimension(s).")
        value = value.to(input.dtype)
    else:
        value = input.new_full((), value)
    return where(mask, value, input)


def masked_select(input, mask):
    from .movement import broadcast_tensors

    input, mask = broadcast_tensors(input, mask)
    return INDEX(input, mask, key=(TENSOR,))


def masked_scatter(input, mask, source):
    from .movement import broadcast_tensors

    input, mask = broadcast_tensors(input, mask)
    count = int(mask.sum())
    return INDEX_PUT(input.contiguous(), source.reshape(-1)[:count], mask, key=(TENSOR,),
                     accumulate=False)


def take(input, index):
    return INDEX(input.reshape(-1), index, key=(TENSOR,))


def take_along_dim(input, indices, dim=None):
    if dim is None:
        return GATHER(input.reshape(-1), indices.reshape(-1), dim=0)
    from .movement import broadcast_shapes, expand

    dim = _normalize_dim(dim, input.ndim, "take_along_dim")
    shape_in, shape_idx = list(input.shape), list(indices.shape)
    shape_in[dim] = shape_idx[dim] = 1
    common = list(broadcast_shapes(tuple(shape_in), tuple(shape_idx)))
    target_in, target_idx = list(common), list(common)
    target_in[dim], target_idx[dim] = input.shape[dim], indices.shape[dim]
    return GATHER(expand(input, tuple(target_in)), expand(indices, tuple(target_idx)), dim=dim)


def nonzero(input, *, as_tuple=False):
    result = NONZERO(input)
    if as_tuple:
        if input.ndim == 0:
            return (result.reshape(-1),)
        return tuple(result[:, i] for i in range(result.shape[1]))
    return result


def argwhere(input):
    return NONZERO(input)
