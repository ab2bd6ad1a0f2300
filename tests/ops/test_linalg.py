"""Specs for matrix products (matmul and its spellings, einsum, tensordot) and for torch.linalg.

Decompositions whose vectors are unique only up to sign (eigh, svd) are checked through
sign-invariant functions of them (U * U, U @ Vh, ...). Matrices that must be invertible or
positive-definite are built inside `call` from the random Arg (`_dominant`, `_spd`), so the same
transformation runs in qilin, torch and the finite differences.
"""

import math

import numpy as np
import pytest

import qilin

from .harness import Arg, OpSpec, make_tests

try:
    import torch
except ImportError:
    torch = None

SMALL = dict(low=-0.5, high=0.5)


def _eye(lib, a):
    return lib.eye(a.shape[-1], dtype=a.dtype)


def _dominant(lib, a):
    """Diagonally dominant, hence well-conditioned, for Args drawn from SMALL."""
    return a + 3 * _eye(lib, a)


def _spd(lib, a):
    return a @ a.mT + a.shape[-1] * _eye(lib, a)


def _symmetric(lib, a):
    return a + a.mT


def _np_t(a):
    return np.swapaxes(a, -1, -2)


def _np_dominant(a):
    return a + 3 * np.eye(a.shape[-1], dtype=a.dtype)


def _np_spd(a):
    return a @ _np_t(a) + a.shape[-1] * np.eye(a.shape[-1], dtype=a.dtype)


def _np_svd_invariants(a, k=None):
    U, S, Vh = np.linalg.svd(a, full_matrices=False)
    return S, U * U, Vh * Vh, U @ Vh


def _svd_invariants(lib, a):
    U, S, Vh = lib.linalg.svd(a, full_matrices=False)
    return S, U * U, Vh * Vh, U @ Vh


def _eigh_invariants(lib, a, UPLO="L"):
    values, vectors = lib.linalg.eigh(_symmetric(lib, a), UPLO=UPLO)
    return values, vectors * vectors, (vectors * values.unsqueeze(-2) ** 2) @ vectors.mT


def _np_eigh_invariants(a):
    values, vectors = np.linalg.eigh(a + _np_t(a))
    return values, vectors * vectors, (vectors * values[..., None, :] ** 2) @ _np_t(vectors)


def _addmm_ref(c, a, b):
    return 0.5 * c + 2.0 * (a @ b)


INF = math.inf


def _linear_ref(x, w, b=None):
    return x @ w.T + (0 if b is None else b)


PRODUCTS = [
    OpSpec(
        "linear",
        lambda lib, x, w, b: lib.nn.functional.linear(x, w, b),
        [
            (Arg((3, 4)), Arg((5, 4)), Arg((5,))),
            (Arg((2, 3, 4)), Arg((5, 4)), Arg((5,))),  # rows from every leading dim
            (Arg((4,)), Arg((2, 4)), Arg((2,))),  # one sample
            (Arg((0, 4)), Arg((2, 4)), Arg((2,))),  # an empty batch
        ],
        ref=_linear_ref,
    ),
    OpSpec(
        "linear",
        lambda lib, x, w: lib.nn.functional.linear(x, w),
        [(Arg((2, 1, 3)), Arg((4, 3)))],
        ref=_linear_ref,
        name="linear_no_bias",
    ),
    OpSpec(
        "matmul",
        lambda lib, a, b: lib.matmul(a, b),
        [
            (Arg((4,)), Arg((4,))),  # 1-D x 1-D: a dot product
            (Arg((4,)), Arg((4, 3))),  # 1-D x 2-D
            (Arg((3, 4)), Arg((4,))),  # 2-D x 1-D
            (Arg((3, 4)), Arg((4, 5))),
            (Arg((2, 3, 4)), Arg((4, 5))),  # batched x 2-D
            (Arg((3, 4)), Arg((2, 4, 5))),  # 2-D x batched
            (Arg((2, 1, 3, 4)), Arg((5, 4, 2))),  # batch dims broadcast
            (Arg((4,)), Arg((2, 4, 3))),  # 1-D x 3-D
            (Arg((2, 3, 4)), Arg((4,))),  # 3-D x 1-D
        ],
        ref=np.matmul,
    ),
    OpSpec(
        "matmul",
        lambda lib, a, b: a @ b,
        [(Arg((2, 3, 4)), Arg((2, 4, 2)))],
        ref=np.matmul,
        name="matmul_operator",
    ),
    OpSpec(
        "matmul",
        lambda lib, a, b: lib.mm(a, b),
        [(Arg((3, 4)), Arg((4, 5)))],
        ref=np.matmul,
        name="mm",
    ),
    OpSpec(
        "matmul",
        lambda lib, a, b: lib.bmm(a, b),
        [(Arg((2, 3, 4)), Arg((2, 4, 5)))],
        ref=np.matmul,
        name="bmm",
    ),
    OpSpec(
        "matmul",
        lambda lib, a, b: lib.mv(a, b),
        [(Arg((3, 4)), Arg((4,)))],
        ref=np.matmul,
        name="mv",
    ),
    OpSpec(
        "matmul", lambda lib, a, b: lib.dot(a, b), [(Arg((5,)), Arg((5,)))], ref=np.dot, name="dot"
    ),
    OpSpec(
        "mul",
        lambda lib, a, b: lib.outer(a, b),
        [(Arg((3,)), Arg((4,)))],
        ref=np.outer,
        name="outer",
    ),
    OpSpec(
        "matmul",
        lambda lib, a, b: lib.inner(a, b),
        [(Arg((2, 3, 4)), Arg((5, 4))), (Arg((4,)), Arg((4,)))],
        ref=np.inner,
        name="inner",
    ),
    OpSpec(
        "matmul",
        lambda lib, c, a, b: lib.addmm(c, a, b, beta=0.5, alpha=2.0),
        [(Arg((3, 5)), Arg((3, 4)), Arg((4, 5))), (Arg((5,)), Arg((3, 4)), Arg((4, 5)))],
        ref=_addmm_ref,
        name="addmm",
    ),
    OpSpec(
        "matmul",
        lambda lib, c, a, b: lib.addmv(c, a, b, beta=0.5, alpha=2.0),
        [(Arg((3,)), Arg((3, 4)), Arg((4,)))],
        ref=_addmm_ref,
        name="addmv",
    ),
    OpSpec(
        "matmul",
        lambda lib, c, a, b: lib.baddbmm(c, a, b, beta=0.5, alpha=2.0),
        [(Arg((2, 3, 5)), Arg((2, 3, 4)), Arg((2, 4, 5)))],
        ref=_addmm_ref,
        name="baddbmm",
    ),
    OpSpec(
        "matmul",
        lambda lib, c, a, b: lib.addbmm(c, a, b, beta=0.5, alpha=2.0),
        [(Arg((3, 5)), Arg((2, 3, 4)), Arg((2, 4, 5)))],
        ref=lambda c, a, b: 0.5 * c + 2.0 * (a @ b).sum(0),
        name="addbmm",
    ),
    OpSpec(
        "matmul",
        lambda lib, a, b: lib.tensordot(a, b, dims=2),
        [(Arg((2, 3, 4)), Arg((3, 4, 5)))],
        ref=lambda a, b: np.tensordot(a, b, axes=2),
        name="tensordot_int",
    ),
    OpSpec(
        "matmul",
        lambda lib, a, b: lib.tensordot(a, b, dims=([1, 0], [0, 2])),
        [(Arg((2, 3, 4)), Arg((3, 5, 2)))],
        ref=lambda a, b: np.tensordot(a, b, axes=([1, 0], [0, 2])),
        name="tensordot_lists",
    ),
    OpSpec(
        "mul",
        lambda lib, a, b: lib.kron(a, b),
        [(Arg((2, 3)), Arg((3, 2))), (Arg((2, 2)), Arg((3,))), (Arg((3,)), Arg((2, 1, 2)))],
        ref=np.kron,
        name="kron",
    ),
    OpSpec(
        "diagonal",
        lambda lib, a: lib.trace(a),
        [(Arg((4, 4)),), (Arg((3, 5)),)],
        ref=np.trace,
        name="trace",
    ),
]

EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),  # matmul
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),  # batched matmul
    ("ij,ij->", [(3, 4), (3, 4)]),  # full contraction (no trace)
    ("i,j->ij", [(3,), (4,)]),  # outer product
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),  # ellipsis with broadcasting
    ("ij,jk", [(3, 4), (4, 5)]),  # implicit output
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),  # three operands
    ("bi,bj->bij", [(2, 3), (2, 4)]),  # batched outer product
    ("ijk->kj", [(2, 3, 4)]),  # sum and transpose
]
EINSUM = [
    OpSpec(
        "einsum",
        lambda lib, *ops, equation=equation: lib.einsum(equation, *ops),
        [tuple(Arg(shape) for shape in shapes)],
        ref=lambda *ops, equation=equation: np.einsum(equation, *ops),
        name=f"einsum[{equation}]",
    )
    for equation, shapes in EINSUM_CASES
]

DECOMPOSITIONS = [
    OpSpec(
        "linalg_inv",
        lambda lib, a: lib.linalg.inv(_dominant(lib, a)),
        [(Arg((4, 4), **SMALL),), (Arg((2, 3, 3), **SMALL),)],
        ref=lambda a: np.linalg.inv(_np_dominant(a)),
    ),
    OpSpec(
        "linalg_solve",
        lambda lib, a, b: lib.linalg.solve(_dominant(lib, a), b),
        [
            (Arg((3, 3), **SMALL), Arg((3, 2))),
            (Arg((3, 3), **SMALL), Arg((3,))),  # vector right-hand side
            (Arg((2, 3, 3), **SMALL), Arg((3, 2))),  # B broadcast over A's batch
            (Arg((2, 3, 3), **SMALL), Arg((2, 3))),  # batch of vectors
            (Arg((3, 3), **SMALL), Arg((2, 4, 3, 1))),  # A broadcast over B's batch
        ],
        ref=lambda a, b: (
            np.linalg.solve(_np_dominant(a), b[..., None])[..., 0]
            if b.ndim == a.ndim - 1 and b.shape == a.shape[:-1] or b.ndim == 1
            else np.linalg.solve(_np_dominant(a), b)
        ),
    ),
    OpSpec(
        "linalg_solve",
        lambda lib, a, b: lib.linalg.solve(_dominant(lib, a), b, left=False),
        [(Arg((3, 3), **SMALL), Arg((2, 3)))],
        ref=lambda a, b: _np_t(np.linalg.solve(_np_t(_np_dominant(a)), _np_t(b))),
        name="solve_right",
    ),
    OpSpec(
        "linalg_det",
        lambda lib, a: lib.linalg.det(a),
        [(Arg((3, 3)),), (Arg((2, 4, 4)),)],
        ref=np.linalg.det,
    ),
    OpSpec(
        "linalg_slogdet",
        lambda lib, a: tuple(lib.linalg.slogdet(a)),
        [(Arg((3, 3)),), (Arg((3, 4, 4)),)],
        ref=lambda a: tuple(np.linalg.slogdet(a)),
    ),
    OpSpec(
        "linalg_cholesky",
        lambda lib, a: lib.linalg.cholesky(_spd(lib, a)),
        [(Arg((4, 4)),), (Arg((2, 3, 3)),)],
        ref=lambda a: np.linalg.cholesky(_np_spd(a)),
    ),
    OpSpec(
        "linalg_cholesky",
        lambda lib, a: lib.linalg.cholesky(_spd(lib, a), upper=True),
        [(Arg((3, 3)),)],
        ref=lambda a: _np_t(np.linalg.cholesky(_np_spd(a))),
        name="cholesky_upper",
    ),
    OpSpec(
        "linalg_qr",
        lambda lib, a: tuple(lib.linalg.qr(a)),
        [(Arg((4, 4)),), (Arg((2, 5, 3)),), (Arg((3, 5)),)],
        ref=lambda a: tuple(np.linalg.qr(a)),
    ),
    OpSpec(
        "linalg_qr",
        lambda lib, a: tuple(lib.linalg.qr(a, mode="complete")),
        [(Arg((3, 3)),)],
        ref=lambda a: tuple(np.linalg.qr(a, mode="complete")),
        name="qr_complete",
    ),
    OpSpec(
        "linalg_qr",
        lambda lib, a: tuple(lib.linalg.qr(a, mode="complete")),
        [(Arg((5, 3)),)],
        ref=lambda a: tuple(np.linalg.qr(a, mode="complete")),
        grad=False,
        name="qr_complete_tall",
    ),
    OpSpec(
        "linalg_qr",
        lambda lib, a: lib.linalg.qr(a, mode="r")[1],
        [(Arg((2, 4, 3)),)],
        ref=lambda a: np.linalg.qr(a, mode="r"),
        grad=False,
        name="qr_r",
    ),
    OpSpec(
        "linalg_svd",
        _svd_invariants,
        [(Arg((4, 4)),), (Arg((2, 5, 3)),), (Arg((3, 5)),)],
        ref=_np_svd_invariants,
    ),
    OpSpec(
        "linalg_svd",
        lambda lib, a: (lambda U, S, Vh: (S, U[..., :3] * U[..., :3], Vh * Vh))(
            *lib.linalg.svd(a, full_matrices=True)
        ),
        [(Arg((5, 3)),)],
        ref=lambda a: (lambda U, S, Vh: (S, U[..., :3] * U[..., :3], Vh * Vh))(
            *np.linalg.svd(a, full_matrices=True)
        ),
        name="svd_full_matrices",
    ),
    OpSpec(
        "linalg_svdvals",
        lambda lib, a: lib.linalg.svdvals(a),
        [(Arg((4, 3)),), (Arg((2, 3, 5)),)],
        ref=lambda a: np.linalg.svd(a, compute_uv=False),
    ),
    OpSpec(
        "linalg_eigh",
        _eigh_invariants,
        [(Arg((4, 4)),), (Arg((2, 3, 3)),)],
        ref=_np_eigh_invariants,
    ),
    OpSpec(
        "linalg_eigh",
        lambda lib, a: _eigh_invariants(lib, a, UPLO="U"),
        [(Arg((3, 3)),)],
        ref=_np_eigh_invariants,
        name="eigh_upper",
    ),
    OpSpec(
        "linalg_eigvalsh",
        lambda lib, a: lib.linalg.eigvalsh(_symmetric(lib, a)),
        [(Arg((4, 4)),), (Arg((2, 3, 3)),)],
        ref=lambda a: np.linalg.eigvalsh(a + _np_t(a)),
    ),
    # Only one triangle is read: a non-symmetric input shows which (forward only, since the
    # gradient is defined for symmetric inputs).
    OpSpec(
        "linalg_eigvalsh",
        lambda lib, a: lib.linalg.eigvalsh(a, UPLO="U"),
        [(Arg((4, 4)),)],
        ref=lambda a: np.linalg.eigvalsh(a, UPLO="U"),
        grad=False,
        name="eigvalsh_uplo",
    ),
]


def _matrix_norm_ref(order):
    def ref(a):
        return np.linalg.norm(a, order, axis=(-2, -1))

    return ref


NAMESPACE = (
    [
        OpSpec(
            "linalg_svdvals",
            lambda lib, a, order=order: lib.linalg.matrix_norm(a, order),
            [(Arg((2, 4, 3)),)],
            ref=_matrix_norm_ref(order),
            name=f"matrix_norm[{order}]",
        )
        for order in ("nuc", 2, -2)
    ]
    + [
        OpSpec(
            "amax",
            lambda lib, a, order=order: lib.linalg.matrix_norm(a, order),
            [(Arg((2, 4, 3)),)],
            ref=_matrix_norm_ref(order),
            name=f"matrix_norm[{order}]",
        )
        for order in ("fro", 1, -1, INF, -INF)
    ]
    + [
        OpSpec(
            "linalg_svdvals",
            lambda lib, a: lib.linalg.matrix_norm(a, "nuc", dim=(0, 2), keepdim=True),
            [(Arg((3, 2, 4)),)],
            ref=lambda a: np.linalg.norm(a, "nuc", axis=(0, 2), keepdims=True),
            name="matrix_norm_dims",
        ),
        OpSpec(
            "amax",
            lambda lib, a: lib.linalg.matrix_norm(a, 1, dim=(2, 0), keepdim=True),
            [(Arg((3, 2, 4)),)],
            ref=lambda a: np.linalg.norm(a, 1, axis=(2, 0), keepdims=True),
            name="matrix_norm_1_dims",
        ),
    ]
    + [
        OpSpec(
            "sum",
            lambda lib, a, order=order: lib.linalg.vector_norm(a, order, dim=-1),
            [(Arg((3, 4)),)],
            ref=lambda a, order=order: np.linalg.norm(a, order, axis=-1),
            name=f"vector_norm[{order}]",
        )
        for order in (2, 1, 3, 0.5, INF, -INF)
    ]
    + [
        OpSpec(
            "sum",
            lambda lib, a: lib.linalg.vector_norm(a.double(), 0, dim=(0, 2), keepdim=True),
            [(Arg((3, 2, 4), kind="int"),)],
            dtypes=("float64",),
            grad=False,
            ref=lambda a: np.count_nonzero(a, axis=(0, 2), keepdims=True).astype(np.float64),
            name="vector_norm[0]",
        ),
        OpSpec(
            "sum",
            lambda lib, a: lib.linalg.vector_norm(a),
            [(Arg((2, 3, 4)),)],
            ref=lambda a: np.sqrt((a * a).sum()),
            name="vector_norm_all",
        ),
        OpSpec(
            "sum",
            lambda lib, a: lib.linalg.norm(a),
            [(Arg((2, 3, 4)),)],
            ref=lambda a: np.sqrt((a * a).sum()),
            name="norm_default",
        ),
        OpSpec(
            "sum",
            lambda lib, a: lib.linalg.norm(a, 3),
            [(Arg((5,)),)],
            ref=lambda a: np.linalg.norm(a, 3),
            name="norm_vector",
        ),
        OpSpec(
            "linalg_svdvals",
            lambda lib, a: lib.linalg.norm(a, 2),
            [(Arg((4, 3)),)],
            ref=lambda a: np.linalg.norm(a, 2),
            name="norm_matrix",
        ),
        OpSpec(
            "amax",
            lambda lib, a: lib.linalg.norm(a, INF, dim=(1, 2)),
            [(Arg((2, 3, 4)),)],
            ref=lambda a: np.linalg.norm(a, INF, axis=(1, 2)),
            name="norm_dims",
        ),
        OpSpec(
            "linalg_svd",
            lambda lib, a: lib.linalg.pinv(a),
            [(Arg((5, 3)),), (Arg((2, 3, 4)),)],
            ref=np.linalg.pinv,
            name="pinv",
        ),
        OpSpec(
            "linalg_eigh",
            lambda lib, a: lib.linalg.pinv(_symmetric(lib, a), hermitian=True),
            [(Arg((4, 4)),)],
            ref=lambda a: np.linalg.pinv(a + _np_t(a), hermitian=True),
            name="pinv_hermitian",
        ),
        OpSpec(
            "linalg_svd",
            lambda lib, a, b: lib.linalg.pinv(a @ b, rtol=1e-4),
            [(Arg((4, 2)), Arg((2, 3)))],
            ref=lambda a, b: np.linalg.pinv(a @ b, rtol=1e-4),
            grad=False,
            name="pinv_rank_deficient",
        ),
    ]
    + [
        OpSpec(
            "matmul",
            lambda lib, a, n=n: lib.linalg.matrix_power(a, n),
            [(Arg((3, 3), **SMALL),), (Arg((2, 3, 3), **SMALL),)],
            ref=lambda a, n=n: np.linalg.matrix_power(a, n),
            name=f"matrix_power[{n}]",
        )
        for n in (1, 2, 5)
    ]
    + [
        OpSpec(
            "linalg_inv",
            lambda lib, a: lib.linalg.matrix_power(_dominant(lib, a), -2),
            [(Arg((3, 3), **SMALL),)],
            ref=lambda a: np.linalg.matrix_power(_np_dominant(a), -2),
            name="matrix_power[-2]",
        ),
        OpSpec(
            "matmul",
            lambda lib, a: lib.linalg.matrix_power(a, 0),
            [(Arg((2, 3, 3)),)],
            ref=lambda a: np.linalg.matrix_power(a, 0),
            grad=False,
            name="matrix_power[0]",
        ),
        OpSpec(
            "linalg_svdvals",
            lambda lib, a, b: lib.linalg.matrix_rank(a @ b),
            [(Arg((5, 2)), Arg((2, 4))), (Arg((3, 4, 4)), Arg((3, 4, 4)))],
            grad=False,
            ref=lambda a, b: np.linalg.matrix_rank(a @ b),
            name="matrix_rank",
        ),
        OpSpec(
            "linalg_eigvalsh",
            lambda lib, a: lib.linalg.matrix_rank(a @ a.mT, hermitian=True),
            [(Arg((4, 2)),)],
            grad=False,
            ref=lambda a: np.linalg.matrix_rank(a @ a.T, hermitian=True),
            name="matrix_rank_hermitian",
        ),
        OpSpec(
            "matmul",
            lambda lib, a, b, c, d: lib.linalg.multi_dot([a, b, c, d]),
            [
                (Arg((3, 4)), Arg((4, 5)), Arg((5, 2)), Arg((2, 3))),
                (Arg((4,)), Arg((4, 5)), Arg((5, 2)), Arg((2,))),  # vectors first and last
            ],
            ref=lambda *arrays: np.linalg.multi_dot(arrays),
            name="multi_dot",
        ),
        OpSpec(
            "mul",
            lambda lib, a, b: lib.linalg.cross(a, b),
            [(Arg((4, 3)), Arg((4, 3))), (Arg((2, 1, 3)), Arg((1, 5, 3)))],
            ref=lambda a, b: np.cross(a, b),
            name="cross",
        ),
        OpSpec(
            "mul",
            lambda lib, a, b: lib.linalg.cross(a, b, dim=0),
            [(Arg((3, 4)), Arg((3, 4)))],
            ref=lambda a, b: np.cross(a, b, axis=0),
            name="cross_dim",
        ),
        OpSpec(
            "mul",
            lambda lib, a, b: lib.linalg.vecdot(a, b),
            [(Arg((3, 4)), Arg((4,))), (Arg((2, 3, 4)), Arg((2, 3, 4)))],
            ref=lambda a, b: (a * b).sum(-1),
            name="vecdot",
        ),
        OpSpec(
            "mul",
            lambda lib, a, b: lib.linalg.vecdot(a, b, dim=0),
            [(Arg((3, 4)), Arg((3, 1)))],
            ref=lambda a, b: (a * b).sum(0),
            name="vecdot_dim",
        ),
        OpSpec(
            "linalg_svd",
            lambda lib, a, b: lib.linalg.lstsq(a, b).solution,
            [(Arg((5, 3)), Arg((5, 2))), (Arg((2, 6, 3)), Arg((2, 6, 1)))],
            ref=lambda a, b: np.linalg.pinv(a) @ b,
            name="lstsq",
        ),
        OpSpec(
            "linalg_svd",
            lambda lib, a, b: lib.linalg.lstsq(a, b, driver="gelsd")[:2],
            [(Arg((5, 3)), Arg((5, 2)))],
            ref=lambda a, b: (np.linalg.pinv(a) @ b, np.linalg.lstsq(a, b)[1]),
            name="lstsq_residuals",
        ),
        OpSpec(
            "linalg_solve",
            lambda lib, a, b: lib.linalg.solve_triangular(_dominant(lib, a), b, upper=True),
            [(Arg((3, 3), **SMALL), Arg((3, 2)))],
            ref=lambda a, b: np.linalg.solve(np.triu(_np_dominant(a)), b),
            name="solve_triangular",
        ),
        OpSpec(
            "linalg_solve",
            lambda lib, a, b: lib.linalg.solve_triangular(
                a, b, upper=False, left=False, unitriangular=True
            ),
            [(Arg((2, 3, 3), **SMALL), Arg((2, 4, 3)))],
            ref=lambda a, b: _np_t(np.linalg.solve(_np_t(np.tril(a, -1) + np.eye(3)), _np_t(b))),
            name="solve_triangular_unit",
        ),
        OpSpec(
            "linalg_svdvals",
            lambda lib, a: lib.linalg.cond(_dominant(lib, a)),
            [(Arg((3, 3), **SMALL),)],
            ref=lambda a: np.linalg.cond(_np_dominant(a)),
            name="cond",
        ),
        OpSpec(
            "diagonal",
            lambda lib, a: lib.linalg.diagonal(a, offset=1),
            [(Arg((2, 3, 4)),)],
            ref=lambda a: np.diagonal(a, 1, -2, -1),
            name="linalg.diagonal",
        ),
        OpSpec(
            "matmul",
            lambda lib, a, b: lib.linalg.matmul(a, b),
            [(Arg((2, 3, 4)), Arg((4,)))],
            ref=np.matmul,
            name="linalg.matmul",
        ),
        OpSpec(
            "linalg_inv",
            lambda lib, a: tuple(lib.linalg.inv_ex(_dominant(lib, a))),
            [(Arg((2, 3, 3), **SMALL),)],
            ref=lambda a: (np.linalg.inv(_np_dominant(a)), np.zeros(2, np.int32)),
            name="inv_ex",
        ),
        OpSpec(
            "linalg_cholesky",
            lambda lib, a: tuple(lib.linalg.cholesky_ex(_spd(lib, a))),
            [(Arg((3, 3)),)],
            ref=lambda a: (np.linalg.cholesky(_np_spd(a)), np.zeros((), np.int32)),
            name="cholesky_ex",
        ),
    ]
)

# The top-level torch spellings (qilin.inverse, qilin.svd returning V, ...) and Tensor methods.
TOP_LEVEL = [
    OpSpec(
        "linalg_inv",
        lambda lib, a: lib.inverse(_dominant(lib, a)),
        [(Arg((3, 3), **SMALL),)],
        ref=lambda a: np.linalg.inv(_np_dominant(a)),
        name="inverse",
    ),
    OpSpec(
        "linalg_inv",
        lambda lib, a: _dominant(lib, a).inverse(),
        [(Arg((3, 3), **SMALL),)],
        ref=lambda a: np.linalg.inv(_np_dominant(a)),
        name="Tensor.inverse",
    ),
    OpSpec(
        "linalg_det",
        lambda lib, a: a.det(),
        [(Arg((2, 3, 3)),)],
        ref=np.linalg.det,
        name="Tensor.det",
    ),
    OpSpec(
        "linalg_slogdet",
        lambda lib, a: tuple(lib.slogdet(a)),
        [(Arg((3, 3)),)],
        ref=lambda a: tuple(np.linalg.slogdet(a)),
        name="slogdet",
    ),
    OpSpec(
        "linalg_slogdet",
        lambda lib, a: lib.logdet(_dominant(lib, a)),
        [(Arg((4, 3, 3), **SMALL),)],
        ref=lambda a: np.log(np.linalg.det(_np_dominant(a))),
        name="logdet",
    ),
    OpSpec(
        "linalg_slogdet",
        lambda lib, a: lib.logdet(a),
        [(Arg((4, 3, 3)),)],
        grad=False,
        ref=lambda a: np.log(np.linalg.det(a)),
        name="logdet_negative_is_nan",
    ),
    OpSpec(
        "linalg_cholesky",
        lambda lib, a: lib.cholesky(_spd(lib, a), upper=True),
        [(Arg((3, 3)),)],
        ref=lambda a: _np_t(np.linalg.cholesky(_np_spd(a))),
        name="cholesky",
    ),
    OpSpec(
        "linalg_solve",
        lambda lib, a, b: lib.cholesky_solve(b, lib.linalg.cholesky(_spd(lib, a))),
        [(Arg((3, 3)), Arg((3, 2)))],
        ref=lambda a, b: np.linalg.solve(_np_spd(a), b),
        name="cholesky_solve",
    ),
    OpSpec(
        "linalg_inv",
        lambda lib, a: lib.cholesky_inverse(lib.linalg.cholesky(_spd(lib, a)).mT, upper=True),
        [(Arg((3, 3)),)],
        ref=lambda a: np.linalg.inv(_np_spd(a)),
        name="cholesky_inverse",
    ),
    OpSpec(
        "linalg_qr",
        lambda lib, a: tuple(a.qr()),
        [(Arg((4, 3)),)],
        ref=lambda a: tuple(np.linalg.qr(a)),
        name="Tensor.qr",
    ),
    OpSpec(
        "linalg_svd",
        lambda lib, a: (lambda U, S, V: (S, U * U, V * V, U @ V.mT))(*lib.svd(a)),
        [(Arg((5, 3)),), (Arg((3, 4)),)],
        ref=lambda a: (lambda S, UU, VhVh, UVh: (S, UU, _np_t(VhVh), UVh))(*_np_svd_invariants(a)),
        name="svd",
    ),
    OpSpec(
        "linalg_svdvals",
        lambda lib, a: tuple(lib.svd(a, compute_uv=False)),
        [(Arg((4, 3)),)],
        grad=False,
        ref=lambda a: (np.zeros((4, 4)), np.linalg.svd(a, compute_uv=False), np.zeros((3, 3))),
        name="svd_no_uv",
    ),
    OpSpec(
        "linalg_svd",
        lambda lib, a: lib.pinverse(a),
        [(Arg((4, 3)),)],
        ref=np.linalg.pinv,
        name="pinverse",
    ),
    OpSpec(
        "matmul",
        lambda lib, a: a.matrix_power(3),
        [(Arg((3, 3), **SMALL),)],
        ref=lambda a: np.linalg.matrix_power(a, 3),
        name="Tensor.matrix_power",
    ),
    OpSpec(
        "mul",
        lambda lib, a, b: lib.cross(a, b),
        [(Arg((2, 3, 4)), Arg((2, 3, 4)))],
        ref=lambda a, b: np.cross(a, b, axis=1),
        name="cross_first_dim_of_size_3",
    ),
]

SPECS = PRODUCTS + EINSUM + DECOMPOSITIONS + NAMESPACE + TOP_LEVEL

make_tests(SPECS, globals())


# ----- errors --------------------------------------------------------------------------------
def _message(lib, call, *arrays):
    with pytest.raises(RuntimeError) as info:
        call(lib, *(lib.tensor(a) for a in arrays))
    return str(info.value)


_TORCH_NAMES = {"Float": "float32", "Double": "float64", "Long": "int64", "Half": "float16"}


def _same_error(call, *arrays):
    """qilin raises a RuntimeError whose message contains torch's (in qilin's dtype names)."""
    ours = _message(qilin, call, *arrays)
    if torch is not None:
        expected = _message(torch, call, *arrays).removeprefix("torch.")
        for name, ours_name in _TORCH_NAMES.items():
            expected = expected.replace(f"type {name} ", f"type {ours_name} ").replace(
                f"Got {name}", f"Got {ours_name}"
            )
        assert expected in ours, f"torch says {expected!r}; qilin says {ours!r}"
    return ours


def test_matmul_inner_sizes_differ():
    message = _message(qilin, lambda lib, a, b: lib.matmul(a, b), np.ones((3, 4)), np.ones((5, 6)))
    assert "(3, 4)" in message and "(5, 6)" in message
    assert "the inner sizes 4 and 5 differ" in message


def test_matmul_batched_and_vector_mismatch():
    message = _message(qilin, lambda lib, a, b: a @ b, np.ones((2, 3, 4)), np.ones((2, 5, 6)))
    assert "the inner sizes 4 and 5 differ" in message
    message = _message(qilin, lambda lib, a, b: a @ b, np.ones(3), np.ones(4))
    assert "3" in message and "4" in message
    message = _message(qilin, lambda lib, a, b: a @ b, np.ones((2, 3, 4)), np.ones((3, 4, 2)))
    assert "(2, 3, 4)" in message and "(3, 4, 2)" in message


def test_matmul_dtype_mismatch():
    message = _message(
        qilin,
        lambda lib, a, b: a @ b.double(),
        np.ones((2, 3), np.float32),
        np.ones((3, 2), np.float32),
    )
    assert "same dtype" in message and "float32" in message and "float64" in message


def test_mm_bmm_mv_rank_errors():
    assert "2D" in _message(
        qilin, lambda lib, a, b: lib.mm(a, b), np.ones((2, 3, 4)), np.ones((4, 2))
    )
    assert "3D" in _message(
        qilin, lambda lib, a, b: lib.bmm(a, b), np.ones((3, 4)), np.ones((4, 2))
    )
    assert "1D" in _message(qilin, lambda lib, a, b: lib.mv(a, b), np.ones((3, 4)), np.ones((4, 1)))


@pytest.mark.parametrize("function", ["inv", "det", "slogdet", "cholesky", "eigh", "eigvalsh"])
def test_square_matrices_required(function):
    call = lambda lib, a: getattr(lib.linalg, function)(a)  # noqa: E731
    # torch names linalg.eigh in eigvalsh's message; qilin names the function called.
    message = (
        _same_error(call, np.ones((3, 4)))
        if function != "eigvalsh"
        else _message(qilin, call, np.ones((3, 4)))
    )
    assert (
        f"linalg.{function}: A must be batches of square matrices, but they are 3 by 4 "
        "matrices" in message
    )


def test_matrix_power_square_required():
    _same_error(lambda lib, a: lib.linalg.matrix_power(a, 2), np.ones((3, 4)))


@pytest.mark.parametrize("function", ["inv", "svd", "qr", "svdvals"])
def test_integer_input_rejected(function):
    message = _message(
        qilin, lambda lib, a: getattr(lib.linalg, function)(a), np.ones((3, 3), np.int64)
    )
    assert "Expected a floating point" in message and "int64" in message


def test_vector_input_rejected():
    _same_error(lambda lib, a: lib.linalg.svd(a), np.ones(3))


def test_singular_inverse_and_solve():
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(qilin.linalg.LinAlgError, match="linalg.inv: .*singular"):
        qilin.linalg.inv(qilin.tensor(singular))
    batch = np.stack([np.eye(2), singular])
    with pytest.raises(RuntimeError, match=r"linalg.inv: \(Batch element 1\): .*singular"):
        qilin.linalg.inv(qilin.tensor(batch))
    _same_error(lambda lib, a, b: lib.linalg.solve(a, b), singular, np.ones(2))


def test_cholesky_not_positive_definite():
    _same_error(lambda lib, a: lib.linalg.cholesky(a), -np.eye(3))
    matrix = np.diag([1.0, 2.0, -1.0])
    message = _same_error(lambda lib, a: lib.linalg.cholesky(a), np.stack([np.eye(3), matrix]))
    assert "(Batch element 1)" in message and "order 3" in message


def test_solve_errors():
    _same_error(lambda lib, a, b: lib.linalg.solve(a, b), np.eye(3), np.ones(4))
    _same_error(lambda lib, a, b: lib.linalg.solve(a, b), np.eye(3), np.ones((4, 2)))
    _same_error(
        lambda lib, a, b: lib.linalg.solve(a, b.double()),
        np.eye(3, dtype=np.float32),
        np.ones((3, 2), np.float32),
    )


def test_ex_variants_report_instead_of_raising():
    matrices = qilin.tensor(np.stack([np.eye(2), np.zeros((2, 2))]))
    inverse, info = qilin.linalg.inv_ex(matrices)
    assert info.tolist()[0] == 0 and info.tolist()[1] > 0
    np.testing.assert_array_equal(inverse[0].numpy(), np.eye(2))
    assert np.isnan(inverse[1].numpy()).all()
    with pytest.raises(qilin.linalg.LinAlgError):
        qilin.linalg.inv_ex(matrices, check_errors=True)
    factor, info = qilin.linalg.cholesky_ex(qilin.tensor(np.diag([1.0, -1.0])))
    assert info.item() == 2 and np.isnan(factor.numpy()).all()


def test_qr_gradient_errors():
    a = qilin.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match="mode='r'"):
        qilin.linalg.qr(a, mode="r")[1].sum().backward()
    with pytest.raises(RuntimeError, match="mode='complete' and nrows > ncols"):
        qilin.linalg.qr(a, mode="complete")[0].sum().backward()


def test_norm_errors():
    _same_error(lambda lib, a: lib.linalg.norm(a, 2), np.ones((2, 3, 4)))
    message = _message(qilin, lambda lib, a: lib.linalg.matrix_norm(a, 3), np.ones((3, 3)))
    assert "Order 3 not supported" in message
    _same_error(lambda lib, a: lib.linalg.vector_norm(a), np.ones(3, np.int64))
    _same_error(lambda lib, a: lib.linalg.matrix_norm(a), np.ones(3))


def test_multi_dot_and_cross_errors():
    _same_error(lambda lib, a: lib.linalg.multi_dot([a]), np.ones((2, 2)))
    message = _message(
        qilin,
        lambda lib, a, b, c: lib.linalg.multi_dot([a, b, c]),
        np.ones((2, 3)),
        np.ones((3, 4)),
        np.ones((5, 2)),
    )
    assert "(3, 4)" in message and "(5, 2)" in message
    _same_error(lambda lib, a, b: lib.linalg.cross(a, b), np.ones((2, 4)), np.ones((2, 4)))


def test_matrix_rank_and_lstsq_extras_match_torch():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    ours = qilin.linalg.lstsq(qilin.tensor(a), qilin.tensor(b), driver="gelsd")
    assert ours.rank.item() == 3
    np.testing.assert_allclose(ours.singular_values.numpy(), np.linalg.svd(a, compute_uv=False))
    default = qilin.linalg.lstsq(qilin.tensor(a), qilin.tensor(b))
    assert tuple(default.residuals.shape) == (0,) and tuple(default.singular_values.shape) == (0,)


@pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
@pytest.mark.parametrize(
    "function",
    [
        lambda lib, a: lib.linalg.cholesky(a),
        lambda lib, a: tuple(lib.linalg.eigh(a))[0],
        lambda lib, a: lib.linalg.eigvalsh(a, UPLO="U"),
    ],
    ids=["cholesky", "eigh", "eigvalsh"],
)
def test_gradient_with_respect_to_the_symmetric_matrix_itself(function):
    """These read one triangle; like torch, the gradient is the symmetric one (which the specs
    above cannot see, since their inputs pass through a @ a.T or a + a.T first)."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((4, 4))
    a = a @ a.T + 4 * np.eye(4)
    cotangent = rng.standard_normal((4, 4))
    grads = []
    for lib in (qilin, torch):
        leaf = lib.tensor(a, requires_grad=True)
        out = function(lib, leaf)
        weights = lib.tensor(cotangent if out.ndim == 2 else cotangent[0])
        (grad,) = lib.autograd.grad((out * weights).sum(), [leaf])
        grads.append(grad.detach().numpy())
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-10, rtol=1e-8)


@pytest.mark.skipif(torch is None, reason="torch is the parity oracle")
@pytest.mark.parametrize(
    "function, shapes",
    [
        (lambda lib, c, a, b: lib.addmm(c, a, b, beta=0), [(3,), (2, 4), (4, 3)]),
        (lambda lib, c, a, b: lib.addmv(c, a, b, beta=0), [(2,), (2, 4), (4,)]),
        (lambda lib, c, a, b: lib.baddbmm(c, a, b, beta=0), [(1, 3), (2, 2, 4), (2, 4, 3)]),
        (lambda lib, c, a, b: lib.addbmm(c, a, b, beta=0), [(2, 3), (2, 2, 4), (2, 4, 3)]),
    ],
    ids=["addmm", "addmv", "baddbmm", "addbmm"],
)
def test_beta_zero_ignores_nan_and_inf_in_input(function, shapes):
    """torch does not read `input` when beta is 0, yet still gives it a (zero) gradient."""
    rng = np.random.default_rng(3)
    c = np.full(shapes[0], np.nan)
    c.flat[0] = np.inf
    a, b = rng.standard_normal(shapes[1]), rng.standard_normal(shapes[2])
    results = []
    for lib in (qilin, torch):
        leaves = [lib.tensor(x, requires_grad=True) for x in (c, a, b)]
        out = function(lib, *leaves)
        grads = lib.autograd.grad(out.sum(), leaves)
        results.append([out.detach().numpy()] + [g.numpy() for g in grads])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
