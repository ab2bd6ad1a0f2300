"""Specs for the movement ops (qilin/ops/movement.py) and the public functions built on them.

Each spec runs unchanged on qilin and torch; the NumPy reference is written independently.
"""

import numpy as np
import pytest

import qilin

from .harness import Arg, OpSpec, make_tests, torch

A = (3, 4)
B = (2, 3, 4)
NOGRAD = dict(grad=False, double=False)


def _chunks(x, pieces, axis):
    """torch.chunk: pieces of ceil(size / chunks) along `axis` (the last may be shorter)."""
    step = -(-x.shape[axis] // pieces)
    return [
        np.take(x, range(i, min(i + step, x.shape[axis])), axis=axis)
        for i in range(0, x.shape[axis], step)
    ]


def _diag_embed(x, offset=0):
    size = x.shape[-1] + abs(offset)
    out = np.zeros(x.shape[:-1] + (size, size), dtype=x.dtype)
    for i in range(x.shape[-1]):
        row, col = (i, i + offset) if offset >= 0 else (i - offset, i)
        out[..., row, col] = x[..., i]
    return out


def _slice_backward(g, shape, dim, start, stop, step):
    out = np.zeros(shape, dtype=g.dtype)
    out[(slice(None),) * dim + (slice(start, stop, step),)] = g
    return out


def _diagonal_backward(g, shape, offset, dim1, dim2):
    out = np.zeros(shape, dtype=g.dtype)
    index = np.arange(g.shape[-1])
    rows, cols = (index, index + offset) if offset >= 0 else (index - offset, index)
    moved = np.moveaxis(out, (dim1, dim2), (-2, -1))  # a writable view of `out`
    moved[..., rows, cols] = g
    return out


def _repeat_interleave_ref(x, repeats, axis):
    return np.repeat(x, repeats, axis=axis)


SPECS = [
    # ----- the primitive records ---------------------------------------------------------------
    OpSpec(
        "reshape",
        lambda lib, x, shape: x.reshape(shape),
        [
            (Arg(A), (4, 3)),
            (Arg(B), (-1, 4)),
            (Arg(B), (6, -1)),
            (Arg(()), (1, 1)),
            (Arg((0, 3)), (3, 0)),
        ],
        ref=lambda x, shape: x.reshape(shape),
    ),
    OpSpec(
        "reshape",
        lambda lib, x: x.transpose(0, 1).reshape(-1),
        [(Arg(A),), (Arg(B),)],
        ref=lambda x: np.swapaxes(x, 0, 1).reshape(-1),
        name="reshape_copy",
    ),
    OpSpec(
        "view",
        lambda lib, x, shape: x.view(shape),
        [(Arg(A), (2, 6)), (Arg(B), (-1,)), (Arg(B), (2, -1, 2)), (Arg((1,)), ())],
        ref=lambda x, shape: x.reshape(shape),
    ),
    OpSpec(
        "view",
        lambda lib, x: x.view(2, 2, 3).view_as(x),
        [(Arg(A),)],
        ref=lambda x: x,
        name="view_args",
    ),
    OpSpec(
        "permute",
        lambda lib, x, dims: x.permute(dims),
        [(Arg(B), (2, 0, 1)), (Arg(B), (-1, 0, 1)), (Arg(()), ())],
        ref=lambda x, dims: np.transpose(x, dims),
    ),
    OpSpec(
        "permute",
        lambda lib, x: lib.permute(x, (1, 0)),
        [(Arg(A),)],
        ref=np.transpose,
        name="permute_function",
    ),
    OpSpec(
        "expand",
        lambda lib, x, shape: x.expand(*shape),
        [(Arg((3, 1)), (3, 4)), (Arg((1, 4)), (2, 5, 4)), (Arg(()), (2, 3))],
        ref=lambda x, shape: np.broadcast_to(x, shape),
    ),
    OpSpec(
        "slice",
        lambda lib, x, dim, start, length: lib.narrow(x, dim, start, length),
        [(Arg(A), 1, 1, 2), (Arg(B), 0, 0, 1), (Arg(B), -1, 3, 1), (Arg(A), 0, -2, 2)],
        ref=lambda x, dim, start, length: np.take(
            x, range(start % x.shape[dim], start % x.shape[dim] + length), axis=dim
        ),
    ),
    OpSpec(
        "slice_backward",
        lambda lib, g, *a: qilin.ops.movement.SLICE_BACKWARD(
            g, shape=a[0], dim=a[1], start=a[2], stop=a[3], step=a[4]
        ),
        [(Arg((3, 2)), (3, 5), 1, 1, 4, 2), (Arg((1, 4)), (3, 4), 0, 2, 3, 1)],
        ref=_slice_backward,
        torch_call=lambda lib, g, *a: lib.ops.aten.slice_backward(g, *a),
    ),
    OpSpec(
        "diagonal",
        lambda lib, x, offset, d1, d2: lib.diagonal(x, offset, d1, d2),
        [
            (Arg(A), 0, 0, 1),
            (Arg(A), 1, 0, 1),
            (Arg(A), -1, 0, 1),
            (Arg(B), 1, 0, 2),
            (Arg(B), 0, -1, -2),
            (Arg(A), 5, 0, 1),
        ],
        ref=lambda x, offset, d1, d2: np.diagonal(x, offset, d1, d2),
    ),
    OpSpec(
        "diagonal_backward",
        lambda lib, g, *a: qilin.ops.movement.DIAGONAL_BACKWARD(
            g, shape=a[0], offset=a[1], dim1=a[2], dim2=a[3]
        ),
        [
            (Arg((3,)), (3, 4), 0, 0, 1),
            (Arg((2, 3)), (2, 4, 3), -1, 1, 2),
            (Arg((4, 2)), (3, 4, 4), 2, 0, 2),
        ],
        ref=_diagonal_backward,
        torch_call=lambda lib, g, *a: lib.ops.aten.diagonal_backward(g, *a),
    ),
    OpSpec(
        "cat",
        lambda lib, x, y, dim: lib.cat([x, y], dim),
        [(Arg(A), Arg((2, 4)), 0), (Arg(B), Arg((2, 3, 1)), -1), (Arg(A), Arg(A), 1)],
        ref=lambda x, y, dim: np.concatenate([x, y], dim),
    ),
    OpSpec(
        "cat",
        lambda lib, x, y, z: lib.cat((x, y, z), dim=1),
        [(Arg(A), Arg((3, 1)), Arg((3, 2)))],
        ref=lambda x, y, z: np.concatenate([x, y, z], 1),
        name="cat_three",
    ),
    OpSpec(
        "cat",
        lambda lib, x, y: lib.cat([x, y]),
        [(Arg(A), Arg(A, "int"))],
        ref=lambda x, y: np.concatenate([x, y.astype(x.dtype)]),
        name="cat_promotes",
    ),
    OpSpec(
        "cat",
        lambda lib, x, y: lib.concat([x, lib.zeros(0)]),
        [(Arg(A), Arg(()))],
        ref=lambda x, y: x.copy(),
        name="cat_skips_empty_1d",
        dtypes=("float32",),
    ),
    OpSpec(
        "flip",
        lambda lib, x, dims: lib.flip(x, dims),
        [(Arg(B), (0,)), (Arg(B), (0, 2)), (Arg(B), (-1,)), (Arg(A), ())],
        ref=lambda x, dims: np.flip(x, dims) if dims else x.copy(),
    ),
    OpSpec(
        "flip",
        lambda lib, x: x.flip(1),
        [(Arg(A),)],
        ref=lambda x: np.flip(x, 1),
        name="flip_method",
    ),
    OpSpec(
        "roll",
        lambda lib, x, shifts, dims: lib.roll(x, shifts, dims),
        [(Arg(A), 1, 0), (Arg(B), (1, -2), (0, 2)), (Arg(A), 7, -1)],
        ref=lambda x, shifts, dims: np.roll(x, shifts, dims),
    ),
    OpSpec(
        "roll",
        lambda lib, x, shifts: lib.roll(x, shifts),
        [(Arg(A), 5), (Arg(B), -3)],
        ref=lambda x, shifts: np.roll(x, shifts),
        name="roll_flat",
    ),
    OpSpec("copy", lambda lib, x: x.clone(), [(Arg(A),), (Arg(()),)], ref=np.copy),
    OpSpec(
        "copy",
        lambda lib, x: lib.clone(x.t()),
        [(Arg(A),)],
        ref=lambda x: x.T.copy(),
        name="clone_function",
    ),
    OpSpec(
        "copy",
        lambda lib, x: x.t().contiguous(),
        [(Arg(A),)],
        ref=lambda x: x.T.copy(),
        name="contiguous",
    ),
    OpSpec(
        "cast", lambda lib, x: x.to(lib.float64), [(Arg(A),)], ref=lambda x: x.astype(np.float64)
    ),
    OpSpec(
        "cast",
        lambda lib, x: x.to(lib.float32) * 1,
        [(Arg(A),)],
        ref=lambda x: x.astype(np.float32),
        dtypes=("float64",),
        name="cast_down",
        fd_eps=1e-3,
        fd_atol=1e-3,
    ),
]


def _cast_call(lib, x, name):
    return x.to(getattr(lib, name))


SPECS += [
    OpSpec(
        "cast",
        _cast_call,
        [
            (Arg(A, "int"), "float32"),
            (Arg(A, "int"), "bool"),
            (Arg(A), "int64"),
            (Arg(A), "int32"),
            (Arg(A), "float16"),
            (Arg(A), "bool"),
        ],
        ref=lambda x, name: x.astype(name),
        name="cast_kinds",
        atol=1e-3,
        rtol=1e-3,
        **NOGRAD,
    ),
    OpSpec(
        "cast",
        lambda lib, x: (x.double(), x.float(), x.half(), x.long(), x.int(), x.bool()),
        [(Arg(A),)],
        ref=lambda x: (
            x.astype(np.float64),
            x.astype(np.float32),
            x.astype(np.float16),
            x.astype(np.int64),
            x.astype(np.int32),
            x.astype(bool),
        ),
        name="cast_methods",
        atol=1e-3,
        rtol=1e-3,
        **NOGRAD,
    ),
    OpSpec(
        "cast",
        lambda lib, x, y: x.type_as(y),
        [(Arg(A), Arg(A, "int"))],
        ref=lambda x, y: x.astype(np.int64),
        name="type_as",
        **NOGRAD,
    ),
]

# ----- public functions ----------------------------------------------------------------------
SPECS += [
    OpSpec(
        "permute",
        lambda lib, x, d0, d1: lib.transpose(x, d0, d1),
        [(Arg(B), 0, 2), (Arg(B), -1, 1), (Arg(A), 1, 1)],
        ref=lambda x, d0, d1: np.swapaxes(x, d0, d1),
        name="transpose",
    ),
    OpSpec(
        "permute", lambda lib, x: x.swapaxes(0, 1), [(Arg(A),)], ref=np.transpose, name="swapaxes"
    ),
    OpSpec(
        ("permute", "view"),
        lambda lib, x: lib.t(x),
        [(Arg(A),), (Arg((4,)),), (Arg(()),)],
        ref=lambda x: x.T,
        name="t",
    ),
    OpSpec("permute", lambda lib, x: x.T, [(Arg(A),)], ref=lambda x: x.T, name="T"),
    OpSpec(
        "permute",
        lambda lib, x: x.mT,
        [(Arg(B),), (Arg(A),)],
        ref=lambda x: np.swapaxes(x, -1, -2),
        name="mT",
    ),
    OpSpec(
        ("view", "reshape"),
        lambda lib, x, *dims: lib.flatten(x, *dims),
        [(Arg(B),), (Arg(B), 1), (Arg(B), 0, 1), (Arg(B), -2, -1), (Arg(()),), (Arg(B), 1, 1)],
        ref=lambda x, start=0, end=-1: x.reshape(
            x.shape[: start % max(x.ndim, 1)] + (-1,) + x.shape[end % max(x.ndim, 1) + 1 :]
        ),
        name="flatten",
    ),
    OpSpec(
        "reshape",
        lambda lib, x: x.transpose(0, 2).flatten(1),
        [(Arg(B),)],
        ref=lambda x: np.swapaxes(x, 0, 2).reshape(4, -1),
        name="flatten_copy",
    ),
    OpSpec(
        "view",
        lambda lib, x, dim, sizes: lib.unflatten(x, dim, sizes),
        [(Arg(A), 1, (2, 2)), (Arg(B), -1, (2, -1)), (Arg(B), 0, (1, 2))],
        ref=lambda x, dim, sizes: x.reshape(
            x.shape[: dim % x.ndim]
            + tuple(s if s != -1 else x.shape[dim] // 2 for s in sizes)
            + x.shape[dim % x.ndim + 1 :]
        ),
        name="unflatten",
    ),
    OpSpec(
        "view",
        lambda lib, x: lib.squeeze(x),
        [(Arg((1, 3, 1, 4)),), (Arg((1,)),), (Arg(A),)],
        ref=np.squeeze,
        name="squeeze_all",
    ),
    OpSpec(
        "view",
        lambda lib, x, dim: lib.squeeze(x, dim),
        [(Arg((1, 3, 1, 4)), 0), (Arg((1, 3, 1, 4)), -2), (Arg((1, 3, 1, 4)), 1), (Arg(()), 0)],
        ref=lambda x, dim: np.squeeze(x, dim) if x.ndim and x.shape[dim] == 1 else x,
        name="squeeze_dim",
    ),
    OpSpec(
        "view",
        lambda lib, x, dims: x.squeeze(dims),
        [(Arg((1, 3, 1, 4)), (0, 2)), (Arg((1, 3, 1, 4)), (0, 1)), (Arg((1, 3, 1, 4)), ())],
        ref=lambda x, dims: np.squeeze(x, tuple(d for d in dims if x.shape[d] == 1)),
        name="squeeze_dims",
    ),
    OpSpec(
        "view",
        lambda lib, x, dim: lib.unsqueeze(x, dim),
        [(Arg(A), 0), (Arg(A), -1), (Arg(A), 1), (Arg(()), 0)],
        ref=lambda x, dim: np.expand_dims(x, dim),
        name="unsqueeze",
    ),
    OpSpec(
        "expand",
        lambda lib, x: x.expand(-1, 4),
        [(Arg((3, 1)),)],
        ref=lambda x: np.broadcast_to(x, (3, 4)),
        name="expand_minus_one",
    ),
    OpSpec(
        "expand",
        lambda lib, x: x.expand(2, -1, -1),
        [(Arg(A),)],
        ref=lambda x: np.broadcast_to(x, (2,) + x.shape),
        name="expand_leading",
    ),
    OpSpec("view", lambda lib, x: x.expand(3, 4), [(Arg(A),)], ref=lambda x: x, name="expand_same"),
    OpSpec(
        "expand",
        lambda lib, x, y: x.expand_as(y),
        [(Arg((3, 1)), Arg(B, grad=False))],
        ref=lambda x, y: np.broadcast_to(x, y.shape),
        name="expand_as",
    ),
    OpSpec(
        "expand",
        lambda lib, x: lib.broadcast_to(x, (2, 3, 4)),
        [(Arg((4,)),), (Arg((3, 1)),)],
        ref=lambda x: np.broadcast_to(x, (2, 3, 4)),
        name="broadcast_to",
    ),
    OpSpec(
        "expand",
        lambda lib, x, y: lib.broadcast_tensors(x, y),
        [(Arg((3, 1)), Arg((4,))), (Arg(B), Arg(()))],
        ref=lambda x, y: np.broadcast_arrays(x, y),
        name="broadcast_tensors",
    ),
    OpSpec(
        "view",
        lambda lib, x, dim, index: lib.select(x, dim, index),
        [(Arg(A), 0, 1), (Arg(B), 1, -1), (Arg(B), -1, 0)],
        ref=lambda x, dim, index: np.take(x, index, axis=dim),
        name="select",
    ),
    OpSpec(
        "view", lambda lib, x: x.select(0, 2), [(Arg(A),)], ref=lambda x: x[2], name="select_method"
    ),
    OpSpec(
        "slice",
        lambda lib, x, chunks, dim: lib.chunk(x, chunks, dim),
        [(Arg(A), 3, 1), (Arg(A), 2, 0), (Arg(B), 4, -1), (Arg((5, 2)), 3, 0)],
        ref=_chunks,
        name="chunk",
    ),
    OpSpec(
        "slice",
        lambda lib, x, size, dim: lib.split(x, size, dim),
        [(Arg(A), 3, 1), (Arg(B), 1, 0), (Arg(A), 5, 0), (Arg((5, 2)), 2, 0)],
        ref=lambda x, size, dim: np.split(x, range(size, x.shape[dim], size), axis=dim),
        name="split_int",
    ),
    OpSpec(
        "slice",
        lambda lib, x, sections, dim: x.split(sections, dim),
        [(Arg(A), [1, 3], 1), (Arg(B), (2, 0, 1), 1)],
        ref=lambda x, sections, dim: np.split(x, np.cumsum(sections)[:-1], axis=dim),
        name="split_sections",
    ),
    OpSpec(
        "slice",
        lambda lib, x, sections, dim: lib.tensor_split(x, sections, dim),
        [
            (Arg(A), 3, 1),
            (Arg((7, 2)), 3, 0),
            (Arg(A), [1, 3], 1),
            (Arg(A), [2, 9], 1),
            (Arg(A), (3, 1), 1),
        ],
        ref=lambda x, sections, dim: np.array_split(x, sections, axis=dim),
        name="tensor_split",
    ),
    OpSpec(
        "view",
        lambda lib, x, dim: lib.unbind(x, dim),
        [(Arg(A), 0), (Arg(B), -1)],
        ref=lambda x, dim: [np.take(x, i, axis=dim) for i in range(x.shape[dim])],
        name="unbind",
    ),
    OpSpec(
        "cat",
        lambda lib, x, y, dim: lib.stack([x, y], dim),
        [(Arg(A), Arg(A), 0), (Arg(A), Arg(A), 2), (Arg(A), Arg(A), -1), (Arg(()), Arg(()), 0)],
        ref=lambda x, y, dim: np.stack([x, y], dim),
        name="stack",
    ),
    OpSpec(
        "cat",
        lambda lib, x, y: lib.hstack((x, y)),
        [(Arg((3,)), Arg((2,))), (Arg(A), Arg((3, 2))), (Arg(()), Arg((2,)))],
        ref=lambda x, y: np.hstack((x, y)),
        name="hstack",
    ),
    OpSpec(
        "cat",
        lambda lib, x, y: lib.vstack((x, y)),
        [(Arg((4,)), Arg((4,))), (Arg(A), Arg((2, 4))), (Arg(A), Arg((4,)))],
        ref=lambda x, y: np.vstack((x, y)),
        name="vstack",
    ),
    OpSpec(
        "cat",
        lambda lib, x, y: lib.dstack((x, y)),
        [(Arg((4,)), Arg((4,))), (Arg(A), Arg(A)), (Arg(B), Arg((2, 3, 1)))],
        ref=lambda x, y: np.dstack((x, y)),
        name="dstack",
    ),
    OpSpec(
        "cat",
        lambda lib, x, y: lib.column_stack((x, y)),
        [(Arg((3,)), Arg((3,))), (Arg((3,)), Arg(A)), (Arg(()), Arg((1, 2)))],
        ref=lambda x, y: np.column_stack((x, y)),
        name="column_stack",
    ),
    OpSpec(
        "flip", lambda lib, x: lib.fliplr(x), [(Arg(A),), (Arg(B),)], ref=np.fliplr, name="fliplr"
    ),
    OpSpec(
        "flip",
        lambda lib, x: lib.flipud(x),
        [(Arg(A),), (Arg((4,)),)],
        ref=np.flipud,
        name="flipud",
    ),
    OpSpec(
        ("flip", "permute"),
        lambda lib, x, k, dims: lib.rot90(x, k, dims),
        [
            (Arg(A), 1, (0, 1)),
            (Arg(A), 2, (0, 1)),
            (Arg(A), 3, (0, 1)),
            (Arg(A), -1, (0, 1)),
            (Arg(B), 1, (1, 2)),
            (Arg(B), 1, (2, 0)),
            (Arg(A), 0, (0, 1)),
            (Arg(A), 1, (1, 0)),
            (Arg(B), 5, (-1, 0)),
        ],
        ref=lambda x, k, dims: np.rot90(x, k, dims),
        name="rot90",
    ),
    OpSpec(
        "permute",
        lambda lib, x, source, destination: lib.movedim(x, source, destination),
        [(Arg(B), 0, -1), (Arg(B), (0, 1), (2, 0)), (Arg(B), -1, 0), (Arg(B), (0, 2), (1, 0))],
        ref=lambda x, s, d: np.moveaxis(x, s, d),
        name="movedim",
    ),
    OpSpec(
        "permute",
        lambda lib, x: lib.moveaxis(x, 1, 0),
        [(Arg(B),)],
        ref=lambda x: np.moveaxis(x, 1, 0),
        name="moveaxis",
    ),
    OpSpec(
        "diagonal",
        lambda lib, x: x.diagonal(offset=-1, dim1=2, dim2=1),
        [(Arg(B),)],
        ref=lambda x: np.diagonal(x, -1, 2, 1),
        name="diagonal_kwargs",
    ),
    OpSpec(
        "diagonal_backward",
        lambda lib, x, offset: lib.diag(x, offset),
        [(Arg((3,)), 0), (Arg((3,)), 1), (Arg((3,)), -2)],
        ref=lambda x, offset: np.diag(x, offset),
        name="diag_1d",
    ),
    OpSpec(
        ("diagonal", "copy"),
        lambda lib, x, offset: lib.diag(x, offset),
        [(Arg(A), 0), (Arg(A), 2), (Arg(A), -1), (Arg(A), 7)],
        ref=lambda x, offset: np.diag(x, offset).copy(),
        name="diag_2d",
    ),
    OpSpec(
        "diagonal_backward",
        lambda lib, x, offset: lib.diag_embed(x, offset),
        [(Arg((3,)), 0), (Arg(A), 1), (Arg(A), -2)],
        ref=_diag_embed,
        name="diag_embed",
    ),
    OpSpec(
        "diagonal_backward",
        lambda lib, x: lib.diag_embed(x, 0, 0, 2),
        [(Arg(A),)],
        ref=lambda x: np.moveaxis(_diag_embed(x), (-2, -1), (0, 2)),
        name="diag_embed_dims",
    ),
    OpSpec(
        "diagonal_backward",
        lambda lib, x: lib.diag_embed(x, -1, 2, 0),
        [(Arg(A),)],
        ref=lambda x: np.moveaxis(_diag_embed(x, -1), (-2, -1), (2, 0)),
        name="diag_embed_swapped_dims",
    ),
    OpSpec(
        "expand",
        lambda lib, x, *sizes: x.repeat(*sizes),
        [
            (Arg(A), 2, 1),
            (Arg(A), 2, 1, 3),
            (Arg((3,)), 2),
            (Arg(()), 2, 3),
            (Arg(A), 1, 1),
            (Arg(A), 0, 2),
        ],
        ref=lambda x, *sizes: np.tile(x, sizes),
        name="repeat",
    ),
    OpSpec(
        "expand",
        lambda lib, x: x.repeat((2, 2)),
        [(Arg(A),)],
        ref=lambda x: np.tile(x, (2, 2)),
        name="repeat_tuple",
    ),
    OpSpec(
        "expand",
        lambda lib, x, dims: lib.tile(x, dims),
        [(Arg(A), (2,)), (Arg(A), (2, 1, 1, 2)), (Arg((3,)), (2, 2))],
        ref=lambda x, dims: np.tile(x, dims),
        name="tile",
    ),
    OpSpec(
        "expand",
        lambda lib, x, repeats, dim: lib.repeat_interleave(x, repeats, dim),
        [(Arg(A), 2, None), (Arg(A), 2, 1), (Arg(B), 3, -2), (Arg((1, 4)), 3, 0)],
        ref=_repeat_interleave_ref,
        name="repeat_interleave_int",
    ),
    OpSpec(
        "index",
        lambda lib, x, repeats: x.repeat_interleave(repeats, dim=0),
        [(Arg(A), Arg((3,), "index:3", grad=False)), (Arg((4,)), Arg((4,), "index:4"))],
        ref=lambda x, repeats: np.repeat(x, repeats, axis=0),
        name="repeat_interleave_tensor",
    ),
    OpSpec(
        "index",
        lambda lib, x, repeats: lib.repeat_interleave(x, repeats),
        [(Arg((4,)), Arg((), "index:3", grad=False))],
        ref=lambda x, repeats: np.repeat(x, repeats),
        name="repeat_interleave_0d_tensor",
    ),
    OpSpec(
        "index",
        lambda lib, repeats: lib.repeat_interleave(repeats),
        [(Arg((4,), "index:3"),)],
        ref=lambda repeats: np.repeat(np.arange(len(repeats)), repeats),
        name="repeat_interleave_counts",
        **NOGRAD,
    ),
    OpSpec(
        "expand",
        lambda lib, x, y: lib.meshgrid(x, y, indexing="ij"),
        [(Arg((3,)), Arg((4,))), (Arg(()), Arg((2,)))],
        ref=lambda x, y: np.meshgrid(x, y, indexing="ij"),
        name="meshgrid_ij",
    ),
    OpSpec(
        "expand",
        lambda lib, x, y, z: lib.meshgrid([x, y, z], indexing="xy"),
        [(Arg((3,)), Arg((4,)), Arg((2,)))],
        ref=lambda x, y, z: np.meshgrid(x, y, z, indexing="xy"),
        name="meshgrid_xy",
    ),
    OpSpec(
        "expand",
        lambda lib, x, y: lib.meshgrid(x, y, indexing="xy"),
        [(Arg((3,)), Arg((4,)))],
        ref=lambda x, y: np.meshgrid(x, y, indexing="xy"),
        name="meshgrid_xy_2",
    ),
    OpSpec(
        "where",
        lambda lib, x, diagonal: lib.tril(x, diagonal),
        [(Arg(A), 0), (Arg(A), 1), (Arg(A), -1), (Arg(B), 2), (Arg((4, 3)), -5)],
        ref=np.tril,
        name="tril",
    ),
    OpSpec(
        "where",
        lambda lib, x, diagonal: x.triu(diagonal),
        [(Arg(A), 0), (Arg(A), 1), (Arg(A), -1), (Arg(B), -2), (Arg((4, 3)), 5)],
        ref=np.triu,
        name="triu",
    ),
    OpSpec(
        "where",
        lambda lib, x: lib.tril(x),
        [(Arg(A, "int"),)],
        ref=np.tril,
        name="tril_int",
        **NOGRAD,
    ),
    OpSpec(
        "view",
        lambda lib, x: lib.atleast_1d(x),
        [(Arg(()),), (Arg(A),)],
        ref=np.atleast_1d,
        name="atleast_1d",
    ),
    OpSpec(
        "view",
        lambda lib, x: lib.atleast_2d(x),
        [(Arg(()),), (Arg((3,)),), (Arg(B),)],
        ref=np.atleast_2d,
        name="atleast_2d",
    ),
    OpSpec(
        "view",
        lambda lib, x: lib.atleast_3d(x),
        [(Arg(()),), (Arg((3,)),), (Arg(A),)],
        ref=np.atleast_3d,
        name="atleast_3d",
    ),
    OpSpec(
        "view",
        lambda lib, x, y: lib.atleast_2d(x, y),
        [(Arg(()), Arg((2,)))],
        ref=lambda x, y: np.atleast_2d(x, y),
        name="atleast_2d_many",
    ),
    OpSpec(
        "view",
        lambda lib, x, y: lib.atleast_3d((x, y)),
        [(Arg((2,)), Arg(A))],
        ref=lambda x, y: np.atleast_3d(x, y),
        name="atleast_3d_list",
    ),
    OpSpec(
        "view", lambda lib, x: lib.ravel(x), [(Arg(B),), (Arg(()),)], ref=np.ravel, name="ravel"
    ),
    OpSpec(
        "reshape",
        lambda lib, x: x.t().ravel(),
        [(Arg(A),)],
        ref=lambda x: x.T.ravel(),
        name="ravel_copy",
    ),
]

SPECS += [
    OpSpec(
        "bitcast",
        lambda lib, x, name: x.view(getattr(lib, name)),
        [(Arg(A), "int32"), (Arg(A), "int16"), (Arg(A), "uint8"), (Arg(B), "bool")],
        ref=lambda x, name: x.view(name),
        dtypes=("float32",),
        **NOGRAD,
    ),
    OpSpec(
        "bitcast",
        lambda lib, x: x.view(lib.int64).view(lib.float64) * 1,
        [(Arg(A),)],
        ref=lambda x: x,
        dtypes=("float64",),
        **NOGRAD,
        name="bitcast_round_trip",
    ),
]


def _split_primitive(lib, x, sizes, dim):
    from qilin.ops.movement import SPLIT

    return SPLIT(x, sizes=tuple(sizes), dim=dim)


# The multi-output split primitive (torch's split_with_sizes): some pieces unused (their grads
# arrive as zeros), empty pieces, one piece; and cat's backward, which is one split.
SPECS += [
    OpSpec(
        "split_with_sizes",
        _split_primitive,
        [
            (Arg(A), [1, 3], 1),
            (Arg(B), (2, 0, 1), 1),
            (Arg(A), [3], 0),
            (Arg((7, 2)), [4, 2, 1], 0),
        ],
        ref=lambda x, sizes, dim: np.split(x, np.cumsum(sizes)[:-1], axis=dim),
        torch_call=lambda lib, x, sizes, dim: lib.split(x, list(sizes), dim),
    ),
    OpSpec(
        "split_with_sizes",
        lambda lib, x: _split_primitive(lib, x, [1, 2], 0)[1] * 2,
        [(Arg((3, 4)),)],
        ref=lambda x: x[1:] * 2,
        torch_call=lambda lib, x: x.split([1, 2], 0)[1] * 2,
        name="split_with_sizes_one_used",
    ),
]


def test_split_with_sizes_outputs_are_multi_output_views():
    from qilin.ops.movement import SPLIT

    base = qilin.zeros(4, 2)
    first, second = SPLIT(base, sizes=(1, 3), dim=0)
    second[0, 0] = 5.0  # no grad: writing through is allowed, and the base sees it
    assert base[1, 0].item() == 5.0
    leaf = qilin.ones(4, 2, requires_grad=True)
    first, _ = SPLIT(leaf * 1, sizes=(1, 3), dim=0)
    with pytest.raises(RuntimeError, match="multiple views"):
        first.mul_(2)


make_tests(SPECS, globals())


# ----- errors: the same exception type as torch, and a message naming what was given ---------
def _both(call):
    """Run `call(lib)` for qilin and torch; return the two exceptions."""
    errors = []
    for lib in (qilin, torch):
        with pytest.raises(Exception) as info:
            call(lib)
        errors.append(info.value)
    return errors


ERRORS = [
    ("view_non_contiguous", lambda lib: lib.ones(3, 4).t().view(-1), "view size is not compatible"),
    ("reshape_bad_size", lambda lib: lib.ones(3, 4).reshape(5, -1), "invalid for input of size 12"),
    ("reshape_two_unknown", lambda lib: lib.ones(3, 4).reshape(-1, -1), "only one dimension"),
    ("reshape_empty_ambiguous", lambda lib: lib.ones(0, 3).reshape(0, -1), "ambiguous"),
    ("permute_length", lambda lib: lib.ones(3, 4).permute(0), "len(dims) = 1"),
    ("permute_duplicate", lambda lib: lib.ones(3, 4).permute(0, 0), "duplicate dims"),
    ("expand_mismatch", lambda lib: lib.ones(3, 4).expand(2, 4), "non-singleton dimension 0"),
    ("expand_too_few", lambda lib: lib.ones(3, 4).expand(4), "must be greater or equal"),
    ("cat_sizes", lambda lib: lib.cat([lib.ones(3, 4), lib.ones(2, 3)]), "Expected size 4"),
    ("cat_ndim", lambda lib: lib.cat([lib.ones(3, 4), lib.ones(2, 4, 1)]), "got 2 and 3"),
    ("cat_empty", lambda lib: lib.cat([]), "non-empty"),
    ("cat_zero_dim", lambda lib: lib.cat([lib.ones(()), lib.ones(())]), "zero-dimensional"),
    ("stack_sizes", lambda lib: lib.stack([lib.ones(3), lib.ones(2)]), "equal size"),
    ("hstack_empty", lambda lib: lib.hstack([]), "non-empty"),
    ("narrow_past_end", lambda lib: lib.ones(3, 4).narrow(1, 3, 2), "exceeds dimension size"),
    ("narrow_start", lambda lib: lib.ones(2, 3).narrow(0, -3, 1), "start out of range"),
    ("select_range", lambda lib: lib.ones(3, 4).select(1, 4), "out of range"),
    ("squeeze_dim", lambda lib: lib.ones(3, 4).squeeze(2), "Dimension out of range"),
    ("unsqueeze_dim", lambda lib: lib.ones(3, 4).unsqueeze(3), "Dimension out of range"),
    ("transpose_dim", lambda lib: lib.ones(3, 4).transpose(0, 2), "Dimension out of range"),
    ("flatten_order", lambda lib: lib.ones(3, 4).flatten(1, 0), "start_dim cannot come after"),
    ("unflatten_sizes", lambda lib: lib.ones(3, 4).unflatten(1, (3, 2)), "don't multiply up"),
    ("repeat_too_few", lambda lib: lib.ones(3, 4).repeat(2), "can not be smaller"),
    ("split_zero", lambda lib: lib.ones(3).split(0), "split_size can only be 0"),
    ("split_sections", lambda lib: lib.ones(3).split([1, 1]), "sum exactly to 3"),
    ("chunk_zero", lambda lib: lib.ones(3).chunk(0), "greater than 0"),
    ("diagonal_same_dims", lambda lib: lib.ones(3, 4).diagonal(0, 1, 1), "cannot be identical"),
    ("diag_3d", lambda lib: lib.diag(lib.ones(2, 2, 2)), "1D or 2D"),
    ("roll_align", lambda lib: lib.ones(3, 4).roll((1, 2), (0,)), "align"),
    ("flip_repeated", lambda lib: lib.ones(3, 4).flip(0, 0), "multiple times"),
    ("movedim_repeated", lambda lib: lib.ones(3, 4).movedim((0, 0), (1, 0)), "repeated dim"),
    ("rot90_same_dims", lambda lib: lib.ones(3, 4).rot90(1, (0, 0)), "to be different"),
    ("rot90_dims", lambda lib: lib.ones(3, 4).rot90(1, (0,)), "rotation dims == 2"),
    (
        "repeat_interleave_size",
        lambda lib: lib.ones(3, 4).repeat_interleave(lib.tensor([1, 2]), dim=0),
        "same size as input",
    ),
    (
        "meshgrid_2d",
        lambda lib: lib.meshgrid(lib.ones(3), lib.ones(2, 2), indexing="ij"),
        "0D or 1D",
    ),
    ("tril_1d", lambda lib: lib.tril(lib.ones(3)), "at least 2 dimensions"),
    ("mT_1d", lambda lib: lib.ones(3).mT, "only supported on matrices"),
    ("view_dtype_size", lambda lib: lib.ones(3, 3).view(lib.float64), "divisible"),
]


@pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
@pytest.mark.parametrize("call,fragment", [pytest.param(c, f, id=n) for n, c, f in ERRORS])
def test_errors_match_torch(call, fragment):
    ours, theirs = _both(call)
    assert type(ours) is type(theirs), f"{type(ours).__name__}: {ours} (torch: {theirs!r})"
    assert fragment in str(ours) and fragment in str(theirs), f"{ours} / torch: {theirs}"


def test_view_dtype_reinterprets_bits_and_shares_memory():
    x = qilin.tensor([1.0, -2.0, 0.5])
    bits = x.view(qilin.int32)
    np.testing.assert_array_equal(
        bits.numpy(), np.array([1.0, -2.0, 0.5], np.float32).view(np.int32)
    )
    bits[0] = 0
    assert x[0].item() == 0.0 and bits._version == x._version == 1


def test_contiguous_and_clone_layouts_match_torch():
    for lib_call in (
        lambda lib, t: t.t().contiguous(),
        lambda lib, t: t.t().clone(),
        lambda lib, t: t.t().clone(memory_format=lib.contiguous_format),
        lambda lib, t: t[:, ::2].clone(),
        lambda lib, t: t.expand(2, 3, 4).clone(),
    ):
        ours = lib_call(qilin, qilin.ones(3, 4))
        theirs = lib_call(torch, torch.ones(3, 4))
        assert ours.stride() == theirs.stride()
        assert ours.is_contiguous() == theirs.is_contiguous()


def test_flatten_of_contiguous_tensor_is_a_view():
    x = qilin.zeros(2, 3)
    y = x.flatten()
    y[4] = 7.0
    assert x[1, 1].item() == 7.0
    assert qilin.flatten(qilin.zeros(())).shape == (1,)


def test_cat_out_and_hstack_out():
    out = qilin.empty(0)
    result = qilin.cat([qilin.ones(2), qilin.zeros(1)], out=out)
    assert result is out and out.tolist() == [1.0, 1.0, 0.0]
