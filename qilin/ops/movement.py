"""Movement ops: reshape, permute, expand, slicing views, concatenation, flips.

Views (reshape when possible, view, permute, expand, squeeze/unsqueeze, narrow, diagonal)
share memory and the version counter with their base, as in torch.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..dispatch import write_out
from ..errors import located
from ..tensor import Tensor, _normalize_dim
from .families import broadcast_shapes, define
from .registry import Spec

__all__ = [
    "reshape",
    "view",
    "permute",
    "transpose",
    "swapaxes",
    "swapdims",
    "t",
    "adjoint",
    "flatten",
    "unflatten",
    "squeeze",
    "unsqueeze",
    "expand",
    "expand_as",
    "broadcast_to",
    "broadcast_tensors",
    "broadcast_shapes",
    "narrow",
    "select",
    "chunk",
    "split",
    "tensor_split",
    "unbind",
    "cat",
    "concat",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "dstack",
    "column_stack",
    "flip",
    "fliplr",
    "flipud",
    "roll",
    "rot90",
    "movedim",
    "moveaxis",
    "diagonal",
    "diag",
    "diag_embed",
    "repeat",
    "tile",
    "repeat_interleave",
    "meshgrid",
    "tril",
    "triu",
    "contiguous",
    "clone",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "ravel",
]


# ----- shape helpers -------------------------------------------------------------------------
def _shape_arg(shape) -> tuple:
    """Accept f(2, 3), f((2, 3)), f([2, 3]) and f(qilin.Size([2, 3]))."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(map(int, shape))


def infer_shape(shape: tuple, numel: int, op: str = "view") -> tuple:
    """Resolve one -1 entry and check the element count, with torch's message."""
    if -1 not in shape and math.prod(shape) == numel and (not shape or min(shape) >= 0):
        return shape  # the common case: nothing to infer
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise located(
            RuntimeError(f"{op}: only one dimension can be inferred, got shape {list(shape)}")
        )
    if any(s < -1 for s in shape):
        raise located(RuntimeError(f"{op}: invalid shape dimension {min(shape)} in {list(shape)}"))
    known = math.prod(s for s in shape if s != -1)
    if unknown and known == 0:
        raise located(
            RuntimeError(
                f"{op}: cannot reshape tensor of {numel} elements into shape {list(shape)} "
                "because the unspecified dimension size -1 can be any value and is ambiguous"
            )
        )
    if unknown and numel % known == 0:
        return shape[: unknown[0]] + (numel // known,) + shape[unknown[0] + 1 :]
    if unknown or known != numel:
        raise located(
            RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")
        )
    return shape


# ----- view records --------------------------------------------------------------------------
def _reshape_meta(x, shape):
    return Spec(infer_shape(tuple(shape), math.prod(x.shape), "reshape"), x.dtype)


def _reshape_kernel(xp, x, shape):
    # reshape() sends here only what cannot be a view: the result is always a fresh copy.
    return xp.reshape(xp.array(x, copy=True, order="C"), shape)


RESHAPE = define(
    "reshape",
    meta=_reshape_meta,
    kernel=_reshape_kernel,
    vjp=lambda node, g: (reshape(g, node.input_meta[0][0]),),
    family="movement",
    save_inputs=False,
)


def _view_kernel(xp, x, shape):
    try:
        return x.reshape(shape, copy=False) if xp is np else xp.reshape(x, shape, copy=False)
    except ValueError:
        # Raised located: its "(at least" would stop the dispatcher from adding the location.
        raise located(
            RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                f"dimension spans across two contiguous subspaces); input shape {list(x.shape)}, "
                f"requested {list(shape)}. Use .reshape(...) instead."
            )
        ) from None


VIEW = define(
    "view",
    meta=_reshape_meta,
    kernel=_view_kernel,
    vjp=lambda node, g: (reshape(g, node.input_meta[0][0]),),
    family="movement",
    save_inputs=False,
    view=True,
)


def _permute_meta(x, dims):
    if sorted(dims) != list(range(len(x.shape))):
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {len(x.shape)} is "
            f"not equal to len(dims) = {len(dims)}"
            if len(dims) != len(x.shape)
            else f"permute(): duplicate dims are not allowed (dims {list(dims)})"
        )
    return Spec(tuple(x.shape[d] for d in dims), x.dtype)


PERMUTE = define(
    "permute",
    meta=_permute_meta,
    kernel=lambda xp, x, dims: xp.transpose(x, dims),
    vjp=lambda node, g: (PERMUTE(g, dims=tuple(np.argsort(node.attrs["dims"]).tolist())),),
    family="movement",
    save_inputs=False,
    view=True,
)


def _expand_meta(x, shape):
    lead = len(shape) - len(x.shape)
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(shape)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({len(x.shape)})"
        )
    for axis, size in enumerate(x.shape):
        target = shape[lead + axis]
        if size != 1 and size != target:
            raise RuntimeError(
                f"The expanded size of the tensor ({target}) must match the existing size "
                f"({size}) at non-singleton dimension {lead + axis}.  Target sizes: "
                f"{list(shape)}.  Tensor sizes: {list(x.shape)}"
            )
    return Spec(tuple(shape), x.dtype)


def _expand_vjp(node, g):
    from .reduction import sum_to

    return (sum_to(g, node.input_meta[0][0]),)


EXPAND = define(
    "expand",
    meta=_expand_meta,
    kernel=lambda xp, x, shape: xp.broadcast_to(x, shape),
    vjp=_expand_vjp,
    family="movement",
    save_inputs=False,
    view=True,
)


def _slice_kernel(xp, x, dim, start, stop, step):
    key = (slice(None),) * dim + (slice(start, stop, step),)
    return x[key]


def _slice_meta(x, dim, start, stop, step):
    shape = list(x.shape)
    shape[dim] = len(range(start, stop, step))
    return Spec(tuple(shape), x.dtype)


def _slice_vjp(node, g):
    attrs = node.attrs
    return (
        SLICE_BACKWARD(
            g,
            shape=node.input_meta[0][0],
            dim=attrs["dim"],
            start=attrs["start"],
            stop=attrs["stop"],
            step=attrs["step"],
        ),
    )


SLICE = define(
    "slice",
    meta=_slice_meta,
    kernel=_slice_kernel,
    vjp=_slice_vjp,
    family="movement",
    save_inputs=False,
    view=True,
)


def _slice_backward_kernel(xp, g, shape, dim, start, stop, step):
    out = xp.zeros(shape, dtype=g.dtype)
    out[(slice(None),) * dim + (slice(start, stop, step),)] = g
    return out


SLICE_BACKWARD = define(
    "slice_backward",
    meta=lambda g, shape, dim, start, stop, step: Spec(tuple(shape), g.dtype),
    kernel=_slice_backward_kernel,
    vjp=lambda node, g: (
        SLICE(
            g,
            dim=node.attrs["dim"],
            start=node.attrs["start"],
            stop=node.attrs["stop"],
            step=node.attrs["step"],
        ),
    ),
    family="movement",
    save_inputs=False,
)


def _diagonal_kernel(xp, x, offset, dim1, dim2):
    out = xp.diagonal(x, offset, dim1, dim2)
    if xp is np and x.flags.writeable:
        out.flags.writeable = True  # NumPy hands out read-only diagonals; torch's are writable
    return out


def _diagonal_meta(x, offset, dim1, dim2):
    rows, cols = x.shape[dim1], x.shape[dim2]
    length = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
    rest = tuple(s for i, s in enumerate(x.shape) if i not in (dim1, dim2))
    return Spec(rest + (length,), x.dtype)


def _diagonal_backward_kernel(xp, g, shape, offset, dim1, dim2):
    out = xp.zeros(shape, dtype=g.dtype)
    view = xp.diagonal(out, offset, dim1, dim2)
    view.flags.writeable = True  # NumPy marks diagonal views read-only; this one is ours
    view[...] = g
    return out


DIAGONAL = define(
    "diagonal",
    meta=_diagonal_meta,
    kernel=_diagonal_kernel,
    vjp=lambda node, g: (DIAGONAL_BACKWARD(g, shape=node.input_meta[0][0], **node.attrs),),
    family="movement",
    save_inputs=False,
    view=True,
)
DIAGONAL_BACKWARD = define(
    "diagonal_backward",
    meta=lambda g, shape, offset, dim1, dim2: Spec(tuple(shape), g.dtype),
    kernel=_diagonal_backward_kernel,
    vjp=lambda node, g: (
        DIAGONAL(g, offset=node.attrs["offset"], dim1=node.attrs["dim1"], dim2=node.attrs["dim2"]),
    ),
    family="movement",
    save_inputs=False,
)


# ----- copying records -----------------------------------------------------------------------
def _cat_meta(*tensors, dim):
    first = tensors[0]
    for index, other in enumerate(tensors[1:], 1):
        if len(other.shape) != len(first.shape):
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got "
                f"{len(first.shape)} and {len(other.shape)}"
            )
        for axis, (a, b) in enumerate(zip(first.shape, other.shape)):
            if axis != dim and a != b:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {dim}. Expected size {a} "
                    f"but got size {b} for tensor number {index} in the list (shapes "
                    f"{list(first.shape)} and {list(other.shape)})."
                )
    shape = list(first.shape)
    shape[dim] = sum(t.shape[dim] for t in tensors)
    dtype = dtypes.result_type(*tensors)
    return Spec(tuple(shape), dtype)


def _cat_kernel(xp, *arrays, dim):
    dtype = dtypes.result_type(*arrays).numpy
    return xp.concatenate([a.astype(dtype, copy=False) for a in arrays], axis=dim)


def _cat_vjp(node, g):
    dim = node.attrs["dim"]
    grads = SPLIT(g, sizes=tuple(shape[dim] for shape, _ in node.input_meta), dim=dim)
    return grads if isinstance(grads, tuple) else (grads,)


CAT = define(
    "cat",
    meta=_cat_meta,
    kernel=_cat_kernel,
    vjp=_cat_vjp,
    family="movement",
    save_inputs=False,
    eager_check=True,
)


def _split_meta(x, sizes, dim):
    if not 0 <= dim < len(x.shape):
        raise IndexError(f"split_with_sizes: dim {dim} is out of range for shape {x.shape}")
    if sum(sizes) != x.shape[dim] or any(size < 0 for size in sizes):
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {x.shape[dim]} (input "
            f"tensor's size at dimension {dim}), but got split_sizes={list(sizes)}"
        )
    pieces = []
    for size in sizes:
        shape = list(x.shape)
        shape[dim] = size
        pieces.append(Spec(tuple(shape), x.dtype))
    return tuple(pieces)


def _split_kernel(xp, x, sizes, dim):
    lead, start, pieces = (slice(None),) * dim, 0, []
    for size in sizes:
        pieces.append(x[lead + (slice(start, start + size),)])
        start += size
    return tuple(pieces)


def _split_vjp(node, grads):
    # one output gets its grad alone; missing grads of several arrive as zeros (Node.apply)
    return (CAT(*(grads if isinstance(grads, tuple) else (grads,)), dim=node.attrs["dim"]),)


# Views of consecutive pieces along `dim`, as one multi-output op (torch's split_with_sizes):
# its backward is one cat, and cat's backward is one split (not one zero-filled slice each).
SPLIT = define(
    "split_with_sizes",
    meta=_split_meta,
    kernel=_split_kernel,
    vjp=_split_vjp,
    family="movement",
    save_inputs=False,
    num_outputs=-1,
    view=True,
)


def _flip_meta(x, dims):
    for dim in dims:
        if dims.count(dim) > 1:
            raise RuntimeError(f"dim {dim} appears multiple times in the list of dims")
    return Spec(x.shape, x.dtype)


FLIP = define(
    "flip",
    meta=_flip_meta,
    eager_check=True,
    kernel=lambda xp, x, dims: xp.flip(x, dims).copy(),
    vjp=lambda node, g: (FLIP(g, dims=node.attrs["dims"]),),
    family="movement",
    save_inputs=False,
)
ROLL = define(
    "roll",
    meta=lambda x, shifts, dims: Spec(x.shape, x.dtype),
    kernel=lambda xp, x, shifts, dims: xp.roll(x, shifts, dims),
    vjp=lambda node, g: (
        ROLL(g, shifts=tuple(-s for s in node.attrs["shifts"]), dims=node.attrs["dims"]),
    ),
    family="movement",
    save_inputs=False,
)


def _copy_kernel(xp, x, order="K"):
    # "K" keeps the input's layout (torch's preserve_format), but an expanded input (a stride
    # of 0) is copied row-major, as torch does; "C" is always row-major.
    if order == "K" and any(s == 0 and n > 1 for s, n in zip(x.strides, x.shape)):
        order = "C"
    return xp.array(x, copy=True, order=order)


COPY = define(
    "copy",
    meta=lambda x, order="K": Spec(x.shape, x.dtype),
    kernel=_copy_kernel,
    vjp=lambda node, g: (g,),
    family="movement",
    save_inputs=False,
    lowering={"c": "{0}"},
)


def _bitcast_meta(x, dtype):
    shape = x.shape
    if dtype.itemsize != x.dtype.itemsize:
        if not shape:
            raise RuntimeError(
                f"view(dtype): a 0-d tensor of {x.dtype.name} cannot be viewed as "
                f"{dtype.name}, whose element size differs"
            )
        if (shape[-1] * x.dtype.itemsize) % dtype.itemsize:
            raise RuntimeError(
                f"view(dtype): the size of the last dimension ({shape[-1]}) times the element "
                f"size of {x.dtype.name} ({x.dtype.itemsize}) must be divisible by the element "
                f"size of {dtype.name} ({dtype.itemsize})"
            )
        shape = shape[:-1] + (shape[-1] * x.dtype.itemsize // dtype.itemsize,)
    return Spec(tuple(shape), dtype)


def _bitcast_kernel(xp, x, dtype):
    if dtype.itemsize != x.dtype.itemsize and x.ndim and x.strides[-1] != x.itemsize:
        raise RuntimeError(
            "view(dtype): the last dimension must be contiguous (stride 1) to "
            "view a tensor as a dtype of a different element size"
        )
    return x.view(dtype.numpy)


# Reinterprets the bytes (x.view(qilin.int32)), as torch does; not differentiable.
BITCAST = define(
    "bitcast",
    meta=_bitcast_meta,
    kernel=_bitcast_kernel,
    vjp=None,
    family="movement",
    differentiable=False,
    view=True,
    eager_check=True,
)


def _cast_kernel(xp, x, dtype):
    return x.astype(dtype.numpy)


CAST = define(
    "cast",
    meta=lambda x, dtype: Spec(x.shape, dtype),
    kernel=_cast_kernel,
    vjp=lambda node, g: (g,),
    family="elementwise",
    save_inputs=False,
    lowering={"c": "(({dtype}){0})"},
)


# ----- public functions ----------------------------------------------------------------------
def reshape(input, *shape):
    """A view when the strides allow one (as torch), else a copy."""
    shape = infer_shape(_shape_arg(shape), input._data.size, "reshape")
    if _viewable(input._data, shape):
        return VIEW(input, shape=shape)
    return RESHAPE(input, shape=shape)


def _viewable(data, shape) -> bool:
    if data.flags.c_contiguous or tuple(data.shape) == shape:
        return True
    try:
        np.reshape(data, shape, copy=False)
    except ValueError:
        return False
    return True


def view(input, *shape):
    if len(shape) == 1 and isinstance(shape[0], (dtypes.DType, str)):
        return BITCAST(input, dtype=dtypes.to_dtype(shape[0]))
    return VIEW(input, shape=infer_shape(_shape_arg(shape), input._data.size, "view"))


def permute(input, *dims):
    dims = _shape_arg(dims)
    return PERMUTE(input, dims=tuple(_normalize_dim(d, input.ndim, "permute") for d in dims))


def transpose(input, dim0, dim1):
    if input.ndim < 2 and input.ndim == 0:
        return VIEW(input, shape=tuple(input.shape))
    dim0, dim1 = (
        _normalize_dim(dim0, input.ndim, "transpose"),
        _normalize_dim(dim1, input.ndim, "transpose"),
    )
    dims = list(range(input.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return PERMUTE(input, dims=tuple(dims))


swapaxes = swapdims = transpose


def t(input):
    if input.ndim > 2:
        raise located(
            RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
        )
    return transpose(input, 0, 1) if input.ndim == 2 else VIEW(input, shape=tuple(input.shape))


def adjoint(input):
    return matrix_transpose(input, "adjoint()")


def matrix_transpose(input, name: str = "tensor.mT"):
    """`x.mT`: swap the last two dims (torch refuses tensors with fewer than two)."""
    if input.ndim < 2:
        raise RuntimeError(
            f"{name} is only supported on matrices or batches of matrices. Got "
            f"{input.ndim}-D tensor."
        )
    return transpose(input, -2, -1)


def flatten(input, start_dim=0, end_dim=-1):
    if input.ndim == 0:
        return reshape(input, 1)
    start = _normalize_dim(start_dim, input.ndim, "flatten")
    end = _normalize_dim(end_dim, input.ndim, "flatten")
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = tuple(input.shape)
    return reshape(input, shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :])


def ravel(input):
    return reshape(input, -1)


def unflatten(input, dim, sizes):
    dim = _normalize_dim(dim, input.ndim, "unflatten")
    sizes = tuple(int(s) for s in sizes)
    known = math.prod(s for s in sizes if s != -1)
    if (
        not sizes
        or (-1 not in sizes and known != input.shape[dim])
        or (-1 in sizes and (known == 0 or input.shape[dim] % known))
    ):
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
            f"size of dim {dim} ({input.shape[dim]}) in the input tensor"
        )
    sizes = infer_shape(sizes, input.shape[dim], "unflatten")
    shape = tuple(input.shape)
    return reshape(input, shape[:dim] + sizes + shape[dim + 1 :])


def squeeze(input, dim=None):
    shape = tuple(input.shape)
    if dim is None:
        axes = {i for i, s in enumerate(shape) if s == 1}
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = {_normalize_dim(d, input.ndim, "squeeze") for d in dims}
        axes = {a for a in axes if input.ndim and shape[a] == 1}
    return VIEW(input, shape=tuple(s for i, s in enumerate(shape) if i not in axes))


def unsqueeze(input, dim):
    dim = _normalize_dim(dim, input.ndim + 1, "unsqueeze")
    shape = tuple(input.shape)
    return VIEW(input, shape=shape[:dim] + (1,) + shape[dim:])


def expand(input, *sizes):
    sizes = _shape_arg(sizes)
    lead = len(sizes) - input.ndim
    shape = tuple(
        input.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes)
    )
    if any(s < 0 for s in shape):
        raise RuntimeError(
            f"expand: -1 is not allowed in a leading, non-existing dimension "
            f"(sizes {list(sizes)} for a tensor of shape {list(input.shape)})"
        )
    if shape == tuple(input.shape):
        return VIEW(input, shape=shape)
    return EXPAND(input, shape=shape)


def expand_as(input, other):
    return expand(input, tuple(other.shape))


def broadcast_to(input, shape):
    return expand(input, tuple(shape))


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    shape = broadcast_shapes(*(tuple(t.shape) for t in tensors), op="broadcast_tensors")
    return tuple(expand(t, shape) for t in tensors)


def narrow(input, dim, start, length):
    dim = _normalize_dim(dim, input.ndim, "narrow")
    size = input.shape[dim]
    start, length = int(start), int(length)
    if not -size <= start <= size:
        raise IndexError(
            f"start out of range (expected to be in range of [{-size}, {size}], but got {start})"
        )
    if start < 0:
        start += size
    if length < 0:
        raise RuntimeError(f"narrow(): length must be non-negative, got {length}")
    if start + length > size:
        raise RuntimeError(
            f"start ({start}) + length ({length}) exceeds dimension size ({size}) of dim {dim}."
        )
    return SLICE(input, dim=dim, start=start, stop=start + length, step=1)


def select(input, dim, index):
    dim = _normalize_dim(dim, input.ndim, "select")
    size = input.shape[dim]
    if not -size <= index < size:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size "
            f"{list(input.shape)} at dimension {dim}"
        )
    index %= size
    shape = tuple(input.shape)
    return VIEW(narrow(input, dim, index, 1), shape=shape[:dim] + shape[dim + 1 :])


def split(tensor, split_size_or_sections, dim=0):
    dim = _normalize_dim(dim, tensor.ndim, "split")
    size = tensor.shape[dim]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step < 0:
            raise RuntimeError(
                f"split expects split_size be non-negative, but got split_size={step}"
            )
        if step == 0 and size:
            raise RuntimeError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}"
            )
        sections = [min(step, size - start) for start in range(0, size, step)] if size else [0]
    else:
        sections = [int(s) for s in split_size_or_sections]
        if sum(sections) != size or any(s < 0 for s in sections):
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's "
                f"size at dimension {dim}), but got split_sizes={sections}"
            )
    starts = np.cumsum([0] + sections).tolist()
    return _pieces(tensor, dim, starts[:-1], starts[1:])


def _pieces(tensor, dim, starts, stops):
    """Views tensor[..., start:stop] along `dim` (they may overlap or be empty)."""
    return tuple(
        SLICE(tensor, dim=dim, start=int(start), stop=int(max(start, stop)), step=1)
        for start, stop in zip(starts, stops)
    )


def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = input.shape[_normalize_dim(dim, input.ndim, "chunk")]
    return split(input, max(1, -(-size // chunks)), dim)


def tensor_split(input, indices_or_sections, dim=0):
    dim = _normalize_dim(dim, input.ndim, "tensor_split")
    size = input.shape[dim]
    if isinstance(indices_or_sections, Tensor) and indices_or_sections.ndim == 0:
        indices_or_sections = int(indices_or_sections)
    if isinstance(indices_or_sections, int):
        count = indices_or_sections
        if count <= 0:
            raise RuntimeError(
                f"tensor_split: number of sections must be larger than 0, got {count}"
            )
        base, extra = divmod(size, count)
        return split(input, [base + 1] * extra + [base] * (count - extra), dim)
    # Indices are clamped to [0, size] (negative ones count from the end, as in NumPy).
    bounds = [
        min(max(i + size if i < 0 else i, 0), size) for i in (int(i) for i in indices_or_sections)
    ]
    return _pieces(input, dim, [0] + bounds, bounds + [size])


def unbind(input, dim=0):
    dim = _normalize_dim(dim, input.ndim, "unbind")
    return tuple(select(input, dim, i) for i in range(input.shape[dim]))


def cat(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise located(ValueError("cat(): expected a non-empty list of Tensors"))
    for index, t in enumerate(tensors):
        _require_tensor(t, index)
        if t.ndim == 0:
            raise located(
                RuntimeError(
                    f"zero-dimensional tensor (at position {index}) cannot be concatenated"
                )
            )
    # torch skips legacy empty 1-D tensors (shape [0]) in cat.
    nonempty = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    dim = _normalize_dim(dim, nonempty[0].ndim, "cat")
    if len(nonempty) == 1:
        return nonempty[0].clone()
    return write_out(CAT(*nonempty, dim=dim), out)


concat = concatenate = cat


def stack(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise located(RuntimeError("stack expects a non-empty TensorList"))
    shape = tuple(_require_tensor(tensors[0], 0).shape)
    for index, t in enumerate(tensors):
        if tuple(_require_tensor(t, index).shape) != shape:
            raise located(
                RuntimeError(
                    f"stack expects each tensor to be equal size, but got {list(shape)} at "
                    f"entry 0 and {list(t.shape)} at entry {index}"
                )
            )
    dim = _normalize_dim(dim, len(shape) + 1, "stack")
    return write_out(CAT(*(unsqueeze(t, dim) for t in tensors), dim=dim), out)


def _require_tensor(value, index: int) -> Tensor:
    if not isinstance(value, Tensor):
        raise located(
            TypeError(
                f"expected Tensor as element {index} in argument 0, but got {type(value).__name__}"
            )
        )
    return value


def _nonempty(tensors, op: str) -> list:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{op} expects a non-empty TensorList")
    return tensors


def hstack(tensors, *, out=None):
    tensors = [atleast_1d(t) for t in _nonempty(tensors, "hstack")]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1, out=out)


def vstack(tensors, *, out=None):
    return cat([atleast_2d(t) for t in _nonempty(tensors, "vstack")], 0, out=out)


def dstack(tensors, *, out=None):
    return cat([atleast_3d(t) for t in _nonempty(tensors, "dstack")], 2, out=out)


def column_stack(tensors, *, out=None):
    tensors = _nonempty(tensors, "column_stack")
    return hstack([t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors], out=out)


def atleast_1d(*tensors):
    result = tuple(reshape(t, 1) if t.ndim == 0 else t for t in _flat(tensors))
    return result[0] if len(result) == 1 else result


def atleast_2d(*tensors):
    result = tuple(reshape(t, 1, -1) if t.ndim < 2 else t for t in _flat(tensors))
    return result[0] if len(result) == 1 else result


def atleast_3d(*tensors):
    def lift(t):
        if t.ndim == 0:
            return reshape(t, 1, 1, 1)
        if t.ndim == 1:
            return reshape(t, 1, -1, 1)
        return unsqueeze(t, -1) if t.ndim == 2 else t

    result = tuple(lift(t) for t in _flat(tensors))
    return result[0] if len(result) == 1 else result


def _flat(tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(tensors[0])
    return tensors


def flip(input, dims):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return FLIP(input, dims=tuple(_normalize_dim(d, input.ndim, "flip") for d in dims))


def fliplr(input):
    return flip(input, (1,))


def flipud(input):
    return flip(input, (0,))


def roll(input, shifts, dims=None):
    if dims is None:
        return reshape(roll(flatten(input), shifts, 0), tuple(input.shape))
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"roll: shifts and dims must align. shifts: {len(shifts)}, dims: {len(dims)}"
        )
    return ROLL(
        input, shifts=shifts, dims=tuple(_normalize_dim(d, input.ndim, "roll") for d in dims)
    )


def rot90(input, k=1, dims=(0, 1)):
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = (_normalize_dim(d, input.ndim, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(
            f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}"
        )
    k %= 4
    if k == 1:
        return transpose(flip(input, (d1,)), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return flip(transpose(input, d0, d1), (d1,))
    return clone(input)


def movedim(input, source, destination):
    source = (source,) if isinstance(source, int) else tuple(source)
    destination = (destination,) if isinstance(destination, int) else tuple(destination)
    ndim = input.ndim
    if len(source) != len(destination):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(source)} "
            f"dims) should contain the same number of dims as destination "
            f"({list(destination)} dims)"
        )
    source = [_normalize_dim(s, ndim, "movedim") for s in source]
    destination = [_normalize_dim(d, ndim, "movedim") for d in destination]
    for name, dims in (("source", source), ("destination", destination)):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({dims})")
    order = [d for d in range(ndim) if d not in source]
    for dst, src in sorted(zip(destination, source)):
        order.insert(dst, src)
    return PERMUTE(input, dims=tuple(order))


moveaxis = movedim


def diagonal(input, offset=0, dim1=0, dim2=1):
    dim1 = _normalize_dim(dim1, input.ndim, "diagonal")
    dim2 = _normalize_dim(dim2, input.ndim, "diagonal")
    if dim1 == dim2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return DIAGONAL(input, offset=offset, dim1=dim1, dim2=dim2)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    size = input.shape[-1] + abs(offset)
    shape = tuple(input.shape[:-1]) + (size, size)
    out = DIAGONAL_BACKWARD(
        input, shape=shape, offset=offset, dim1=len(shape) - 2, dim2=len(shape) - 1
    )
    return movedim(out, (-2, -1), (dim1, dim2)) if (dim1, dim2) != (-2, -1) else out


def diag(input, diagonal=0):
    if input.ndim == 1:
        size = input.shape[0] + abs(diagonal)
        return DIAGONAL_BACKWARD(input, shape=(size, size), offset=diagonal, dim1=0, dim2=1)
    if input.ndim == 2:
        return DIAGONAL(input, offset=diagonal, dim1=0, dim2=1).clone()
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def repeat(input, *sizes):
    sizes = _shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of "
            f"tensor (got {len(sizes)} repeat dims for a {input.ndim}-D tensor)"
        )
    lead = len(sizes) - input.ndim
    x = reshape(input, (1,) * lead + tuple(input.shape))
    # Repeat = insert a broadcast axis before each dim, expand, and merge.
    interleaved = []
    for size in x.shape:
        interleaved += [1, size]
    x = reshape(x, tuple(interleaved))
    target = []
    for repeat_count, size in zip(sizes, x.shape[1::2]):
        target += [repeat_count, size]
    x = expand(x, tuple(target))
    return reshape(x, tuple(r * s for r, s in zip(sizes, target[1::2])))


def tile(input, dims):
    dims = tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    if repeats is None:  # repeat_interleave(repeats_tensor): indices repeated
        from .creation import arange

        counts = input
        return repeat_interleave(arange(len(counts)), counts, 0)
    if dim is None:
        input, dim = flatten(input), 0
    dim = _normalize_dim(dim, input.ndim, "repeat_interleave")
    if isinstance(repeats, Tensor) and repeats.numel() == 1 and repeats.ndim <= 1:
        repeats = int(repeats.item())  # one count for every element, as torch broadcasts it
    if isinstance(repeats, int):
        count = repeats
        if count < 0:
            raise RuntimeError("repeat_interleave: repeats can not be negative")
        shape = tuple(input.shape)
        x = unsqueeze(input, dim + 1)
        x = expand(x, shape[: dim + 1] + (count,) + shape[dim + 1 :])
        return reshape(x, shape[:dim] + (shape[dim] * count,) + shape[dim + 1 :])
    from .creation import tensor
    from .indexing import index_select

    counts = repeats._host() if isinstance(repeats, Tensor) else np.asarray(repeats)
    if counts.ndim > 1:
        raise RuntimeError(
            f"repeat_interleave: repeats must be 0-dim or 1-dim tensor, got {counts.ndim}-dim"
        )
    if counts.size and counts.min() < 0:
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    if counts.ndim == 1 and counts.shape[0] != input.shape[dim]:
        raise RuntimeError(
            f"repeats must have the same size as input along dim, but got repeats.size(0) = "
            f"{counts.shape[0]} and input.size({dim}) = {input.shape[dim]}"
        )
    indices = np.repeat(np.arange(input.shape[dim]), counts)
    return index_select(input, dim, tensor(indices, device=input.device))


def meshgrid(*tensors, indexing="ij"):
    tensors = _flat(tensors)
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(
                f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                f"got a tensor of shape {list(t.shape)}"
            )
    shape = [t.numel() for t in tensors]
    if indexing == "xy" and len(tensors) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    grids = []
    for i, t in enumerate(tensors):
        view_shape = [1] * len(tensors)
        axis = i
        if indexing == "xy" and len(tensors) >= 2 and i < 2:
            axis = 1 - i
        view_shape[axis] = -1
        grids.append(expand(reshape(t, tuple(view_shape)), tuple(shape)))
    return tuple(grids)


def _triangle(input, diagonal, lower):
    from .creation import tensor
    from .elementwise import where

    if input.ndim < 2:
        raise RuntimeError(
            f"{'tril' if lower else 'triu'}: input tensor must have at least 2 "
            f"dimensions, got shape {list(input.shape)}"
        )
    rows, cols = input.shape[-2], input.shape[-1]
    keep = (np.tril if lower else np.triu)(np.ones((rows, cols), dtype=bool), diagonal)
    # A zero of the input's dtype (not input * 0, which would turn inf into nan).
    zero = tensor(0, dtype=input.dtype, device=input.device)
    return where(tensor(keep, device=input.device), input, zero)


def tril(input, diagonal=0):
    return _triangle(input, diagonal, lower=True)


def triu(input, diagonal=0):
    return _triangle(input, diagonal, lower=False)


class memory_format:  # noqa: N801  (torch's name)
    """A layout request for clone/contiguous/to: qilin.contiguous_format etc."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"qilin.{self.name}"


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")


def contiguous(input, memory_format=None):
    return input if input.is_contiguous() else COPY(input, order="C")


def clone(input, *, memory_format=None):
    """A copy that keeps the input's layout (torch's preserve_format) unless one is asked for."""
    if memory_format is contiguous_format:
        return COPY(input, order="C")
    return COPY(input)
